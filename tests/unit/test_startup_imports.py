"""What a command imports is part of its start-up cost (docs/architecture.md, "Start-up"):
each check runs in a fresh interpreter and lists the modules it ended up with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _modules_after(code: str, tmp_path: Path) -> set[str]:
    script = (f"import sys\n{code}\n"
              "import json\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    # no user's keyring or credentials file is read: an empty config dir, the null backend
    env = {**os.environ, "DIHUB_CONFIG_DIR": str(tmp_path),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.splitlines()[-1]))


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_a_sync_imports_neither_httpx_s_command_line_client_nor_the_keyring(tmp_path):
    mods = _modules_after("import dihub.cli.app, dihub.cli.sync, dihub.connectors.github\n"
                          "import dihub.engine.runner, httpx\n", tmp_path)
    assert "httpx" in mods and "dihub.connectors.github" in mods   # what it needs
    assert not _top(mods) & {"pygments", "click", "keyring"}, \
        sorted(_top(mods) & {"pygments", "click", "keyring"})
    # httpx.main, its command-line entry point, is httpx's own stand-in without the CLI
    _modules_after("import dihub, httpx\n"
                   "assert httpx.main.__module__ == 'httpx', httpx.main.__module__\n", tmp_path)


def test_a_token_from_the_environment_is_read_without_importing_the_keyring(tmp_path):
    mods = _modules_after(
        "import os\nos.environ['DIHUB_T'] = 'x'\n"
        "from dihub.secrets import get_secret\n"
        "assert get_secret('github', env_var='DIHUB_T', host='example.org').value == 'x'\n",
        tmp_path)
    assert "dihub.secrets" in mods and "keyring" not in _top(mods)


def test_a_stored_token_is_looked_up_in_the_keyring(tmp_path):
    mods = _modules_after(
        "from dihub.secrets import get_secret\n"
        "get_secret('github', host='example.org')\n", tmp_path)
    assert "keyring" in _top(mods)
