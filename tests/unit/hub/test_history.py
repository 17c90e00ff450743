"""dihub.hub.history.only_in_head: the commits a pull request brought, found by walking
newest first from its head and its base, never through the whole history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dihub.hub.history import only_in_head

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Graph:
    """A dataset of commits {sha: (parents, minutes after T0)} that counts lookups."""

    def __init__(self, commits: dict[str, tuple[list[str], int]]):
        self.commits = commits
        self.asked: list[str] = []

    def commits_by_shas(self, shas):
        out = {}
        for sha in shas:
            self.asked.append(sha)
            if sha in self.commits:
                parents, minutes = self.commits[sha]
                # offsets differ, as stored copies of several sources' clocks may
                stamp = (T0 + timedelta(minutes=minutes)).astimezone(
                    UTC if minutes % 2 else datetime(2024, 1, 1).astimezone().tzinfo)
                out[sha] = [{"_id": f"git:commits:{sha}", "commit_id": sha,
                             "parents": parents, "timestamp": stamp.isoformat()}]
            else:
                out[sha] = []
        return out


def line(prefix: str, n: int, start: int = 0, parent: str | None = None):
    """n commits `prefix0..` each on the one before, one minute apart from `start`."""
    out = {}
    for i in range(n):
        out[f"{prefix}{i}"] = ([parent] if parent else [], start + i)
        parent = f"{prefix}{i}"
    return out


def test_a_branch_off_a_long_history_is_found_by_looking_at_little_of_it():
    commits = line("m", 10_000)                     # years of mainline history
    commits.update(line("h", 3, start=20_000, parent="m9990"))
    commits.update(line("n", 5, start=20_010, parent="m9999"))   # main moved on
    commits["merge"] = (["n4", "h2"], 30_000)
    graph = Graph(commits)
    assert only_in_head(graph, "h2", "n4", 250, 20_000) == ["h2", "h1", "h0"]
    # the three commits, main since the fork (14) and a few below it: not 10,000
    assert len(set(graph.asked)) < 40


def test_merging_the_base_into_the_branch_does_not_bring_the_base_along():
    commits = line("m", 20)
    commits["h0"] = (["m10"], 100)
    commits["x"] = (["h0", "m15"], 101)              # main merged into the branch
    commits["h1"] = (["x"], 102)
    commits.update(line("n", 2, start=110, parent="m19"))
    assert only_in_head(Graph(commits), "h1", "n1", 250, 20_000) == ["h1", "x", "h0"]


def test_nothing_when_head_is_already_in_base_or_not_stored():
    commits = line("m", 50)
    assert only_in_head(Graph(commits), "m30", "m49", 250, 20_000) == []
    assert only_in_head(Graph(commits), "gone", "m49", 250, 20_000) == []
    # a parent that is not stored ends the line: what is stored is still found
    commits["h0"] = (["not-synced"], 200)
    commits["h1"] = (["h0"], 201)
    assert only_in_head(Graph(commits), "h1", "m49", 250, 20_000) == ["h1", "h0"]


def test_limits_bound_the_answer_and_the_walk():
    commits = line("m", 10)
    commits.update(line("h", 400, start=100, parent="m5"))
    got = only_in_head(Graph(commits), "h399", "m9", 250, 20_000)
    assert got == [f"h{i}" for i in range(399, 149, -1)]          # the newest 250
    graph = Graph(commits)
    assert len(only_in_head(graph, "h399", "m9", 250, 30)) <= 30
    assert len(set(graph.asked)) <= 32


def test_a_head_that_is_not_stored_or_already_in_base_ends_the_walk_at_once():
    commits = line("m", 10_000)
    graph = Graph(commits)
    # a squash-merged pull request whose branch was never synced
    assert only_in_head(graph, "gone", "m9999", 250, 20_000) == []
    assert len(set(graph.asked)) <= 2
    graph = Graph(commits)
    assert only_in_head(graph, "m9900", "m9999", 250, 20_000) == []
    assert len(set(graph.asked)) < 120          # base down to head, and a few more


def test_a_main_line_commit_older_than_its_parent_does_not_change_the_answer():
    commits = line("m", 30)
    commits["h0"] = (["m20"], 100)
    commits["h1"] = (["h0"], 101)
    commits["m25"] = (["m24"], 23)                  # a clock a few minutes behind
    assert only_in_head(Graph(commits), "h1", "m29", 250, 20_000) == ["h1", "h0"]


def test_the_walk_goes_on_a_little_once_only_base_is_queued():
    # `mid`'s clock is behind: it is older than `x`, which it reaches. Once `x` is taken
    # (from head) only `mid` is queued; walking on a few commits paints `x` from base
    commits = {"x": ([], 50), "mid": (["x"], 40), "base": (["mid"], 60), "h0": (["x"], 100)}
    assert only_in_head(Graph(commits), "h0", "base", 250, 20_000) == ["h0"]
