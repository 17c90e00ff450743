"""Logging for cron and terminals: text or JSON lines on stderr, secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
import time


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def _redaction_filter() -> logging.Filter | None:
    try:
        from dihub.http.redact import RedactingFilter
    except ImportError:
        return None
    return RedactingFilter()


def setup(verbosity: int = 0, quiet: bool = False, fmt: str = "text") -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
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
