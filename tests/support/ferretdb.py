"""A throwaway FerretDB server (MongoDB wire protocol, SQLite backend) on loopback.

`.ci/build-ferretdb` builds the binary once and caches it; this module starts it on
127.0.0.1 at a free port with its state in a temporary directory, waits until it answers
`ping`, and stops it. From the shell:

    python -m tests.support.ferretdb -- pytest tests/contract    # run a command against it
    python -m tests.support.ferretdb                              # serve until Ctrl-C

Both export DIHUB_TEST_MONGODB_URI (mongodb://127.0.0.1:PORT/dihub_test) to the command
(and print it). The binary is $DIHUB_FERRETDB, else the cache path `default_binary()`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

VERSION = "v1.24.2"
BINARY_ENV = "DIHUB_FERRETDB"
URI_ENV = "DIHUB_TEST_MONGODB_URI"
DATABASE = "dihub_test"


def default_binary() -> Path:
    """$DIHUB_FERRETDB, else $XDG_CACHE_HOME (~/.cache)/dihub/ferretdb-VERSION/ferretdb."""
    if os.environ.get(BINARY_ENV):
        return Path(os.environ[BINARY_ENV])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dihub" / f"ferretdb-{VERSION}" / "ferretdb"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_ferretdb(client: Any) -> bool:
    """Whether the server behind a pymongo client is FerretDB (its buildInfo says so)."""
    return _build_info_is_ferretdb(client.admin.command("buildInfo"))


def _build_info_is_ferretdb(info: dict[str, Any]) -> bool:
    return "ferretdbVersion" in info


@lru_cache(maxsize=8)
def uri_is_ferretdb(uri: str) -> bool:
    """`is_ferretdb` for a URI, asked once per process."""
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return is_ferretdb(client)
    finally:
        client.close()


class FerretDBError(RuntimeError):
    pass


class FerretDB:
    """One FerretDB process; a context manager. Everything it writes stays in `state_dir`
    (a new temporary directory unless given, removed at stop)."""

    def __init__(self, binary: str | os.PathLike | None = None,
                 state_dir: str | os.PathLike | None = None, *, database: str = DATABASE):
        self.binary = Path(binary) if binary else default_binary()
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else None
        self.database = database
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        if self.port is None:
            raise FerretDBError("FerretDB is not running")
        return f"mongodb://127.0.0.1:{self.port}/{self.database}"

    @property
    def log_path(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / "ferretdb.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self, timeout: float = 30.0) -> str:
        if not os.access(self.binary, os.X_OK):
            raise FerretDBError(f"no FerretDB binary at {self.binary} (run .ci/build-ferretdb)")
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="dihub-ferretdb-"))
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(3):              # the free port may be taken before FerretDB binds it
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.binary), "--handler=sqlite",
                     f"--sqlite-url=file:{self.state_dir / 'data'}/",
                     f"--state-dir={self.state_dir}",
                     f"--listen-addr=127.0.0.1:{self.port}",
                     "--debug-addr=-", "--telemetry=disable", "--log-level=warn"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            if self._wait_ready(timeout):
                return self.uri
            code = self.proc.poll() if self.proc else None
            why = (f"exited with code {code}" if code is not None
                   else f"did not answer ping within {timeout:.0f}s")
            last = self.log_tail()
            self._kill()
        self.port = None
        raise FerretDBError(f"FerretDB ({self.binary}) {why}; its log:\n{last}")

    def _wait_ready(self, timeout: float) -> bool:
        import pymongo
        from pymongo.errors import PyMongoError

        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=250,
                                         connectTimeoutMS=250)
            try:
                client.admin.command("ping")
                return True
            except PyMongoError:
                time.sleep(0.05)
            finally:
                client.close()
        return False

    def _kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self._kill()
        self.port = None
        if self._own_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def __enter__(self) -> FerretDB:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.ferretdb",
        description="Start FerretDB (SQLite backend) on loopback, run COMMAND with "
                    f"{URI_ENV} set to it (or serve until Ctrl-C), then stop it.")
    parser.add_argument("--binary", help=f"the ferretdb binary (default: {default_binary()})")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the first ping")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command to run (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    def stop_on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop_on_signal)
    server = FerretDB(args.binary)
    try:
        started = time.monotonic()
        uri = server.start(args.timeout)
    except FerretDBError as exc:
        print(f"ferretdb: {exc}", file=sys.stderr)
        server.stop()
        return 1
    child: subprocess.Popen | None = None
    try:
        print(f"ferretdb {VERSION} ready in {time.monotonic() - started:.1f}s: {URI_ENV}={uri}",
              file=sys.stderr, flush=True)
        if not command:
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(0.5)
            print(f"ferretdb exited:\n{server.log_tail()}", file=sys.stderr)
            return 1
        child = subprocess.Popen(command, env={**os.environ, URI_ENV: uri})
        rc = child.wait()
        if server.proc is None or server.proc.poll() is not None:
            print(f"ferretdb exited during the run:\n{server.log_tail()}", file=sys.stderr)
            return rc or 1
        return rc
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
