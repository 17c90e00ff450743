"""Keep secrets out of every string dihub produces (logs, errors, audit, CLI output).

`redact(text)` masks the secret values registered with `register_secret` and
the common token shapes (GitHub, Slack, Atlassian tokens, JWTs, `Authorization:`
and `Bearer` values, credentials in URLs and in `token=` style query values).
`RedactingFilter` applies it to log records; attach it to every log handler.
`safe_path(url)` is what error messages name: the path, never the query string.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import threading
from urllib.parse import urlsplit

MASK = "****"
MIN_SECRET_LEN = 6          # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None

# (pattern, replacement); compiled on the first redaction, not at import (start-up)
_SOURCES: list[tuple[str, str]] = [
    # `Authorization: token abc`, `authorization=Bearer abc`, "Authorization": "Basic abc"
    (r"""(?i)(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|token|basic)\s+)?"""
     r"""[^\s"',;}]+""", r"\1" + MASK),
    # `Bearer <token>` in free text; the value must contain a digit to tell it from prose
    (r"(?i)\b(bearer|token|basic)(\s+)(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{12,}",
     r"\1\2" + MASK),
    (r"\bgh[pousr]_[A-Za-z0-9]{16,}", MASK),
    (r"\bgithub_pat_[A-Za-z0-9_]{20,}", MASK),
    (r"\bxox[abeoprs]-[A-Za-z0-9-]{6,}", MASK),
    (r"\bxapp-[A-Za-z0-9-]{6,}", MASK),
    (r"\bATATT[A-Za-z0-9_=-]{10,}", MASK),                 # Atlassian API token
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", MASK),  # JWT
    # https://user:password@host -> https://****@host
    (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", r"\1" + MASK + "@"),
    # ?access_token=...&client_secret=...
    (r"(?i)\b((?:access_|refresh_|id_|api_|private_)?token|client_secret|"
     r"password|passwd|api_?key|secret|device_code|code)=([^&\s\"']+)",
     r"\1=" + MASK),
]


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern), repl) for pattern, repl in _SOURCES]


def register_secret(value: str | None) -> None:
    """Mask `value` (and its base64 forms used in basic auth) wherever it appears."""
    if not value or len(value) < MIN_SECRET_LEN:
        return
    global _secret_re
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def register_authorization(header_value: str | None) -> None:
    """Register the credential part of an `Authorization` header value."""
    if not header_value:
        return
    scheme, _, cred = header_value.strip().partition(" ")
    cred = cred.strip() or scheme
    register_secret(cred)
    if scheme.lower() == "basic":
        try:
            user_pass = base64.b64decode(cred, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return
        _, _, password = user_pass.partition(":")
        register_secret(password)


def forget_secrets() -> None:
    """Drop every registered secret (tests only)."""
    global _secret_re
    with _lock:
        _secrets.clear()
        _secret_re = None


def redact(text: object) -> str:
    """`text` as a string with every registered secret and token shape masked."""
    if text is None:
        return ""
    s = str(text)
    pattern = _secret_re
    if pattern is not None:
        s = pattern.sub(MASK, s)
    for regex, repl in _patterns():
        s = regex.sub(repl, s)
    return s


def redact_value(value: object) -> object:
    """Redact strings inside a JSON-like value (for audit `detail`)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def safe_path(url: str) -> str:
    """The path of `url`: no scheme, host, credentials, query string or fragment."""
    try:
        path = urlsplit(str(url)).path
    except ValueError:
        path = str(url).split("?", 1)[0]
    return redact(path or "/")


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a RedactingFilter to every handler of `logger` (default: the root logger)."""
    target = logger or logging.getLogger()
    flt = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
