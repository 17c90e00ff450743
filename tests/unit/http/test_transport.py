"""StdlibTransport: httpx over http.client, against a scripted HTTP/1.1 server on 127.0.0.1.

The server answers each connection's requests from a script of raw responses, so each
test sets the exact bytes, how the connection ends, and when: a short body, a server
that closes a kept-alive connection while it is idle, a silence longer than the timeout.
"""

from __future__ import annotations

import datetime
import gzip
import socket
import ssl
import threading
import time

import httpx
import pytest

from dihub.http.transport import StdlibTransport

BODY = b'[{"sha": "a"}]' * 1000


def response(body: bytes = BODY, status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}",
             *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Server:
    """Each accepted connection takes the next list of steps: bytes to send after reading
    one request, "drop" to read one and close without an answer, "close" to close the
    connection at once, or a float to sleep."""

    def __init__(self, *connections: list, tls: ssl.SSLContext | None = None):
        self.script = list(connections)
        self.tls = tls
        self.requests: list[bytes] = []
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.script:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()        # a client that refused the certificate
                    continue
            threading.Thread(target=self._talk, args=(conn, self.script.pop(0)),
                             daemon=True).start()

    def _talk(self, conn: socket.socket, steps: list) -> None:
        with conn:
            buf = b""
            for step in steps:
                if step == "close":
                    return
                if isinstance(step, float):
                    time.sleep(step)
                    continue
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buf) < length:
                    buf += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buf[:length])
                buf = buf[length:]
                if step == "drop":
                    return
                conn.sendall(step)
            time.sleep(0.5)      # the last answer is read before the connection ends

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(*connections: list, tls: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(*connections, tls=tls))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def client(**kwargs) -> httpx.Client:
    return httpx.Client(transport=StdlibTransport(max_keepalive=2),
                        timeout=kwargs.pop("timeout", 5), **kwargs)


def test_a_body_is_read_whole_and_the_connection_is_kept(serve):
    server = serve([response(ETag='"v1"', Link='<http://x/?page=2>; rel="next"'),
                    response(b'{"ok": true}')])
    with client() as http:
        first = http.get(server.url + "/repos/o/r/commits?per_page=100",
                         headers={"Authorization": "Bearer t"})
        second = http.get(server.url + "/rate_limit")
    assert first.status_code == 200 and first.content == BODY
    assert first.headers["etag"] == '"v1"' and first.links["next"]["url"] == "http://x/?page=2"
    assert first.http_version == "HTTP/1.1" and first.reason_phrase == "OK"
    assert second.json() == {"ok": True}
    assert server.accepted == 1          # one connection carried both requests
    head = server.requests[0].split(b"\r\n")
    assert head[0] == b"GET /repos/o/r/commits?per_page=100 HTTP/1.1"
    assert b"authorization: Bearer t" in [h.lower()[:15] + h[15:] for h in head]
    assert sum(h.lower().startswith(b"host:") for h in head) == 1
    assert sum(h.lower().startswith(b"accept-encoding:") for h in head) == 1


def test_a_post_sends_its_body(serve):
    server = serve([response(b"{}")])
    with client() as http:
        r = http.post(server.url + "/rest/api/3/changelog/bulkfetch",
                      json={"issueIdsOrKeys": ["A-1"]})
    assert r.status_code == 200
    assert server.requests[0].startswith(b"POST /rest/api/3/changelog/bulkfetch HTTP/1.1")
    assert server.requests[0].endswith(b'{"issueIdsOrKeys":["A-1"]}')


def test_a_compressed_body_is_decoded_by_httpx(serve):
    server = serve([response(gzip.compress(BODY), Content_Encoding="gzip")])
    with client() as http:
        r = http.get(server.url + "/gz")
    assert r.content == BODY and r.num_bytes_downloaded < len(BODY)
    assert b"gzip" in next(h for h in server.requests[0].split(b"\r\n")
                           if h.lower().startswith(b"accept-encoding:"))


