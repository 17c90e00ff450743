"""fetch paging and formats, audit, metrics (table/json/prom/textfile), status, connectors,
plugins from another package, and the progress display on a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest

from tests.integration.conftest import git_config
from tests.support.gitrepo import generate
from tests.support.tty import run_on_tty


@pytest.fixture
def synced(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 250, branch_every=100)
    dihub.write_config(git_config(repo, batch_size=100))
    dihub.run("sync", "git", "commits", check_code=0)
    return dihub


def test_fetch_limit_and_cursor_page_through_everything_once(synced):
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        args = ["fetch", "git", "commits", "--format", "jsonl", "--limit", "70"]
        if cursor:
            args += ["--cursor", cursor]
        p = synced.run(*args, check_code=0)
        seen += [json.loads(ln)["_id"] for ln in p.stdout.splitlines()]
        marker = "continue with --cursor "
        cursor = p.stderr.split(marker, 1)[1].split()[0] if marker in p.stderr else None
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 250
    p = synced.run("fetch", "git", "commits", "--cursor", "garbage", check_code=2)
    assert "invalid --cursor" in p.stderr


def test_fetch_json_csv_fields_and_where(synced):
    data = json.loads(synced.run("fetch", "git", "commits", "--format", "json", "--fields",
                                 "commit_id,author_id", check_code=0).stdout)
    assert len(data) == 250 and set(data[0]) == {"commit_id", "author_id"}
    author = data[0]["author_id"]
    want = sum(1 for d in data if d["author_id"] == author)
    rows = list(csv.DictReader(io.StringIO(synced.run(
        "fetch", "git", "commits", "--format", "csv", "--where", f"author_id={author}",
        check_code=0).stdout)))
    assert len(rows) == want and all(r["author_id"] == author for r in rows)
    assert "parents" in rows[0]
    users = json.loads(synced.run("fetch", "git", "users", "--format", "json",
                                  check_code=0).stdout)
    assert author in {u["user_id"] for u in users}
    table = synced.run("fetch", "git", "commits", "--limit", "5", check_code=0)
    assert "commit_id" in table.stdout and "more records" in table.stderr


def test_audit_status_and_metrics_views(synced, tmp_path):
    audit = json.loads(synced.run("audit", "--source", "git", "--format", "json",
                                  check_code=0).stdout)
    actions = {a["action"] for a in audit}
    assert {"batch", "sync"} <= actions
    assert sum(a["inserted"] for a in audit if a["action"] == "batch") == 250 + len(
        json.loads(synced.run("fetch", "git", "users", "--format", "json").stdout))
    none = json.loads(synced.run("audit", "--outcome", "failed", "--format", "json",
                                 check_code=0).stdout)
    assert none == []
    later = json.loads(synced.run("audit", "--since", "2100-01-01", "--format", "json",
                                  check_code=0).stdout)
    assert later == []

    status = json.loads(synced.run("status", "--format", "json", check_code=0).stdout)
    assert [(s["source"], s["stream"], s["status"]) for s in status] == [
        ("git", "commits", "ok")]
    assert status[0]["lease_owner"] is None

    runs = json.loads(synced.run("metrics", "--format", "json", check_code=0).stdout)
    assert runs[0]["records"] == 250 and runs[0]["outcome"] == "ok"
    prom = synced.run("metrics", "--format", "prom", check_code=0).stdout
    assert 'dihub_sync_records{source="git",stream="commits"} 250' in prom
    target = tmp_path / "textfile" / "dihub.prom"
    synced.run("metrics", "--textfile", str(target), check_code=0)
    assert target.read_text() == prom
    table = synced.run("metrics", check_code=0).stdout
    assert "commits" in table and "250" in table


def test_connector_from_another_package(dihub, tmp_path):
    """A separate package adds a source through the `dihub.connectors` entry-point group."""
    site = tmp_path / "site"
    pkg = site / "acme_dihub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from dihub.connectors.base import Connector, SourceConfig\n"
        "from dihub.connectors.stream import Page, Stream\n"
        "from dihub.models import User\n\n"
        "class AcmeConfig(SourceConfig):\n    people: int = 3\n\n"
        "def pages(ctx, partition, state):\n"
        "    yield Page([{'id': i} for i in range(ctx.config.people)], cursor='done')\n\n"
        "def norm(raw, ctx, partition):\n"
        "    return User(source=ctx.source, source_id=str(raw['id']), user_id=str(raw['id']),\n"
        "                source_user_id=str(raw['id']), login=f\"acme{raw['id']}\")\n\n"
        "connector = Connector(name='acme', description='Acme people', config_model=AcmeConfig,\n"
        "    streams={'people': Stream(name='people', entity='users', fetch=pages,"
        " normalize=norm)})\n")
    dist = site / "acme_dihub-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-dihub\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dihub.connectors]\nacme = acme_dihub:connector\n")
    dihub.env["PYTHONPATH"] = os.pathsep.join([str(site), dihub.env["PYTHONPATH"]])
    dihub.write_config("sources:\n  crm:\n    connector: acme\n    people: 4\n")
    listing = dihub.run("connectors", "--format", "json", check_code=0)
    assert "acme" in {c["connector"] for c in json.loads(listing.stdout)}
    dihub.run("sync", "crm", "people", check_code=0)
    users = json.loads(dihub.run("fetch", "crm", "users", "--format", "json").stdout)
    assert sorted(u["login"] for u in users) == ["acme0", "acme1", "acme2", "acme3"]
    assert users[0]["_id"].startswith("crm:users:")


def test_progress_bar_on_a_terminal_plain_lines_otherwise(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 120)
    dihub.write_config(git_config(repo, batch_size=50))
    code, out = run_on_tty(dihub.argv("sync", "git", "commits"), dihub.env)
    assert code == 0
    text = out.decode(errors="replace")
    assert "git/commits" in text and "commits" in text and "\x1b[" in text  # rich live display
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    # a total: count of total (with a percentage while running; a 120-commit sync may end
    # before the display refreshes, so the ended line says it too)
    assert re.search(r"\d+/120 commits( +\d+%)?", shown)
    plain = dihub.run("sync", "git", "commits", "--full-refresh", check_code=0)
    assert "\x1b[" not in plain.stderr
    assert "git/commits: ok, read 120 items; records: 0 inserted" in plain.stderr


def test_views_of_a_source_no_longer_configured(synced):
    """A --source filter accepts a source that was synced and then removed from the config
    (its history is still there); a name that is neither is exit 2 naming both kinds."""
    synced.write_config("sources:\n  other:\n    connector: git\n    repo: /nonexistent\n")
    status = json.loads(synced.run("status", "--source", "git", "--format", "json",
                                   check_code=0).stdout)
    assert [(s["source"], s["stream"]) for s in status] == [("git", "commits")]
    assert json.loads(synced.run("audit", "--source", "git", "--format", "json",
                                 check_code=0).stdout)
    p = synced.run("status", "--source", "gti", check_code=2)
    assert "--source 'gti': unknown source" in p.stderr
    assert ": other; others with sync state: git" in p.stderr
    p = synced.run("metrics", "--source", "git", "--stream", "comits", check_code=2)
    assert "--stream 'comits'" in p.stderr and "commits" in p.stderr
    assert json.loads(synced.run("metrics", "--source", "git", "--stream", "commits",
                                 "--format", "json", check_code=0).stdout)


def test_status_names_the_store_relative_to_the_config_folder(dihub, tmp_path):
    """`sqlite:///rel.db` lives beside the config file, whatever the current directory, and
    `status` says where, so nobody thinks their data was lost."""
    repo = generate(tmp_path / "repo", 5)
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    dihub.config = conf_dir / "dihub.yaml"
    dihub.write_config(git_config(repo, extra="  uri: sqlite:///data/hub.db\n"))
    del dihub.env["DIHUB_STORE_URI"]
    dihub.run("sync", "git", "commits", check_code=0)     # runs with cwd = tmp_path
    db = conf_dir / "data" / "hub.db"
    assert db.is_file() and not (tmp_path / "data").exists()
    out = dihub.run("status", check_code=0).stdout
    assert f"sqlite {db}" in out.replace("\n", "")
