"""A tiny local HTTP server that records what it is sent: the headers a request carried,
and optionally answers with a redirect elsewhere. Two of them on 127.0.0.1 (different
ports, so different origins and different hosts for dihub) show whether a credential
crosses from one to the other.

    with Recorder() as target, Recorder(redirect_to=target.url) as first:
        ...  # a client whose base_url is first.url
    target.requests      # [(method, path, {header: value})], header names lower-case
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    def __init__(self, *, redirect_to: str | None = None, status: int = 302,
                 body: Any = None, redirects: dict[str, str] | None = None):
        """`redirect_to`: every request is answered `status` to that origin, same path;
        `redirects`: only these paths are, to the given Location (may be relative)."""
        self.redirect_to, self.status, self.body = redirect_to, status, body
        self.redirects = dict(redirects or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                location = recorder.redirects.get(self.path)
                if location is None and recorder.redirect_to is not None:
                    location = recorder.redirect_to.rstrip("/") + self.path
                if location is not None:
                    self.send_response(recorder.status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps(recorder.body if recorder.body is not None else {})
                data = payload.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def authorizations(self) -> list[str | None]:
        return [headers.get("authorization") for _, _, headers in self.requests]
