"""The served OpenAPI document, fuzzed with schemathesis (bounded): no 500s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.serve_support import (
    API_TOKEN,
    Served,
    config_text,
    fixture,
    free_port,
)

pytest.importorskip("schemathesis")


def test_openapi_fuzzing_finds_no_server_errors(tmp_path):
    # offline: a background sync the fuzzer may start reaches only a closed loopback port
    s = Served(tmp_path, config_text(github_url=f"http://127.0.0.1:{free_port()}")).start()
    try:
        # something to read, so /api/fetch answers with data as well as empty pages
        s.github("issues", fixture("issues.opened.json"))
        s.wait_processed()
        cli = Path(sys.executable).with_name("schemathesis")
        proc = subprocess.run(
            [str(cli), "run", f"{s.base}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "25", "--workers", "1", "--seed", "1",
             "--header", f"Authorization: Bearer {API_TOKEN}",
             "--request-timeout", "20", "--no-color"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
            env={**s.env, "SCHEMATHESIS_HOOKS": ""})
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        assert "/api/fetch/{source}/{entity}" in out
        assert " 500" not in s.logs()
    finally:
        s.close()
