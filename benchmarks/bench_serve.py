"""Benchmark: signed GitHub deliveries into `dihub serve` at a fixed rate, loopback only.

    python benchmarks/bench_serve.py [--rate 500] [--duration 60] [--workers 1] [--write]

Starts the real server (subprocess, 127.0.0.1, embedded SQLite store in a temporary
folder), sends `rate` deliveries a second for `duration` seconds, open loop (each
send is scheduled at its own time, whatever earlier ones took; at most --inflight at
once, on raw keep-alive connections), every one a distinct `workflow_run` (the real
octokit/webhooks payload with its run id changed) signed with X-Hub-Signature-256.
Then waits until the inbox is empty and checks that every acknowledged delivery became
exactly one build record (0 lost). Reports p50/p99/max acknowledgement latency (the
request's scheduled time -> 2xx read) and processing lag (received -> records
written, from the inbox rows). --write puts the table in BENCHMARKS.md (the `serve`
section). Bounded: stops after duration + 120 s at most.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish, table  # noqa: E402
from dihub.serve.verify import sign_hub  # noqa: E402

SECRET = "bench-secret"
PAYLOAD = ROOT / "tests" / "data" / "webhooks" / "workflow_run.completed.json"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _load(base: str, rate: int, duration: float, inflight: int):
    """The sender: `inflight` keep-alive HTTP/1.1 connections on raw asyncio streams,
    every request pre-built and pre-signed before the clock starts. (httpx cost the
    client about 2 ms of CPU a request; on 2 cores shared with the server it could not
    offer 500/s and its own queueing was measured as the server's latency.) A request's
    latency runs from its scheduled send time (open loop: waiting for a free
    connection counts), to its response read."""
    host, port = base.removeprefix("http://").split(":")
    template = json.loads(PAYLOAD.read_text())
    total = int(rate * duration)
    requests = []
    for i in range(total):
        template["workflow_run"]["id"] = 10_000_000 + i
        body = json.dumps(template).encode()
        head = (f"POST /webhooks/github HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"X-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
                f"X-Hub-Signature-256: {sign_hub(SECRET, body)}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        requests.append(head.encode() + body)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(inflight):
        pool.put_nowait(None)          # a connection slot, opened on first use

    async def send(scheduled: float, data: bytes) -> None:
        conn = await pool.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection(host, int(port))
            reader, writer = conn
            writer.write(data)
            status = (await reader.readline()).split(b" ", 2)[1].decode()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status == "200":
                latencies.append(time.perf_counter() - scheduled)
            else:
                failures[status] = failures.get(status, 0) + 1
        except Exception as exc:   # noqa: BLE001 - counted and reported
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            if conn is not None:
                conn[1].close()
            conn = None
        pool.put_nowait(conn)

    start = time.perf_counter()
    tasks = []
    for i, data in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(scheduled, data)))
        if i % 64 == 63:
            await asyncio.sleep(0)     # let responses be read while catching up
    sent_for = time.perf_counter() - start
    await asyncio.gather(*tasks)
    while not pool.empty():
        conn = pool.get_nowait()
        if conn is not None:
            conn[1].close()
    return total, latencies, failures, sent_for


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--inflight", type=int, default=64)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--server-root", default=str(ROOT),
                    help="the dihub checkout to serve (e.g. an older commit, to compare)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dihub-bench-serve-"))
    db = tmp / "store.db"
    config = tmp / "dihub.yaml"
    config.write_text("serve:\n  webhooks:\n    gh: {secret_env: BENCH_HOOK_SECRET}\n"
                      "sources:\n  gh:\n    connector: github\n"
                      "    repos: [Codertocat/Hello-World]\n")
    port = _port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")},
           "DIHUB_STORE_URI": f"sqlite:///{db}", "BENCH_HOOK_SECRET": SECRET,
           "DIHUB_API_TOKEN": "bench", "PYTHONPATH": args.server_root, "HOME": str(tmp),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "dihub", "--config", str(config), "-q",
                             "serve", "--port", str(port), "--workers", str(args.workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=args.server_root)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        total, latencies, failures, sent_for = asyncio.run(
            _load(base, args.rate, args.duration, args.inflight))
        from dihub.store.sqlite import SQLiteStore

        store = SQLiteStore(db)
        deadline = time.monotonic() + 120
        while store.inbox_stats(time.time())["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        stats = store.inbox_stats(time.time())
        with store._read() as conn:     # the inbox rows' own times
            lags = [p - r for r, p in conn.execute(
                "SELECT received_ts, processed_ts FROM webhook_inbox WHERE status = 'done'")]
        builds = store.count("builds", "gh")
        store.close()
    finally:
        proc.terminate()
        proc.wait(60)
    acked = len(latencies)
    lost = acked - builds
    rows = [["deliveries sent", f"{total}"],
            ["send window", f"{sent_for:.1f} s ({total / sent_for:.0f}/s offered)"],
            ["acknowledged 2xx", f"{acked}"],
            ["refused / errors", ", ".join(f"{k}: {v}" for k, v in failures.items()) or "0"],
            ["build records written", f"{builds}"],
            ["lost (acknowledged, no record)", f"{lost}"],
            ["inbox after drain", f"{stats['pending']} pending, {stats['done']} done, "
                                  f"{stats['failed']} failed"],
            ["ack latency p50 / p99 / max",
             f"{_pct(latencies, 50) * 1000:.1f} / {_pct(latencies, 99) * 1000:.1f} / "
             f"{max(latencies) * 1000:.1f} ms" if latencies else "-"],
            ["processing lag p50 / p99 / max",
             f"{_pct(lags, 50) * 1000:.0f} / {_pct(lags, 99) * 1000:.0f} / "
             f"{max(lags) * 1000:.0f} ms" if lags else "-"]]
    lines = [f"{args.rate} signed `workflow_run` deliveries/s for {args.duration:.0f} s into "
             f"`dihub serve --workers {args.workers}` (embedded SQLite store, loopback, "
             f"{os.cpu_count()} cores shared by client and server; "
             f"`python benchmarks/bench_serve.py --write`):", "",
             *table(["", "value"], rows, "lr")]
    publish(lines, "serve", "## dihub serve: webhook load", args.write)
    return 0 if lost == 0 and not failures and stats["pending"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