def test_a_chunked_body_and_bodiless_answers(serve):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    server = serve([chunked, response(b"", "304 Not Modified", ETag='"v1"'),
                    b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", response(b"")])
    with client() as http:
        assert http.get(server.url + "/a").content == b"hello world"
        assert http.get(server.url + "/b").status_code == 304
        head = http.head(server.url + "/c")
        assert head.status_code == 200 and head.content == b""
        assert http.get(server.url + "/d").content == b""
    assert server.accepted == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused(serve):
    server = serve([response(), "close"], [response()])
    with client() as http:
        assert http.get(server.url + "/1").content == BODY
        time.sleep(0.2)                  # the server has closed the kept-alive connection
        assert http.get(server.url + "/2").content == BODY
    assert server.accepted == 2


def test_a_body_cut_short_is_a_protocol_error_and_the_connection_is_dropped(serve):
    cut = response()[:-100]
    server = serve([cut, "close"], [response()])
    with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            http.get(server.url + "/1")
        assert http.get(server.url + "/2").content == BODY
    assert server.accepted == 2


def test_a_connection_closed_before_the_answer(serve):
    server = serve(["drop"], [response()])
    with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            http.get(server.url + "/1")
        assert http.get(server.url + "/2").status_code == 200


def test_garbage_instead_of_a_status_line(serve):
    server = serve([b"SSH-2.0-OpenSSH\r\n\r\n"])
    with client() as http, pytest.raises(httpx.RemoteProtocolError):
        http.get(server.url + "/1")


def test_a_silent_server_is_a_read_timeout(serve):
    server = serve([0.2 + 1.0])          # reads the request, answers nothing for 1.2 s
    started = time.monotonic()
    with client(timeout=httpx.Timeout(5, read=0.2)) as http, pytest.raises(httpx.ReadTimeout):
        http.get(server.url + "/slow")
    assert time.monotonic() - started < 1.0


def test_a_refused_connection_is_a_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with client() as http, pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{port}/")


def test_an_unsupported_scheme():
    with client() as http, pytest.raises(httpx.UnsupportedProtocol):
        http.get("ftp://127.0.0.1/")


def test_idle_connections_are_capped_and_closed_with_the_client(serve):
    server = serve([response()], [response()], [response()])
    transport = StdlibTransport(max_keepalive=2)
    with httpx.Client(transport=transport) as http:
        barrier = threading.Barrier(3)

        def get() -> None:
            barrier.wait()
            with http.stream("GET", server.url + "/x") as r:
                time.sleep(0.2)         # three requests in flight at once
                r.read()

        threads = [threading.Thread(target=get) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert server.accepted == 3
        assert sum(len(v) for v in transport._idle.values()) == 2
    assert transport._idle == {}


def self_signed(tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost, and a client one that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile = tmp_path / "key.pem"
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pem, keyfile)
    return server, ssl.create_default_context(cafile=str(pem))


def test_https_verifies_the_certificate_and_keeps_the_connection(serve, tmp_path):
    server_ctx, trusting = self_signed(tmp_path)
    server = serve([response(), response(b"{}")], [], tls=server_ctx)
    url = server.url.replace("http://127.0.0.1", "https://localhost")
    with httpx.Client(transport=StdlibTransport(max_keepalive=2, ssl_context=trusting)) as http:
        assert http.get(url + "/1").content == BODY
        assert http.get(url + "/2").content == b"{}"
    assert server.accepted == 1
    with client() as http, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        http.get(url + "/3")            # the default context does not trust it


def test_an_ipv6_literal_host(serve):
    try:
        sock = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = sock.getsockname()[1]

    def answer() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(response(b"[]"))

    threading.Thread(target=answer, daemon=True).start()
    with client() as http:
        assert http.get(f"http://[::1]:{port}/").content == b"[]"
    sock.close()


def test_an_international_host_is_reached_by_its_ascii_name(serve, monkeypatch):
    server = serve([response(b"[]")])
    port = int(server.url.rsplit(":", 1)[1])
    asked: list = []
    connect = socket.create_connection

    def create_connection(address, *args, **kwargs):
        asked.append(address)
        return connect(("127.0.0.1", port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    with client() as http:
        assert http.get(f"http://münchen.example:{port}/").content == b"[]"
    assert asked == [("xn--mnchen-3ya.example", port)]
