"""Builders of single API items, each a deep copy of a recorded fixture item with its
identity (ids, shas, numbers, timestamps, users, URLs) overwritten.

Nested user and repository objects are shared references into the dataset's pools;
replace them rather than mutating them in place.
"""

from __future__ import annotations

import copy
import marshal
from typing import Any

from . import fixtures
from .common import API, WEB, node_id

_TEMPLATES: dict[str, bytes] = {}


def _template(kind: str) -> dict[str, Any]:
    """The fixture item for `kind`, with heavy nested objects removed (set per item)."""
    if kind not in _TEMPLATES:
        if kind == "commit":
            item = fixtures.first_item(fixtures.COMMIT)
            item["author"] = item["committer"] = None
        elif kind == "pull":
            item = fixtures.first_item(fixtures.PULL)
            for side in ("head", "base"):
                item[side]["user"] = item[side]["repo"] = None
            item["user"] = item["assignee"] = item["milestone"] = None
        elif kind == "issue":
            item = fixtures.first_item(fixtures.ISSUE_PAGES)
            item["user"] = None
        elif kind == "run":
            item = fixtures.first_item(fixtures.RUN_PAGES)
            for key in ("actor", "triggering_actor", "repository", "head_repository"):
                item[key] = None
        elif kind == "repo":
            item = fixtures.first_item(fixtures.PULL)["base"]["repo"]
        else:
            raise KeyError(kind)
        _TEMPLATES[kind] = marshal.dumps(item)
    return marshal.loads(_TEMPLATES[kind])      # a deep copy of plain JSON data, fast


def repository(full_name: str, repo_id: int, owner: dict[str, Any], *, created_at: str,
               pushed_at: str, private: bool = False) -> dict[str, Any]:
    """GET /repos/{o}/{r}: the docs example repository of pulls-list.docs-example.go-scm."""
    repo = _template("repo")
    old = "octocat/Hello-World"
    for key, value in repo.items():
        if isinstance(value, str) and old in value:
            value = value.replace(old, full_name).replace("http://", "https://")
            repo[key] = value.replace("git:github.com", "git://github.com")
    name = full_name.split("/", 1)[1]
    repo.update(
        id=repo_id, node_id=node_id("Repository", repo_id), name=name, full_name=full_name,
        owner=owner, private=private, fork=False, description=f"{name} (simulated)",
        url=f"{API}/repos/{full_name}", html_url=f"{WEB}/{full_name}",
        mirror_url=None, homepage=None, language="Python", topics=[], default_branch="main",
        created_at=created_at, updated_at=pushed_at, pushed_at=pushed_at,
        forks_count=0, stargazers_count=0, watchers_count=0, open_issues_count=0,
        visibility="private" if private else "public",
    )
    return repo


def minimal_repository(full: dict[str, Any]) -> dict[str, Any]:
    """The `repository` object of a workflow run (actions-runs-list fixture), for `full`."""
    mini = fixtures.first_item(fixtures.RUN_PAGES)["repository"]
    old = "<GITHUB_LOGIN>/<GITHUB_TEST_REPOSITORY>"
    for key, value in mini.items():
        if isinstance(value, str) and old in value:
            mini[key] = value.replace(old, full["full_name"])
    for key in ("id", "node_id", "name", "full_name", "private", "owner", "description",
                "fork", "url", "html_url"):
        mini[key] = full[key]
    return mini


def commit(full_name: str, sha: str, *, parents: list[str], message: str,
           author: dict | None, committer: dict | None, author_ident: tuple[str, str],
           committer_ident: tuple[str, str], authored_at: str, committed_at: str) -> dict:
    """An item of GET /repos/{o}/{r}/commits (commits-list.openapi-example.json)."""
    item = _template("commit")
    item.update(
        url=f"{API}/repos/{full_name}/commits/{sha}", sha=sha,
        node_id=node_id("Commit", sha), html_url=f"{WEB}/{full_name}/commit/{sha}",
        comments_url=f"{API}/repos/{full_name}/commits/{sha}/comments",
        author=author, committer=committer,
        parents=[{"url": f"{API}/repos/{full_name}/commits/{p}", "sha": p,
                  "html_url": f"{WEB}/{full_name}/commit/{p}"} for p in parents],
    )
    inner = item["commit"]
    inner["url"] = f"{API}/repos/{full_name}/git/commits/{sha}"
    inner["author"] = {"name": author_ident[0], "email": author_ident[1], "date": authored_at}
    inner["committer"] = {"name": committer_ident[0], "email": committer_ident[1],
                          "date": committed_at}
    inner["message"] = message
    tree = sha[::-1]
    inner["tree"] = {"url": f"{API}/repos/{full_name}/git/trees/{tree}", "sha": tree}
    return item


