"""httpx's transport for HTTP/1.1 over the standard library's `http.client`.

httpx stays the client (requests, URLs, headers, auth, errors); this transport moves the
bytes. httpx's default transport (httpcore and h11) spends about three times the CPU of
`http.client` on the same exchanges: per request, its state machine and events, and per
body, a copy for each of its buffers (measured over one sync's 160 pages, 76 MB: 0.16-0.19
s of CPU against 0.05 s; BENCHMARKS.md). Here a body whose length is known is read into
one buffer. See docs/architecture.md, "HTTP: paging and rate limits".

Keep-alive connections are pooled per origin (at most `max_keepalive` idle ones); one
that the server closed while idle is dropped before it is reused. Errors are httpx's own
(`ConnectError`, `ReadTimeout`, `RemoteProtocolError`, ...), so callers see no
difference. It speaks to the origin directly: with a proxy in the environment,
`make_httpx_client` keeps httpx's own transport, which honours it.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Iterator

import httpx

_READ_MAX = 8 * 1024 * 1024      # bytes of a body read at once (one buffer up to this)
_Key = tuple[str, str, int]


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    return request.extensions.get("timeout") or {}


class _Body(httpx.SyncByteStream):
    """A response's body, read from its connection; the connection goes back to the pool
    once the body is read whole (and the server keeps it open), else it is closed."""

    def __init__(self, transport: StdlibTransport, key: _Key,
                 conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
                 request: httpx.Request) -> None:
        self._transport, self._key, self._conn = transport, key, conn
        self._resp, self._request = resp, request
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        resp = self._resp
        try:
            while True:
                # with a Content-Length, one read of the whole body (up to _READ_MAX)
                left = resp.length
                chunk = resp.read(min(left, _READ_MAX) if left else 65536)
                if not chunk:
                    if left:    # http.client reads a short body as its end
                        raise http.client.IncompleteRead(b"", left)
                    break
                yield chunk
        except TimeoutError as exc:
            self._drop()
            raise httpx.ReadTimeout(str(exc) or "timed out", request=self._request) from exc
        except http.client.IncompleteRead as exc:
            self._drop()
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body",
                request=self._request) from exc
        except http.client.HTTPException as exc:
            self._drop()
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__,
                                            request=self._request) from exc
        except OSError as exc:
            self._drop()
            raise httpx.ReadError(str(exc) or type(exc).__name__,
                                  request=self._request) from exc
        self._done = True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._resp.isclosed() and not self._resp.will_close:
            self._transport._release(self._key, conn)
        else:
            conn.close()


class StdlibTransport(httpx.BaseTransport):
    """An httpx transport over `http.client` (see the module's docstring)."""

    def __init__(self, *, max_keepalive: int = 10,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_keepalive = max(0, max_keepalive)
        self._ssl_context = ssl_context
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ the pool

    def _context(self) -> ssl.SSLContext:
        # made on the first https connection: building one reads the CA bundle (~20 ms)
        if self._ssl_context is None:
            context = httpx.create_ssl_context()    # certifi, or SSL_CERT_FILE / _DIR
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    def _acquire(self, key: _Key, connect_s: float | None,
                 request: httpx.Request) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get(key) or []
            while idle:
                conn = idle.pop()
                if conn.sock is not None and not _readable(conn.sock):
                    return conn
                conn.close()    # closed by the server while idle (or sent something)
        scheme, host, port = key
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=connect_s, context=self._context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_s)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:      # refused, unreachable, name not found, TLS
            conn.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return conn

    def _release(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_keepalive:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    # ------------------------------------------------------------------ a request

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol "
                                            f"'{scheme}://'.", request=request)
        port = url.port or (443 if scheme == "https" else 80)
        key = (scheme, url.raw_host.decode("ascii"), port)   # IDNA: the ASCII form
        timeouts = _timeouts(request)
        body = request.read()
        conn = self._acquire(key, timeouts.get("connect"), request)
        try:
            resp = self._exchange(conn, request, body, timeouts)
        except BaseException:
            conn.close()
            raise
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.getheaders()]
        return httpx.Response(
            resp.status, headers=headers,
            stream=_Body(self, key, conn, resp, request),
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": (resp.reason or "").encode("latin-1")},
            request=request)

    def _exchange(self, conn: http.client.HTTPConnection, request: httpx.Request,
                  body: bytes, timeouts: dict[str, float | None]) -> http.client.HTTPResponse:
        sock = conn.sock
        try:
            sock.settimeout(timeouts.get("write"))
            target = request.url.raw_path.decode("ascii")
            conn.putrequest(request.method, target, skip_host=True,
                            skip_accept_encoding=True)
            chunked = False
            for name, value in request.headers.raw:
                conn.putheader(name, value)
                if name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            conn.endheaders(body or None, encode_chunked=chunked)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
        except http.client.HTTPException as exc:
            raise httpx.LocalProtocolError(str(exc) or type(exc).__name__,
                                           request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        try:
            sock.settimeout(timeouts.get("read"))
            return conn.getresponse()
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except http.client.RemoteDisconnected as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request) from exc
        except http.client.HTTPException as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__,
                                            request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


def _readable(sock: socket.socket) -> bool:
    """True when an idle connection has something to read: the server closed it (or sent
    what nobody asked for); either way it cannot carry another request."""
    try:
        if hasattr(select, "poll"):     # select() refuses descriptors past FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
