"""Logging for cron and terminals: text or JSON lines on stderr, secrets redacted.

With `--log-format json` every line dihub writes to stderr is one JSON object: log
records, errors and their hints, warnings, the run summary, "interrupted", the next
`--cursor` of `fetch`, library warnings and command-line usage errors. Every object
has `ts` (UTC, ISO 8601), `level` (debug, info, warning, error), `event` and
`message`; log records add `logger`, errors add `hint` and `exit_code`, and the
summary adds its counts. Code that writes to stderr outside `logging` calls `emit`,
which writes JSON in that mode and returns False otherwise (the caller then prints
its usual text).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_format = "text"


def json_enabled() -> bool:
    """True when `--log-format json` is in effect."""
    return _format == "json"


def _ts(created: float) -> str:
    ms = int((created % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{ms:03d}Z"


def _redact(value: Any) -> Any:
    try:
        from dihub.redact import redact_value
    except ImportError:
        return value
    return redact_value(value)


def _dumps(doc: dict[str, Any]) -> str:
    # One line whatever the message holds: json.dumps escapes newlines.
    return json.dumps(doc, ensure_ascii=False, default=str)


def json_line(level: str, event: str, message: str, **fields: Any) -> str:
    """The JSON line for one event, secrets redacted; fields that are None are left out."""
    doc: dict[str, Any] = {"ts": _ts(time.time()), "level": level, "event": event,
                           "message": message}
    doc.update({k: v for k, v in fields.items() if v is not None})
    return _dumps(_redact(doc))


def emit(level: str, event: str, message: str, **fields: Any) -> bool:
    """In JSON mode, write one event as a JSON line on stderr and return True; otherwise
    write nothing and return False."""
    if not json_enabled():
        return False
    stream = sys.stderr
    stream.write(json_line(level, event, message, **fields) + "\n")
    stream.flush()
    return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _ts(record.created),
            "level": record.levelname.lower(),
            "event": "log",
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)     # logger.info(..., extra={"fields": {}})
        if isinstance(extra, dict):
            doc.update({k: v for k, v in _redact(extra).items() if k not in doc})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return _dumps(doc)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, like `emit` does."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _redaction_filter() -> logging.Filter | None:
    try:
        from dihub.redact import RedactingFilter
    except ImportError:
        return None
    return RedactingFilter()


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_dihub", False)


def setup(verbosity: int = 0, quiet: bool = False, fmt: str = "text") -> None:
    global _format
    _format = fmt
    level = logging.WARNING if quiet else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = _StderrHandler()
    handler._dihub = True   # type: ignore[attr-defined]
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%Y-%m-%dT%H:%M:%S"))
    flt = _redaction_filter()
    if flt is not None:
        handler.addFilter(flt)
    root = logging.getLogger("dihub")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # httpx logs every request at INFO; show those lines with -vv only.
    http_log = logging.getLogger("httpx")
    http_log.handlers[:] = [handler]
    http_log.propagate = False
    http_log.setLevel(logging.INFO if verbosity > 1 else logging.WARNING)
    # Other libraries' log records and Python warnings reach the root logger; without a
    # handler there Python prints them as bare text. In JSON mode they get ours.
    top = logging.getLogger()
    top.handlers[:] = [h for h in top.handlers if not _ours(h)]
    if fmt == "json":
        top.addHandler(handler)
    logging.captureWarnings(fmt == "json")