def label(full_name: str, label_id: int, name: str, color: str) -> dict[str, Any]:
    """A label object (shape of issues-list.docs-example.go-scm.json labels[0])."""
    item = copy.deepcopy(fixtures.first_item(fixtures.ISSUE_DOCS)["labels"][0])
    item.update(id=label_id, node_id=node_id("Label", label_id),
                url=f"{API}/repos/{full_name}/labels/{name}", name=name, color=color,
                default=name == "bug", description=None)
    return item


def issue(full_name: str, number: int, issue_id: int, *, user: dict, title: str,
          body: str | None, state: str, state_reason: str | None, created_at: str,
          updated_at: str, closed_at: str | None, labels: list[dict],
          assignees: list[dict], comments: int, author_association: str,
          pull: dict | None = None) -> dict[str, Any]:
    """An item of GET /repos/{o}/{r}/issues (the paginated octokit/fixtures shape).

    `pull` ({merged_at, draft}) makes it the issue side of a pull request: it then
    carries the `pull_request` key, as the real issues endpoint does for every PR.
    """
    item = _template("issue")
    base = f"{API}/repos/{full_name}/issues/{number}"
    item.update(
        url=base, repository_url=f"{API}/repos/{full_name}",
        labels_url=base + "/labels{/name}", comments_url=base + "/comments",
        events_url=base + "/events", html_url=f"{WEB}/{full_name}/issues/{number}",
        id=issue_id, node_id=node_id("Issue", issue_id), number=number, title=title,
        user=user, labels=labels, state=state, assignee=assignees[0] if assignees else None,
        assignees=assignees, comments=comments, created_at=created_at,
        updated_at=updated_at, closed_at=closed_at, author_association=author_association,
        body=body, timeline_url=base + "/timeline", state_reason=state_reason,
    )
    item["reactions"]["url"] = base + "/reactions"
    if pull is not None:
        item["html_url"] = f"{WEB}/{full_name}/pull/{number}"
        item["draft"] = pull["draft"]
        item["pull_request"] = {
            "url": f"{API}/repos/{full_name}/pulls/{number}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
            "merged_at": pull["merged_at"],
        }
    return item


def review(full_name: str, number: int, review_id: int, *, user: dict, state: str,
           submitted_at: str, commit_id: str, author_association: str) -> dict:
    """An item of GET /repos/{o}/{r}/pulls/{number}/reviews. No recorded response is among
    the fixtures: the fields and example of GitHub's REST reference ("List reviews for a
    pull request"), with the dataset's ids, users and times."""
    pr_url = f"{API}/repos/{full_name}/pulls/{number}"
    html = f"{WEB}/{full_name}/pull/{number}#pullrequestreview-{review_id}"
    body = {"APPROVED": "", "CHANGES_REQUESTED": "Please add a test for the error path.",
            "COMMENTED": "A few notes inline.", "DISMISSED": ""}.get(state, "")
    return {
        "id": review_id, "node_id": node_id("PullRequestReview", review_id), "user": user,
        "body": body, "state": state, "html_url": html, "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "submitted_at": submitted_at, "commit_id": commit_id,
        "author_association": author_association,
    }


