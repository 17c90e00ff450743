"""A pass writes a shared record (an account many items mention: `Record.repeated`, built
once for equal values by dihub.models.plain.build) once per content: a later mention with
the same content is not written again, one with other content is."""

from __future__ import annotations

from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine import runner as runner_module
from dihub.engine.runner import PassOptions, Runner
from dihub.models import Commit, User
from dihub.models.plain import build


def _norm(raw, ctx, partition):
    """A commit and its author; the author's login is the item's `login`."""
    author = build(User, source=ctx.source, source_id=raw["author"], user_id=raw["author"],
                   source_user_id=raw["author"], login=raw["login"])
    commit = build(Commit, source=ctx.source, source_id=raw["sha"], commit_id=raw["sha"],
                   repo="o/r", author_id=raw["author"], message="m",
                   timestamp="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z")
    return [commit, author]


def _run(store, items, per_page=5, **opts):
    def fetch(ctx, partition, state):
        for i in range(0, len(items), per_page):
            page = Page([dict(x) for x in items[i:i + per_page]])
            page.cursor = i + per_page
            yield page

    stream = Stream(name="commits", entity="commits", fetch=fetch, normalize=_norm)
    options = PassOptions(batch_size=10, checkpoint_s=0, **opts)
    [result] = Runner(store, "src", None, Settings(), options=options).run_stream(stream)
    return result


def _login(store):
    [user] = store.query("users", "src").records
    return user["login"]


def _items(logins):
    return [{"sha": f"c{i}", "author": "42", "login": login} for i, login in enumerate(logins)]


def test_an_account_every_item_names_is_written_once_per_pass(store):
    result = _run(store, _items(["ada"] * 40))      # 8 pages, each its own batch
    assert result.outcome == "ok"
    assert result.by_entity["commits"].inserted == 40
    users = result.by_entity["users"]
    # before: inserted once, then counted unchanged in each of the 7 later batches
    assert (users.inserted, users.updated, users.unchanged) == (1, 0, 0)
    assert _login(store) == "ada"


def test_an_account_whose_content_changes_is_written_each_time_it_changes(store):
    result = _run(store, _items(["ada"] * 10 + ["grace"] * 10 + ["ada"] * 10))
    users = result.by_entity["users"]
    assert (users.inserted, users.updated) == (1, 2)
    assert _login(store) == "ada"


def test_a_second_pass_reads_the_account_again(store):
    _run(store, _items(["ada"] * 20))
    again = _run(store, _items(["ada"] * 20), full_refresh=True)
    users = again.by_entity["users"]
    assert (users.inserted, users.updated, users.unchanged) == (0, 0, 1)


def test_what_a_pass_remembers_is_bounded(store, monkeypatch):
    monkeypatch.setattr(runner_module, "REPEATS_MAX", 3)
    items = [{"sha": f"c{i}", "author": str(i % 5), "login": "x"} for i in range(50)]
    result = _run(store, items)
    users = result.by_entity["users"]
    # 5 accounts in turn, only 3 remembered: later mentions are written (unchanged) again
    assert users.inserted == 5 and users.updated == 0 and users.unchanged > 0
    assert store.count("users", "src") == 5
