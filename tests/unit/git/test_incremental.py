"""What a git pass asks git for: a run with nothing new lists the refs and walks no
history; a run with new commits walks only past the heads a finished pass read; a killed
pass resumes after its durable commits (git skips them without diffing them), in the
same order and with the same labels as an uninterrupted pass."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from dihub.connectors.git import GitConfig
from dihub.connectors.git.client import GitRepo
from dihub.connectors.git.streams import commit_pages
from dihub.models import SyncState
from tests.support.gitrepo import generate


class Calls:
    """The git subcommands the connector ran, with what it wrote to their stdin."""

    def __init__(self, monkeypatch):
        self.seen: list[tuple[str, list[str], str]] = []
        real_popen = subprocess.Popen

        def sub(argv) -> str:
            args = argv[argv.index("-C") + 2:]
            return args[0]

        class Popen(real_popen):
            def __init__(inner, argv, *a, **kw):
                super().__init__(argv, *a, **kw)
                self.seen.append((sub(argv), list(argv), ""))
                inner.entry = len(self.seen) - 1
                if inner.stdin is not None:
                    inner.stdin = Recorded(inner.stdin, self.seen, inner.entry)

            def communicate(inner, input=None, *a, **kw):     # subprocess.run(input=...)
                if input:
                    name, argv_, _ = self.seen[inner.entry]
                    self.seen[inner.entry] = (name, argv_, input if isinstance(input, str)
                                              else input.decode())
                return super().communicate(input, *a, **kw)

        monkeypatch.setattr(subprocess, "Popen", Popen)      # subprocess.run's too

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]

    def of(self, name: str) -> list[tuple[list[str], str]]:
        return [(argv, stdin) for n, argv, stdin in self.seen if n == name]


class Recorded:
    """A child's stdin that notes what is written to it."""

    def __init__(self, stream, seen, entry):
        self.stream, self.seen, self.entry = stream, seen, entry

    def write(self, data: bytes) -> int:
        name, argv, before = self.seen[self.entry]
        self.seen[self.entry] = (name, argv, before + data.decode())
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)


class FakeSession:
    """What commit_pages reads of a GitSession."""

    def __init__(self, repo: Path, batch_size: int = 1000, wants_total: bool = True):
        self.wants_total = wants_total          # a display shows the totals
        self.repo = GitRepo.open(repo)
        self.config = GitConfig(connector="git", repo=str(repo))
        self.settings = SimpleNamespace(store=SimpleNamespace(batch_size=batch_size))
        self.branch_of: dict[str, str] = {}
        self.user_emitted: dict[str, tuple] = {}
        self.totals: list[int] = []

    def progress_total(self, partition, total):
        self.totals.append(total)


def _pass(repo: Path, cursor=None, batch_size: int = 1000, wants_total: bool = True):
    ctx = FakeSession(repo, batch_size, wants_total)
    pages = list(commit_pages(ctx, "*", SyncState(source="git", stream="commits",
                                                  partition="*", cursor=cursor)))
    return ctx, pages


def _labelled(ctx, pages) -> list[tuple[str, str]]:
    return [(raw["sha"], ctx.branch_of.get(raw["source"], raw["source"]))
            for page in pages for raw in page.items]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=N", "-c",
                           "user.email=n@x.example", *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    return generate(tmp_path / "repo", 400, branch_every=50, tag_every=100)


def test_a_run_with_nothing_new_lists_the_refs_and_walks_no_history(repo, monkeypatch):
    _, pages = _pass(repo)
    finished = pages[-1].cursor
    calls = Calls(monkeypatch)
    ctx, again = _pass(repo, finished)
    assert [p.items for p in again] == [[]]
    assert again[-1].cursor == finished
    assert ctx.totals == [0]
    assert set(calls.names()) == {"rev-parse", "for-each-ref"}    # rev-parse: opening it


