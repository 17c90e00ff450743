"""A hand-built dataset (git, GitHub, Jira and Slack records) for the DORA and flow metrics.

Every expected value in tests/unit/hub/test_dora.py, test_flow.py and
tests/integration/test_report.py is worked out by hand from the timeline below (all UTC;
the window is 2026-03-02 00:00 to 2026-03-16 00:00: ISO weeks 2026-W10 and 2026-W11).

git (source `git`, repo `shop`); `acme/shop` builds on `github`:
  c1  02-27 10:00  root                         deployed by D0 02-27 12:00 (before the window)
  c2  03-02 09:00  c1   alice "SHOP-1 add cart"
  c3  03-02 11:00  c2   bob   "fix typo"         D1 03-02 15:00 head c3: c2 6 h, c3 4 h
  c4  03-03 08:00  c3   alice "SHOP-2 checkout"
  c5  03-03 09:00  c3   bob   "#12 side branch"
  m6  03-03 12:00  c4,c5 merge (not counted)     D2 03-04 12:00 head m6: c4 28 h, c5 27 h
  c7  03-09 10:00  m6   alice "SHOP-3 search"
  c8  03-10 13:00  c7   bob   (clock ahead)      D3 03-10 12:00 head c8: c7 26 h, c8 -1 h
                                                 (dropped); attempt 2 at 12:30 is the same
  c9  03-13 10:00  c8   carol (also on github)   D4 03-13 16:00 head c9: c9 6 h
  not deployments: the deploy workflow failing 03-03 10:00, on branch feature/x, and CI.

incidents: OPS-1 (Jira type Incident) opened 03-04 18:00, Done 22:00 (4 h) -> D2 failed;
  GitHub issue #20 labelled incident opened 03-11 09:00, closed 15:00 (6 h) -> D3 failed;
  OPS-3 opened 03-12 10:00, unresolved -> D3.

Jira SHOP (sprint 1: 03-02 08:30 to 03-13 17:00):
  SHOP-1 3 pt  created 02-25 09:00; In Progress 03-02 09:00; Done 03-04 09:00
  SHOP-2 5 pt  created 03-01 09:00; In Progress 03-03 09:00; Done 03-05 09:00; reopened
               (In Progress) 03-09 09:00; Done 03-10 21:00
  SHOP-3 2 pt  created 03-02 10:00 (after the start, in the sprint); In Progress 03-06 12:00
  SHOP-4 8 pt  created 03-03 10:00; added to the sprint 03-04 10:00; In Progress 03-05
               10:00; In Review 03-12 10:00
  SHOP-5 --    created 03-02 08:00; To Do -> Done 03-11 10:00 (never in progress)
  SHOP-6 1 pt  created 02-20; into the sprint 02-28; out of it 03-06; To Do
  SHOP-7 1 pt  created 03-09 09:00; In Progress 03-10 09:00 (no sprint)

pull requests (acme/shop): #12 opened 03-03 08:30, reviewed by alice (its author) 09:00 and
  bob 10:30, merged 12:00; #13 opened 03-09 09:00, pending review 10:00, carol 15:00,
  merged 03-10 09:00; #14 opened 03-12, open.

Slack: users U1 (alice@example.com) and U2 (no email), a deploy notification.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dihub.models.documents import to_document
from dihub.models.records import (
    Build,
    Commit,
    Issue,
    PullRequest,
    Review,
    SlackEvent,
    Sprint,
    SprintChange,
    Transition,
    User,
)

SINCE = "2026-03-02T00:00:00Z"
UNTIL = "2026-03-16T00:00:00Z"
INGESTED = "2026-03-20T00:00:00Z"


def t(month_day_hour: str) -> str:
    """'03-02 09:00' -> '2026-03-02T09:00:00Z'"""
    day, hour = month_day_hour.split()
    return f"2026-{day}T{hour}:00Z"


AUTHORS = {"alice": ("Alice", "alice@example.com"), "bob": ("Bob", "bob@example.com"),
           "carol": ("Carol", "carol@example.com")}


def _commit(sha: str, when: str, parents: list[str], who: str, message: str,
            source: str = "git", repo: str = "shop") -> Commit:
    name, email = AUTHORS[who]
    return Commit(source=source, source_id=sha, commit_id=sha, repo=repo, branch="main",
                  author_id=f"email:{email}", committer_id=f"email:{email}",
                  author_name=name, author_email=email, committer_name=name,
                  committer_email=email, message=message, timestamp=t(when),
                  authored_at=t(when), parents=parents, updated_at=t(when))


def _build(run: str, when: str, sha: str, *, workflow: str = "Deploy production",
           conclusion: str = "success", branch: str = "main", attempt: int = 1) -> Build:
    return Build(source="github", source_id=f"1:{run}:{attempt}",
                 build_id=f"github_actions:1:{run}:{attempt}", repo="acme/shop",
                 workflow_name=workflow, workflow_id="77" if workflow.startswith("Deploy")
                 else "78", run_id=run, run_attempt=attempt, head_sha=sha, branch=branch,
                 event="push", status="completed", conclusion=conclusion,
                 created_at=t(when), started_at=t(when), completed_at=t(when),
                 updated_at=t(when))


def _tr(when: str, frm: str | None, to: str) -> Transition:
    return Transition(from_status=frm, to_status=to, timestamp=t(when))


def _jira(key: str, created: str, status: str, category: str, transitions: list,
          *, points: float | None = None, sprints: list[str] | None = None,
          changes: list | None = None, type_: str = "Story", assignee: str = "acc-alice",
          resolved: str | None = None) -> Issue:
    return Issue(source="jira", source_id=key.replace("-", ""), issue_id=key,
                 project_key=key.split("-")[0], summary=key, status=status,
                 status_category=category, type=type_, story_points=points,
                 assignee_id=assignee, sprint_ids=sprints or [], created_at=t(created),
                 resolved_at=t(resolved) if resolved else None,
                 updated_at=t(created), transitions=transitions,
                 sprint_changes=changes or [])


def records() -> list:
    c = _commit
    commits = [
        c("c1", "02-27 10:00", [], "alice", "initial"),
        c("c2", "03-02 09:00", ["c1"], "alice", "SHOP-1 add cart"),
        c("c3", "03-02 11:00", ["c2"], "bob", "fix typo"),
        c("c4", "03-03 08:00", ["c3"], "alice", "SHOP-2 checkout"),
        c("c5", "03-03 09:00", ["c3"], "bob", "#12 side branch"),
        c("m6", "03-03 12:00", ["c4", "c5"], "bob", "Merge pull request #12"),
        c("c7", "03-09 10:00", ["m6"], "alice", "SHOP-3 search"),
        c("c8", "03-10 13:00", ["c7"], "bob", "bump version"),
        c("c9", "03-13 10:00", ["c8"], "carol", "tidy"),
        c("c9", "03-13 10:00", ["c8"], "carol", "tidy", source="github", repo="acme/shop"),
    ]
    builds = [
        _build("100", "02-27 12:00", "c1"),
        _build("101", "03-02 15:00", "c3"),
        _build("102", "03-03 10:00", "c4", conclusion="failure"),
        _build("103", "03-04 12:00", "m6"),
        _build("104", "03-10 12:00", "c8"),
        _build("104", "03-10 12:30", "c8", attempt=2),
        _build("105", "03-13 16:00", "c9"),
        _build("106", "03-05 10:00", "c5", branch="feature/x"),
        _build("107", "03-05 11:00", "c4", workflow="CI"),
    ]
    sc = SprintChange
    issues = [
        _jira("SHOP-1", "02-25 09:00", "Done", "done",
              [_tr("03-02 09:00", "To Do", "In Progress"), _tr("03-04 09:00", "In Progress",
                                                               "Done")],
              points=3, sprints=["1"], resolved="03-04 09:00"),
        _jira("SHOP-2", "03-01 09:00", "Done", "done",
              [_tr("03-03 09:00", "To Do", "In Progress"),
               _tr("03-05 09:00", "In Progress", "Done"),
               _tr("03-09 09:00", "Done", "In Progress"),
               _tr("03-10 21:00", "In Progress", "Done")],
              points=5, sprints=["1"], resolved="03-10 21:00", assignee="acc-bob"),
        _jira("SHOP-3", "03-02 10:00", "In Progress", "indeterminate",
              [_tr("03-06 12:00", "To Do", "In Progress")], points=2, sprints=["1"]),
        _jira("SHOP-4", "03-03 10:00", "In Review", "indeterminate",
              [_tr("03-05 10:00", "To Do", "In Progress"),
               _tr("03-12 10:00", "In Progress", "In Review")],
              points=8, sprints=["1"],
              changes=[sc(from_sprint_ids=[], to_sprint_ids=["1"], timestamp=t("03-04 10:00"))]),
        _jira("SHOP-5", "03-02 08:00", "Done", "done",
              [_tr("03-11 10:00", "To Do", "Done")], sprints=["1"], resolved="03-11 10:00"),
        _jira("SHOP-6", "02-20 09:00", "To Do", "new", [], points=1, sprints=[],
              changes=[sc(from_sprint_ids=[], to_sprint_ids=["1"], timestamp=t("02-28 09:00")),
                       sc(from_sprint_ids=["1"], to_sprint_ids=[], timestamp=t("03-06 09:00"))]),
        _jira("SHOP-7", "03-09 09:00", "In Progress", "indeterminate",
              [_tr("03-10 09:00", "To Do", "In Progress")], points=1),
        _jira("OPS-1", "03-04 18:00", "Done", "done",
              [_tr("03-04 19:00", "To Do", "In Progress"),
               _tr("03-04 22:00", "In Progress", "Done")],
              type_="Incident", resolved="03-04 22:00", assignee="acc-carol"),
        _jira("OPS-3", "03-12 10:00", "To Do", "new", [], type_="Incident",
              assignee="acc-carol"),
        Issue(source="github", source_id="1:20", issue_id="20", project_key="acme/shop",
              summary="checkout down", status="closed", status_category="done",
              type="issue", labels=["incident", "sev1"], created_at=t("03-11 09:00"),
              resolved_at=t("03-11 15:00"), updated_at=t("03-11 15:00")),
    ]
    sprints = [Sprint(source="jira", source_id="1", sprint_id="1", board_id="7",
                      name="Sprint 1", state="closed", start_date=t("03-02 08:30"),
                      end_date=t("03-13 17:00"), complete_date=t("03-13 17:00"),
                      updated_at=t("03-13 17:00"))]
    pulls = [
        PullRequest(source="github", source_id="1:12", number=12, repo="acme/shop",
                    state="merged", author_id="1001", created_at=t("03-03 08:30"),
                    merged_at=t("03-03 12:00"), closed_at=t("03-03 12:00"),
                    updated_at=t("03-03 12:00")),
        PullRequest(source="github", source_id="1:13", number=13, repo="acme/shop",
                    state="merged", author_id="1003", created_at=t("03-09 09:00"),
                    merged_at=t("03-10 09:00"), closed_at=t("03-10 09:00"),
                    updated_at=t("03-10 09:00")),
        PullRequest(source="github", source_id="1:14", number=14, repo="acme/shop",
                    state="open", author_id="1001", created_at=t("03-12 09:00"),
                    updated_at=t("03-12 09:00")),
    ]

    def review(rid: str, number: int, who: str, state: str, when: str) -> Review:
        return Review(source="github", source_id=rid, review_id=rid, repo="acme/shop",
                      number=number, pull_request_id=f"github:pull_requests:1:{number}",
                      reviewer_id=who, state=state, submitted_at=t(when), updated_at=t(when))

    reviews = [review("r1", 12, "1001", "COMMENTED", "03-03 09:00"),
               review("r2", 12, "1002", "APPROVED", "03-03 10:30"),
               review("r3", 13, "1002", "PENDING", "03-09 10:00"),
               review("r4", 13, "1004", "APPROVED", "03-09 15:00")]
    users = [
        User(source="git", source_id="email:alice@example.com",
             user_id="email:alice@example.com", source_user_id="email:alice@example.com",
             display_name="Alice", email="alice@example.com"),
        User(source="github", source_id="1001", user_id="1001", source_user_id="1001",
             login="alice", email="alice@example.com"),
        User(source="jira", source_id="acc-alice", user_id="acc-alice",
             source_user_id="acc-alice", display_name="Alice"),
        User(source="slack", source_id="U1", user_id="U1", source_user_id="U1",
             login="alice", email="alice@example.com"),
        User(source="slack", source_id="U2", user_id="U2", source_user_id="U2", login="dave"),
    ]
    slack = [SlackEvent(source="slack", source_id="C1:1773403200.000100", event_id="e1",
                        channel_id="C1", channel_name="deploys", bot_id="B1",
                        ts="1773403200.000100", timestamp=t("03-13 16:01"),
                        tags=["deploy_notification"], updated_at=t("03-13 16:01"))]
    return [*commits, *builds, *issues, *sprints, *pulls, *reviews, *users, *slack]


def fill(store, extra: list | None = None, ingested_at: str | None = None) -> None:
    """Write the dataset (stamped INGESTED) or `extra` records (stamped now, as a sync
    would) into `store` as the engine would."""
    if ingested_at is None:
        ingested_at = INGESTED if extra is None else datetime.now(UTC).isoformat().replace(
            "+00:00", "Z")
    docs = [to_document(r, ingested_at) for r in (extra if extra is not None else records())]
    store.upsert_many(docs)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()
