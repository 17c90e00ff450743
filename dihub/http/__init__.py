"""The one place for HTTP policy, shared by every connector.

    from dihub.http import HttpClient, ETagCache, conditional_get

See client.py (HttpClient, Response, make_httpx_client), retry.py (tenacity loop),
governor.py (rate limits), policy.py (a connector's rate-limit policy), paging.py
(paginators), breaker.py (persisted circuit breaker), conditional.py
(ETags), urls.py (request keys), classify.py (what a status means), errors.py;
secrets are redacted by dihub.redact.
"""

from dihub.http.auth import BearerAuth
from dihub.http.breaker import CircuitBreaker, MemoryMetaStore, breaker_key
from dihub.http.client import USER_AGENT, HttpClient, Response, make_httpx_client
from dihub.http.conditional import ETagCache, conditional_get, etag_key
from dihub.http.errors import (
    HttpAuthError,
    HttpErrorInfo,
    HttpFatalError,
    HttpRateLimited,
    HttpRetriableError,
    NotFound,
)
from dihub.http.governor import Governor
from dihub.http.paging import Fetched, JsonCursor, LinkHeader, Offset, PageNumber, paginate
from dihub.http.policy import DEFAULT_POLICY, RateLimitPolicy
from dihub.redact import (
    RedactingFilter,
    install_log_redaction,
    redact,
    register_secret,
    safe_path,
)

__all__ = [
    "DEFAULT_POLICY", "USER_AGENT", "BearerAuth", "CircuitBreaker", "ETagCache", "Fetched",
    "Governor", "JsonCursor", "LinkHeader", "Offset", "PageNumber", "paginate",
    "HttpAuthError", "HttpClient", "HttpErrorInfo", "HttpFatalError", "HttpRateLimited",
    "HttpRetriableError", "MemoryMetaStore", "NotFound", "RateLimitPolicy", "RedactingFilter",
    "Response",
    "breaker_key", "conditional_get", "etag_key", "install_log_redaction",
    "make_httpx_client", "redact", "register_secret", "safe_path",
]
