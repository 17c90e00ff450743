"""A threaded `http.server` on 127.0.0.1 that hands every request to a simulator object.

The simulator (the server's `sim` attribute) provides:

    handle(method, target, headers, raw) -> (Reply | None, Record)   # None = drop the socket
    stats.record(Record)

`SimHandler` renders the Reply (status, headers, JSON/bytes body; a `truncated` fault
cuts the body in half with a matching Content-Length). `SimulatorServer` is the
lifecycle (start/stop, `with`, port, base_url), the scripted-response list, the fault
step every request goes through and the statistics; a simulator subclasses it and
supplies its routes (`route_of`, `respond`) and its canned fault bodies (`fault_reply`).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .faults import PASS, Faults, Script, scripted_reply
from .reply import Reply
from .stats import Record, Stats

HOST = "127.0.0.1"


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"           # keep-alive, like the real APIs
    server_version = "Simulator"
    sys_version = ""
    timeout = 30                            # idle keep-alive connections end
    disable_nagle_algorithm = True          # headers and body go out without a 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:   # quiet
        pass

    def _serve(self) -> None:
        method = self.command
        sim = self.server.sim                           # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply, rec = sim.handle(method, self.path, headers, raw)
        sim.stats.record(rec)                 # before replying: a client never outruns it
        if sim.latency_s:                     # a network's round trip, for benchmarks
            time.sleep(sim.latency_s)
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

    # every method goes to the simulator (self.command is "GET", "POST", ...)
    do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


def body_bytes(reply: Any) -> bytes:
    if reply.body is None:
        return b""
    if isinstance(reply.body, bytes):
        return reply.body
    if isinstance(reply.body, str):
        return reply.body.encode()
    return json.dumps(reply.body, separators=(",", ":")).encode()


class SimulatorServer:
    """Lifecycle, scripts, faults and stats of a simulator.

    Order of checks for a request: scripted response → random fault (`faults`) → the
    subclass's `respond`. A subclass provides `route_of(path)` (the route template in
    stats), `fault_reply(kind)` (its body of a fault kind) and `respond(rec, raw)`, and
    may override `finish(reply, rec)` (last touches, e.g. headers every reply carries).
    """

    handler: type[SimHandler] = SimHandler
    thread_name = "simulator"

    def __init__(self, port: int = 0, faults: Faults | None = None):
        self.faults = faults
        self.latency_s = 0.0        # each answer waits this long, as over a network
        self.stats = Stats()
        self.scripts: list[Script] = []
        self._scripts_lock = threading.Lock()
        self._kill: tuple[int, int, int] | None = None     # (request number, pid, signal)
        self._seen = 0
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
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

    # -- test controls -------------------------------------------------------------------
    def script(self, path_regex: str, responses: list[str | dict[str, Any]],
               method: str | None = None) -> Script:
        """Force the next responses for requests whose path+query matches `path_regex`:
        fault kinds ("502", "401", "429", "drop", "truncated", ...), "pass", or dicts
        {status, body, headers}. Earlier scripts win when several match."""
        item = Script(path_regex, responses, method)
        with self._scripts_lock:
            self.scripts.append(item)
        return item

    def kill_at(self, request_number: int, pid: int, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to `pid` when the `request_number`-th request from now arrives, and
        drop that request unanswered: a client killed at a chosen page."""
        with self._scripts_lock:
            self._kill, self._seen = (request_number, pid, sig), 0

    def _kill_due(self) -> bool:
        with self._scripts_lock:
            if self._kill is None:
                return False
            self._seen += 1
            number, pid, sig = self._kill
            if self._seen < number:
                return False
            self._kill = None
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        return sig == signal.SIGKILL

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

    # -- request handling (called from handler threads) -----------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[Reply | None, Record]:
        """The reply for one request (None = drop the connection) and its record."""
        split = urlsplit(target)
        return self.answer(method, target, split.path or "/", split.query, headers, raw)

    def answer(self, method: str, target: str, path: str, query: str,
               headers: dict[str, str], raw: bytes) -> tuple[Reply | None, Record]:
        """`handle` once the target is split (a subclass may rewrite it before)."""
        rec = Record(method, path, query, self.route_of(path), None, None, False, headers)
        if self._kill is not None and self._kill_due():
            rec.fault = "killed"
            return None, rec
        scripted = self.scripted(method, target)
        fault, reply = None, None
        if isinstance(scripted, dict):
            reply = scripted_reply(scripted)
        elif scripted is not None and scripted != PASS:
            fault = scripted
        elif scripted is None and self.faults is not None:
            fault = self.faults.decide(method, path, target)
        rec.fault = reply.fault if reply else fault
        if fault == "drop":
            return None, rec
        if fault is not None and fault != "truncated":
            reply = self.fault_reply(fault)
        if reply is None:               # rec.fault is None or "truncated"
            reply = self.respond(rec, raw)
        if fault == "truncated" and reply.status == 200:
            reply.fault = "truncated"
        rec.status = reply.status
        self.finish(reply, rec)
        return reply, rec

    def route_of(self, path: str) -> str:
        """The route template of a path, for stats."""
        return path

    def fault_reply(self, kind: str) -> Reply:
        """The simulator's response of a fault kind other than "drop" and "truncated"."""
        raise NotImplementedError

    def respond(self, rec: Record, raw: bytes) -> Reply:
        """The simulator's own answer to a request that no script or fault took over
        (`rec` holds the method, path, query, headers and a "truncated" fault)."""
        raise NotImplementedError

    def finish(self, reply: Reply, rec: Record) -> None:
        """Last touches on every reply that goes out (rec.status is set)."""
