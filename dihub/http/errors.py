"""HTTP flavours of the dihub error classes: the same exit codes, plus context.

Each carries `status` (None when no response came back), `method` and `path`
(never the query string) so connectors can react, e.g. to a 404 or a 409, without
parsing messages. Catch the dihub.errors base classes where the flavour does
not matter.
"""

from __future__ import annotations

from dihub.errors import AuthError, FatalError, RateLimited, RetriableError


class HttpErrorInfo:
    status: int | None = None
    method: str = ""
    path: str = ""

    def _set(self, status: int | None, method: str, path: str) -> None:
        self.status, self.method, self.path = status, method, path


class HttpRetriableError(RetriableError, HttpErrorInfo):
    """Retries exhausted on 5xx, dropped connections or truncated JSON (exit 75)."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "", attempts: int = 0, hint: str | None = None):
        super().__init__(message, hint=hint)
        self._set(status, method, path)
        self.attempts = attempts


class HttpRateLimited(RateLimited, HttpErrorInfo):
    """The quota is gone for longer than rate_limit.max_wait_s (exit 75)."""

    def __init__(self, message: str, *, reset_at: float | None = None,
                 reason: str | None = None, status: int | None = None, method: str = "",
                 path: str = "", rate_limit_reason: str | None = None,
                 hint: str | None = None):
        super().__init__(message, reset_at=reset_at, hint=hint)
        self._set(status, method, path)
        self.reason = reason
        self.rate_limit_reason = rate_limit_reason     # the RateLimit-Reason header


class HttpAuthError(AuthError, HttpErrorInfo):
    """401, or 403 "Bad credentials": log in again."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self._set(status, method, path)


class HttpFatalError(FatalError, HttpErrorInfo):
    """Any other 4xx (the upstream message is quoted), or a request that cannot be sent."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "", upstream_message: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self._set(status, method, path)
        self.upstream_message = upstream_message


class NotFound(HttpFatalError):
    """404: the resource does not exist or the credentials cannot see it."""
