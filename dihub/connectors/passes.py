"""The requests of one stream pass over one partition, as HTTP connectors count them, and
the rule that the first rejected credential of a run stops its source.

A connector's session holds `auth_error` (a `Once`) and calls `stopped()` (raises a copy
of it) before each request; `PassRequests.get` puts the first HttpAuthError of the run
there, so every later request of every stream and partition thread fails at once with
the same message instead of asking the upstream again. `translate(err)` lets a connector
turn another HttpFatalError into the AuthError it really is (e.g. GitLab's 403
`insufficient_scope`); it stops the source the same way. The calls and 304s counted go
to the audit log (`audit_requests`, action "requests").
"""

from __future__ import annotations

import threading
from typing import Any

from dihub.http import HttpAuthError, HttpFatalError, Response, etag_key


def copy_auth_error(err: HttpAuthError) -> HttpAuthError:
    """The same error again (a fresh exception, the same message and hint)."""
    return HttpAuthError(str(err), hint=err.hint, status=err.status, method=err.method,
                         path=err.path)


def stop_source(session: Any, err: HttpAuthError) -> HttpAuthError:
    """Keep `err` as the run's first credential error (unless another came first); returns
    the one to raise: `err` itself when it was first, else a copy of the first."""
    first = session.auth_error.setdefault(err)
    return err if first is err else copy_auth_error(first)


class PassRequests:
    """GETs of one pass through `http` (default: the session's client view)."""

    def __init__(self, session: Any, http: Any = None):
        self.session = session
        self.http = http if http is not None else session.http
        self.calls = 0
        self.not_modified = 0
        self._count = threading.Lock()      # a pass may read several pages at once

    def translate(self, err: HttpFatalError) -> HttpAuthError | None:
        """An HttpAuthError for a fatal error that is really a credential's (None: not)."""
        return None

    def get(self, url: str, params: Any = None, etag: str | None = None) -> Response:
        self.session.stopped()
        with self._count:
            self.calls += 1
        try:
            resp = self.http.get(url, params=params, etag=etag)
        except HttpAuthError as err:
            raise stop_source(self.session, err) from None
        except HttpFatalError as err:
            auth = self.translate(err)
            if auth is None:
                raise
            raise stop_source(self.session, auth) from None
        if resp.not_modified:
            with self._count:
                self.not_modified += 1
        return resp

    def key(self, url: str, params: Any = None) -> str:
        """The key the ETag of this request is kept under (SyncState.etags)."""
        return etag_key(self.http.absolute_url(url), params)

    def audit_requests(self, stream: str, entity: str, partition: str) -> None:
        if not self.calls:
            return
        self.session.audit_event(
            entity=entity, stream=stream, partition=partition, action="requests",
            outcome="ok", detail={"calls": self.calls, "not_modified": self.not_modified})
