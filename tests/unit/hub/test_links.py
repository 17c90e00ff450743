"""Links: issue keys in messages, branches, titles and bodies (and the shapes that are not
keys), a PR's commits, a build's commit, a deploy message's build and commit; re-runs and
incremental refreshes write only what changed."""

from __future__ import annotations

from dihub.hub import refresh
from dihub.hub.links import link_id
from dihub.models.records import Build, Commit, Issue, PullRequest, SlackEvent
from tests.unit.hub.hubdata import put, settings, settled_clock, store

B0, H1, H2, M = "b0" * 20, "a1" * 20, "a2" * 20, "cc" * 20
C1, C2, C3 = "c1" * 20, "c2" * 20, "c3" * 20


def _commit(sha, message, parents=(), branch="main", ts="2026-03-02T10:00:00Z"):
    return Commit(source="git", source_id=sha, commit_id=sha, repo="shop", branch=branch,
                  message=message, parents=list(parents), timestamp=ts, updated_at=ts)


def _issue(source, source_id, key, project, ts="2026-03-01T00:00:00Z"):
    return Issue(source=source, source_id=source_id, issue_id=key, project_key=project,
                 summary=key, updated_at=ts)


def _base(s):
    put(s,
        _issue("jira", "10001", "ENG-1", "ENG"), _issue("jira", "10002", "ENG-2", "ENG"),
        _issue("github", "7:5", "5", "acme/shop"),
        PullRequest(source="github", source_id="7:7", number=7, repo="acme/shop",
                    title="Checkout (ENG-2)", body="Closes #5. Times are ISO-8601, UTF-8.",
                    state="merged", head_sha=H2, head_ref="feature/eng-2",
                    merge_commit_sha=M, merged_at="2026-03-03T12:00:00Z",
                    updated_at="2026-03-03T12:00:00Z"),
        _commit(B0, "root"),
        _commit(H1, "ENG-2 start", [B0], branch="feature/eng-2"),
        _commit(H2, "more", [H1], branch="feature/eng-2"),
        _commit(M, "Merge pull request #7 from acme/feature", [B0, H2]),
        _commit(C1, "ENG-1: handle UTF-8 names, ISO-8601 dates and SHA-256 sums"),
        _commit(C2, "UTF-8 everywhere; fixes ENG-99 and #5", branch="fix/ENG-1-utf8"),
        Build(source="github", source_id="7:555:1", build_id="github_actions:7:555:1",
              repo="acme/shop", run_id="555", head_sha=M, updated_at="2026-03-03T13:00:00Z"),
        SlackEvent(source="slack", source_id="C9:1.0", event_id="C9:1.0", channel_id="C9",
                   ts="1.0", timestamp="2026-03-03T14:00:00Z", tags=["deploy_notification"],
                   text="Deployed https://github.com/acme/shop/actions/runs/555 (c1c1c1c) "
                        "to production", updated_at="2026-03-03T14:00:00Z"))


def _links(s):
    return {(d["from_id"], d["kind"], d["to_id"], tuple(d["evidence"]), d["active"])
            for d in s.iter_records("links", source="hub")}


CFG = "links: {repos: {git: acme/shop}}\n"


def test_links_of_every_kind_and_no_false_keys(tmp_path):
    s = store(tmp_path)
    _base(s)
    result = refresh(s, settings(tmp_path, CFG))
    pr, build = "github:pull_requests:7:7", "github:builds:7:555:1"
    msg = "slack:slack_events:C9:1.0"
    eng1, eng2, gh5 = "jira:issues:10001", "jira:issues:10002", "github:issues:7:5"
    assert _links(s) == {
        (f"git:commits:{H1}", "mentions_issue", eng2, ("message: ENG-2",), True),
        (f"git:commits:{M}", "mentions_pull_request", pr, ("message: #7",), True),
        (f"git:commits:{C1}", "mentions_issue", eng1, ("message: ENG-1",), True),
        # UTF-8, ISO-8601, SHA-256: no project UTF, ISO or SHA; ENG-99 is not stored
        (f"git:commits:{C2}", "mentions_issue", gh5, ("message: #5",), True),
        (f"git:commits:{C2}", "mentions_issue", eng1, ("branch: ENG-1",), True),
        (pr, "mentions_issue", eng2, ("title: ENG-2",), True),
        (pr, "mentions_issue", gh5, ("body: #5",), True),
        (pr, "pr_head_commit", f"git:commits:{H2}", ("head_sha",), True),
        (pr, "pr_merge_commit", f"git:commits:{M}", ("merge_sha",), True),
        (pr, "pr_commit", f"git:commits:{H1}", ("reachable from head, not from base",), True),
        (pr, "pr_commit", f"git:commits:{H2}", ("reachable from head, not from base",), True),
        (build, "build_commit", f"git:commits:{M}", ("head_sha",), True),
        (msg, "deploy_build", build, ("run 555",), True),
        (msg, "deploy_commit", f"git:commits:{C1}", ("sha c1c1c1c",), True),
    }
    assert result.links["inserted"] == 14
    ids = {d["_id"] for d in s.iter_records("links", source="hub")}
    assert f"hub:links:{link_id('build_commit', build, 'git:commits:' + M)}" in ids

    again = refresh(s, settings(tmp_path, CFG))
    assert again.linked_records == 0 and again.links == {"inserted": 0, "updated": 0,
                                                         "unchanged": 0}
    full = refresh(s, settings(tmp_path, CFG), full=True)
    assert full.links == {"inserted": 0, "updated": 0, "unchanged": 14}