def test_a_first_pass_counts_its_commits_only_for_a_display_that_shows_the_total(
        repo, monkeypatch):
    """The total (`rev-list --count`, a walk of the whole history of its own) is for the
    progress display; with --quiet none is shown, and git is not asked."""
    calls = Calls(monkeypatch)
    ctx, pages = _pass(repo, wants_total=False)
    assert not any("--count" in argv for argv, _ in calls.of("rev-list"))
    assert ctx.totals == [] and sum(len(p.items) for p in pages) == 400
    calls = Calls(monkeypatch)
    ctx, again = _pass(repo, wants_total=True)
    assert any("--count" in argv for argv, _ in calls.of("rev-list"))
    assert ctx.totals == [sum(len(p.items) for p in pages)]
    assert [p.items for p in again] == [p.items for p in pages]


def test_a_run_with_new_commits_walks_only_past_the_finished_heads(repo, monkeypatch):
    _, pages = _pass(repo)
    finished = pages[-1].cursor
    old_main = _git(repo, "rev-parse", "main").strip()
    assert old_main in finished["heads"]
    for i in range(3):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"new {i}")
    _git(repo, "tag", "v-new")                       # a tag on the new tip: no commit of its own
    calls = Calls(monkeypatch)
    ctx, again = _pass(repo, finished)
    got = [raw["message"] for page in again for raw in page.items]
    assert got == ["new 2\n", "new 1\n", "new 0\n"]            # newest first
    assert {label for _, label in _labelled(ctx, again)} == {"refs/heads/main"}
    assert set(calls.names()) <= {"for-each-ref", "symbolic-ref", "rev-parse", "rev-list",
                                  "log", "cat-file"}
    for name in ("log", "rev-list"):
        for argv, stdin in calls.of(name):
            assert f"^{old_main}" in stdin.split(), (argv, stdin)   # never the old history
    assert ctx.totals == [3]
    assert again[-1].cursor == {"heads": sorted(GitRepo.open(repo).tips(None))}


def _tag_only_history(repo: Path, commits: int) -> None:
    """`commits` commits that only the tag `lonely` reaches."""
    _git(repo, "checkout", "-q", "--orphan", "lonely")
    for i in range(commits):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"lonely {i}")
    _git(repo, "tag", "lonely-tag")
    _git(repo, "checkout", "-q", "-f", "main")
    _git(repo, "branch", "-q", "-D", "lonely")


@pytest.mark.parametrize(("page", "walks_skipped"), [(2, ["--skip=180"]), (6, ["--skip=20"])])
def test_a_killed_pass_resumes_after_its_durable_commits(repo, monkeypatch, page,
                                                         walks_skipped):
    _tag_only_history(repo, 30)
    ctx, whole = _pass(repo, batch_size=60)
    expected = _labelled(ctx, whole)
    assert len(expected) == 430 and len({sha for sha, _ in expected}) == 430
    assert {label for _, label in expected[400:]} == {"refs/tags/lonely-tag"}
    stopped = whole[page].cursor                     # then killed
    durable = stopped["done"]
    assert durable == 60 * (page + 1)
    calls = Calls(monkeypatch)
    ctx, rest = _pass(repo, stopped, batch_size=60)
    assert _labelled(ctx, rest) == expected[durable:]
    assert ctx.totals == [430 - durable]
    # git walks past the durable commits without diffing them; a walk that is all
    # durable is not run at all
    logs = calls.of("log")
    assert [a for argv, _ in logs for a in argv if a.startswith("--skip=")] == walks_skipped
    assert len(logs) == (2 if durable < 400 else 1)
    assert rest[-1].cursor == {"heads": sorted(GitRepo.open(repo).tips(None))}


def test_a_checkpoint_of_other_tips_starts_over(repo):
    _, whole = _pass(repo, batch_size=100)
    stopped = whole[1].cursor
    _git(repo, "commit", "-q", "--allow-empty", "-m", "moved on")
    ctx, rest = _pass(repo, stopped, batch_size=100)
    assert len(_labelled(ctx, rest)) == 401         # another walk: not resumed by count


def test_a_new_pass_forgets_the_users_the_last_one_returned(repo):
    # a session may run a second pass (a failed one's batch never reached the store):
    # the users the first one returned must be returned again, not left out as repeats
    ctx = FakeSession(repo)
    ctx.user_emitted["email:dev0@example.com"] = ("Dev 0", "dev0@example.com", "x")
    next(commit_pages(ctx, "*", SyncState(source="git", stream="commits", partition="*")))
    assert ctx.user_emitted == {}
