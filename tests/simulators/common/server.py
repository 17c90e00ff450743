"""A threaded `http.server` on 127.0.0.1 that hands every request to a simulator object.

The simulator (the server's `sim` attribute) provides:

    handle(method, target, headers, raw) -> (Reply | None, Record)   # None = drop the socket
    stats.record(Record)

`SimHandler` renders the Reply (status, headers, JSON/bytes body; a `truncated` fault
cuts the body in half with a matching Content-Length). `SimulatorServer` is the
lifecycle (start/stop, `with`, port, base_url) and the scripted-response list.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"           # keep-alive, like the real APIs
    server_version = "Simulator"
    sys_version = ""
    timeout = 30                            # idle keep-alive connections end
    disable_nagle_algorithm = True          # headers and body go out without a 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:   # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        sim = self.server.sim                           # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply, rec = sim.handle(method, self.path, headers, raw)
        sim.stats.record(rec)                 # before replying: a client never outruns it
        if reply is None:                     # "drop": close without a response
            self.close_connection = True
            return
        body = body_bytes(reply)
        if reply.fault == "truncated":
            body = body[: max(1, len(body) // 2)]
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 304:
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(body)))
        self.end_headers()
        if method != "HEAD" and reply.status != 304:
            self.wfile.write(body)


def body_bytes(reply: Any) -> bytes:
    if reply.body is None:
        return b""
    if isinstance(reply.body, bytes):
        return reply.body
    if isinstance(reply.body, str):
        return reply.body.encode()
    return json.dumps(reply.body, separators=(",", ":")).encode()


class SimulatorServer:
    """Lifecycle and scripts for a simulator; subclasses implement `handle` and `stats`."""

    handler: type[SimHandler] = SimHandler
    thread_name = "simulator"

    def __init__(self, port: int = 0):
        self.scripts: list[Any] = []          # tests.simulators.github.faults.Script
        self._scripts_lock = threading.Lock()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self):
        httpd = ThreadingHTTPServer((HOST, self._port), self.handler)
        httpd.daemon_threads = True
        httpd.sim = self                                    # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name=self.thread_name,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running (use `with` or start())")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def script(self, path_regex: str, responses: list[str | dict[str, Any]],
               method: str | None = None):
        """Force the next responses for requests whose path+query matches `path_regex`
        (fault kinds, "pass", or dicts {status, body, headers}); earlier scripts win."""
        from tests.simulators.github.faults import Script  # not at import: github imports us

        item = Script(path_regex, responses, method)
        with self._scripts_lock:
            self.scripts.append(item)
        return item

    def clear_scripts(self) -> None:
        with self._scripts_lock:
            self.scripts.clear()

    def scripted(self, method: str, target: str) -> str | dict[str, Any] | None:
        with self._scripts_lock:
            for item in self.scripts:
                taken = item.take(method, target)
                if taken is not None:
                    return taken
        return None