def test_an_incremental_refresh_touches_only_what_changed(tmp_path, monkeypatch):
    settled_clock(monkeypatch)
    s = store(tmp_path)
    _base(s)
    cfg = settings(tmp_path, CFG)
    refresh(s, cfg)
    before = _links(s)

    # one new commit: only it is read and linked
    put(s, _commit(C3, "ENG-2 polish", [M], ts="2026-03-04T10:00:00Z"),
        at="2026-03-04T10:00:05Z")
    result = refresh(s, cfg)
    assert result.read["commits"] == 1 and result.linked_records == 1
    assert result.links == {"inserted": 1, "updated": 0, "unchanged": 0}
    assert _links(s) - before == {(f"git:commits:{C3}", "mentions_issue",
                                   "jira:issues:10002", ("message: ENG-2",), True)}

    # ENG-99 arrives: the commit that named it (and only it) is linked again
    put(s, _issue("jira", "10099", "ENG-99", "ENG", ts="2026-03-05T00:00:00Z"),
        at="2026-03-05T00:00:05Z")
    result = refresh(s, cfg)
    assert result.read["issues"] == 1 and result.linked_records == 1
    assert result.links == {"inserted": 1, "updated": 0, "unchanged": 2}
    assert (f"git:commits:{C2}", "mentions_issue", "jira:issues:10099",
            ("message: ENG-99",), True) in _links(s)

    # a project UTF appears: now UTF-8 is an issue key, and C1, C2 and the PR link to it
    put(s, _issue("jira", "20008", "UTF-8", "UTF", ts="2026-03-06T00:00:00Z"),
        at="2026-03-06T00:00:05Z")
    result = refresh(s, cfg)
    assert result.linked_records == 3
    assert result.links["inserted"] == 3
    utf = {(f, e) for f, k, t, e, _ in _links(s) if t == "jira:issues:20008"}
    assert utf == {(f"git:commits:{C1}", ("message: UTF-8",)),
                   (f"git:commits:{C2}", ("message: UTF-8",)),
                   ("github:pull_requests:7:7", ("body: UTF-8",))}

    # a PR title edited: the link it no longer has stays, inactive
    put(s, PullRequest(source="github", source_id="7:7", number=7, repo="acme/shop",
                       title="Checkout", body="Closes #5.", state="merged", head_sha=H2,
                       merge_commit_sha=M, merged_at="2026-03-03T12:00:00Z",
                       updated_at="2026-03-07T00:00:00Z"), at="2026-03-07T00:00:05Z")
    result = refresh(s, cfg)
    assert result.linked_records == 1
    assert ("github:pull_requests:7:7", "mentions_issue", "jira:issues:10002",
            ("title: ENG-2",), False) in _links(s)


def test_configured_patterns_and_project_keys(tmp_path):
    s = store(tmp_path)
    put(s, _issue("jira", "30001", "OPS-12", "OPS"),
        _commit(C1, "ticket 12 done; SHA-256 checked"))
    extra = ("links: {project_keys: [SHA], patterns: [{pattern: 'ticket (\\d+)', "
             "key: 'OPS-{1}'}]}\n")
    refresh(s, settings(tmp_path, extra))
    # SHA is a declared project but SHA-256 is not a stored issue: no link
    assert _links(s) == {(f"git:commits:{C1}", "mentions_issue", "jira:issues:30001",
                          ("message: ticket 12",), True)}
