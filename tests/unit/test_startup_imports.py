"""What a command imports is part of its start-up cost (docs/architecture.md, "Start-up"):
each check runs in a fresh interpreter and lists the modules it ended up with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _modules_after(code: str, tmp_path: Path, extra_env: dict[str, str] | None = None
                   ) -> set[str]:
    script = (f"import sys\n{code}\n"
              "import json\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    # no user's keyring or credentials file is read: an empty config dir, the null backend
    env = {**os.environ, "DIHUB_CONFIG_DIR": str(tmp_path),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **(extra_env or {})}
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


def test_a_fetch_from_a_config_checked_before_imports_neither_pydantic_nor_yaml(tmp_path):
    from dihub.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "dihub.db")
    store.upsert_many([{"_id": "git:commits:c1", "source": "git", "entity": "commits",
                        "source_id": "c1", "updated_at": "2026-01-01T00:00:00Z",
                        "ingested_at": "2026-01-01T00:00:00Z", "raw_signature": "s",
                        "commit_id": "c1", "message": "first"}])
    store.close()
    (tmp_path / "dihub.yaml").write_text(
        "store:\n  uri: sqlite:///dihub.db\nsources:\n  git: {repo: .}\n")
    run = ("import sys\nfrom dihub.cli.app import main\n"
           "sys.argv = ['dihub', 'fetch', 'git', 'commits', '--format', 'jsonl']\n"
           "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n")
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = _modules_after(run, tmp_path, cache)     # checks the config in full, remembers it
    assert "pydantic" in _top(first)
    second = _modules_after(run, tmp_path, cache)
    assert "dihub.store.sqlite" in second and "dihub.models.catalog" in second
    # (dihub puts a stand-in for httpx._main in sys.modules: httpx itself is not imported)
    assert not second & {"pydantic", "pydantic_core", "httpx", "rich", "yaml", "msgspec"}, \
        sorted(second & {"pydantic", "pydantic_core", "httpx", "rich", "yaml", "msgspec"})
    assert not {m for m in second if m.startswith(("dihub.connectors.", "dihub.settings",
                                                   "dihub.models.records",
                                                   "dihub.models.state"))}


def test_a_sync_of_one_source_imports_no_other_connector(tmp_path):
    from tests.support.gitrepo import generate

    generate(tmp_path / "repo", 5)
    (tmp_path / "dihub.yaml").write_text(
        "store:\n  uri: sqlite:///dihub.db\n"
        "hub:\n  refresh_after_sync: false\n"
        "sources:\n  git: {repo: ./repo}\n"
        "  github: {connector: github, repos: [a/b], token_env: NO_SUCH_TOKEN}\n"
        "  jira: {connector: jira, base_url: 'https://x.atlassian.net', projects: [ENG]}\n"
        "  slack: {connector: slack, channels: [general]}\n")
    run = ("import sys\nfrom dihub.cli.app import main\n"
           "sys.argv = ['dihub', '-q', 'sync', 'git', 'commits']\n"
           "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n")
    mods = _modules_after(run, tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "dihub.connectors.git" in mods
    others = {m for m in mods if m.startswith(("dihub.connectors.github",
                                               "dihub.connectors.jira",
                                               "dihub.connectors.slack"))}
    assert not others, sorted(others)