def pull(full_name: str, number: int, pr_id: int, *, repo: dict, owner: dict, user: dict,
         title: str, body: str | None, state: str, draft: bool, created_at: str,
         updated_at: str, closed_at: str | None, merged_at: str | None,
         merge_commit_sha: str | None, head_ref: str, head_sha: str, base_sha: str,
         labels: list[dict], assignees: list[dict], author_association: str) -> dict:
    """An item of GET /repos/{o}/{r}/pulls (pulls-list.docs-example.go-scm.json).

    The 2014-era docs copy lacks fields the current API returns (node_id,
    merge_commit_sha, labels, assignees, requested_reviewers, requested_teams,
    author_association, auto_merge, active_lock_reason); they are added here.
    """
    item = _template("pull")
    api = f"{API}/repos/{full_name}"
    item.update(
        id=pr_id, node_id=node_id("PullRequest", pr_id), url=f"{api}/pulls/{number}",
        html_url=f"{WEB}/{full_name}/pull/{number}",
        diff_url=f"{WEB}/{full_name}/pull/{number}.diff",
        patch_url=f"{WEB}/{full_name}/pull/{number}.patch",
        issue_url=f"{api}/issues/{number}", commits_url=f"{api}/pulls/{number}/commits",
        review_comments_url=f"{api}/pulls/{number}/comments",
        review_comment_url=f"{api}/pulls/comments{{/number}}",
        comments_url=f"{api}/issues/{number}/comments",
        statuses_url=f"{api}/statuses/{head_sha}", number=number, draft=draft, state=state,
        title=title, body=body, assignee=assignees[0] if assignees else None,
        created_at=created_at, updated_at=updated_at, closed_at=closed_at,
        merged_at=merged_at, merge_commit_sha=merge_commit_sha, user=user, labels=labels,
        assignees=assignees, requested_reviewers=[], requested_teams=[],
        author_association=author_association, auto_merge=None, active_lock_reason=None,
    )
    item["head"].update(label=f"{owner['login']}:{head_ref}", ref=head_ref, sha=head_sha,
                        user=owner, repo=repo)
    item["base"].update(label=f"{owner['login']}:main", ref="main", sha=base_sha,
                        user=owner, repo=repo)
    links = item["_links"]
    links["self"]["href"] = item["url"]
    links["html"]["href"] = item["html_url"]
    links["issue"]["href"] = item["issue_url"]
    links["comments"]["href"] = item["comments_url"]
    links["review_comments"]["href"] = item["review_comments_url"]
    links["review_comment"]["href"] = item["review_comment_url"]
    links["commits"]["href"] = item["commits_url"]
    links["statuses"]["href"] = item["statuses_url"]
    return item


def run_attempt(full_name: str, run_id: int, attempt: int, *, workflow: dict,
                run_number: int, event: str, status: str, conclusion: str | None,
                created_at: str, started_at: str, updated_at: str, head_branch: str,
                head_commit: dict, actor: dict, triggering_actor: dict,
                check_suite_id: int, repo: dict) -> dict[str, Any]:
    """One attempt of a workflow run (actions-runs-list.paginated-3-pages.octokit-rb).

    Attempts share `id`; `previous_attempt_url` points at attempts/{n-1}.
    """
    item = _template("run")
    api = f"{API}/repos/{full_name}/actions"
    inner = head_commit["commit"]
    item.update(
        id=run_id, name=workflow["name"], node_id=node_id("WorkflowRun", run_id),
        head_branch=head_branch, head_sha=head_commit["sha"], path=workflow["path"],
        display_title=inner["message"].split("\n", 1)[0], run_number=run_number,
        event=event, status=status, conclusion=conclusion, workflow_id=workflow["id"],
        check_suite_id=check_suite_id, check_suite_node_id=node_id("CheckSuite", check_suite_id),
        url=f"{api}/runs/{run_id}", html_url=f"{WEB}/{full_name}/actions/runs/{run_id}",
        pull_requests=[], created_at=created_at, updated_at=updated_at, actor=actor,
        run_attempt=attempt, referenced_workflows=[], run_started_at=started_at,
        triggering_actor=triggering_actor, jobs_url=f"{api}/runs/{run_id}/jobs",
        logs_url=f"{api}/runs/{run_id}/logs",
        check_suite_url=f"{API}/repos/{full_name}/check-suites/{check_suite_id}",
        artifacts_url=f"{api}/runs/{run_id}/artifacts",
        cancel_url=f"{api}/runs/{run_id}/cancel", rerun_url=f"{api}/runs/{run_id}/rerun",
        previous_attempt_url=(f"{api}/runs/{run_id}/attempts/{attempt - 1}"
                              if attempt > 1 else None),
        workflow_url=f"{api}/workflows/{workflow['id']}",
        head_commit={
            "id": head_commit["sha"], "tree_id": inner["tree"]["sha"],
            "message": inner["message"], "timestamp": inner["committer"]["date"],
            "author": {k: inner["author"][k] for k in ("name", "email")},
            "committer": {k: inner["committer"][k] for k in ("name", "email")},
        },
        repository=repo, head_repository=repo,
    )
    return item
