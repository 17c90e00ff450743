"""The bookshelf API the example plugin reads: a threaded local HTTP server with a
token check, page-numbered paging, seeded random faults (`Faults(rate=...)`) and
`kill_at(n, pid)`, like the other simulators in tests/simulators."""

from __future__ import annotations

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.simulators.common.faults import Faults

PAGE_SIZE = 10


def books(n: int) -> list[dict]:
    return [{"id": i, "title": f"Book {i}", "author": f"Author {i % 7}", "year": 1950 + i % 70,
             "updated": f"2024-01-{1 + i % 28:02d}T00:00:00Z"} for i in range(1, n + 1)]


class BookshelfSimulator:
    def __init__(self, count: int = 45, token: str = "bookshelf-token-0123456789"):
        self.books = books(count)
        self.token = token
        self.faults: Faults | None = None
        self.requests = 0
        self._kill: tuple[int, int] | None = None
        self._lock = threading.Lock()
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                sim.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def set_faults(self, rate: float) -> None:
        self.faults = Faults(rate=rate, kinds=("500", "502"), seed=3) if rate else None

    def kill_at(self, n: int, pid: int) -> None:
        """SIGKILL `pid` when the n-th request from now arrives (left unanswered)."""
        with self._lock:
            self._kill = (n, pid)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
            kill = self._kill
            if kill is not None:
                self._kill = (kill[0] - 1, kill[1]) if kill[0] > 1 else None
        if kill is not None and kill[0] <= 1:
            try:
                os.kill(kill[1], signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        url = urlsplit(h.path)
        fault = self.faults.decide("GET", url.path, h.path) if self.faults else None
        if fault:
            return self._reply(h, int(fault), {"error": "injected"})
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(h, 401, {"error": "bad token"})
        if url.path != "/books":
            return self._reply(h, 404, {"error": "not found"})
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        chunk = self.books[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        more = page * PAGE_SIZE < len(self.books)
        self._reply(h, 200, {"books": chunk, "next": page + 1 if more else None})

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
