"""Links between stored records: which issue a commit or PR is about, which commits a PR
shipped, which commit a build ran on, which build a deploy message announces.

Each link is a `links` record of source `hub`: `from_id` and `to_id` are record `_id`s,
`kind` says what the link is, `evidence` where it was found. Its id is the SHA-256 of
(kind, from, to), so a re-run finds the same link and writes nothing.

Kinds:

* `mentions_issue` / `mentions_pull_request`: a commit (message, branch) or a pull request
  (title, body, head branch) names an issue: a Jira key `ABC-123` whose project exists in
  the store (or in `links.project_keys`), so `UTF-8`, `ISO-8601` and `SHA-256` are not
  keys unless a project UTF, ISO or SHA exists; `#123` (the same repository),
  `owner/repo#123`, `group/project#123` or an issue/pull URL; or a configured pattern.
* `pr_head_commit`, `pr_merge_commit`, `pr_commit`: a pull request's head commit, merge
  commit (merged pull requests) and the commits it brought (reachable from its head and
  not from the merge commit's first parent, at most MAX_PR_COMMITS).
* `build_commit`: a build and the commit it ran on (`head_sha`).
* `deploy_build`, `deploy_commit`: a Slack message tagged `deploy_notification` and the
  GitHub Actions run (a `/actions/runs/ID` URL) or commit (a sha of 7+ hex digits that
  matches one stored commit) it names. Needs the message text (`store_text: true`).

A reference that cannot be resolved yet (the issue or commit is not stored) is remembered
as pending; when that target arrives, the records that named it are linked again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dihub.hub.dataset import HUB_SOURCE, Dataset
from dihub.hub.history import only_in_head
from dihub.models.records import Link

MAX_PR_COMMITS = 250        # as GitHub's own pull request commit list
MAX_WALK = 20_000           # commits looked at per pull request (dihub.hub.history)
DEPLOY_TAG = "deploy_notification"

JIRA_KEY = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Z][A-Z0-9_]+)-([1-9][0-9]*)(?![A-Za-z0-9_])")
REPO_REF = re.compile(r"(?<![\w/.\-])((?:[A-Za-z0-9_.\-]+/)+[A-Za-z0-9_.\-]+)#([0-9]+)\b")
LOCAL_REF = re.compile(r"(?<![\w/&])#([0-9]+)\b")
ITEM_URL = re.compile(r"https?://[^/\s]+/((?:[A-Za-z0-9_.\-]+/)+?[A-Za-z0-9_.\-]+)/"
                      r"(?:-/)?(?:issues|pull|merge_requests)/([0-9]+)")
RUN_URL = re.compile(r"/actions/runs/([0-9]+)")
SHA = re.compile(r"(?<![0-9A-Za-z])([0-9a-f]{7,40})(?![0-9A-Za-z])")


def link_id(kind: str, from_id: str, to_id: str) -> str:
    return hashlib.sha256(f"{kind}\n{from_id}\n{to_id}".encode()).hexdigest()[:32]


def entity_of(record_id: str) -> str:
    """`<source>:<entity>:<source_id>` -> entity (source names have no colon)."""
    return record_id.split(":", 2)[1]


@dataclass
class Found:
    """What linking one record gave: its links, and the references not resolvable yet."""

    links: dict[str, Link] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def add(self, kind: str, frm: dict[str, Any], to: dict[str, Any], evidence: str) -> None:
        lid = link_id(kind, frm["_id"], to["_id"])
        link = self.links.get(lid)
        if link is None:
            link = self.links[lid] = Link(
                source=HUB_SOURCE, source_id=lid, link_id=lid, kind=kind,
                from_id=frm["_id"], from_entity=frm.get("entity") or entity_of(frm["_id"]),
                to_id=to["_id"], to_entity=to.get("entity") or entity_of(to["_id"]),
                updated_at=frm.get("updated_at"))
        if evidence not in link.evidence:
            link.evidence = sorted([*link.evidence, evidence])


class Linker:
    """Finds the links of one record at a time, against a Dataset's lookups."""

    def __init__(self, dataset: Dataset, settings: Any = None):
        self.ds = dataset
        cfg = getattr(settings, "links", None)
        self.patterns = [(re.compile(p.pattern), p.key) for p in
                         (getattr(cfg, "patterns", None) or [])]
        self.repos: dict[str, str] = dict(getattr(cfg, "repos", None) or {})
        # a git commit's GitHub/GitLab copy can only be found when such a source is
        # configured (or when the sources are unknown): otherwise no lookup by sha
        known = dataset.connectors()
        self.copies = not known or any(c in ("github", "gitlab") for c in known.values())

    def links_of(self, doc: dict[str, Any]) -> Found:
        found = Found()
        entity = doc.get("entity") or entity_of(doc["_id"])
        if entity == "commits":
            message = doc.get("message")
            # the repository only matters to `#123` and the configured patterns; for a git
            # commit it means looking up the commit's GitHub/GitLab copy by sha
            repo = self._repo_of_commit(doc) if self.patterns or (
                message and LOCAL_REF.search(message)) else None
            self._text(found, doc, "message", message, repo)
            for branch in dict.fromkeys([doc.get("branch"), *(doc.get("branches") or [])]):
                self._text(found, doc, "branch", branch, repo, jira_only=True)
        elif entity == "pull_requests":
            repo = doc.get("repo")
            for name in ("title", "body"):
                self._text(found, doc, name, doc.get(name), repo)
            self._text(found, doc, "head_ref", doc.get("head_ref"), repo, jira_only=True)
            self._pull_commits(found, doc)
        elif entity == "builds":
            sha = doc.get("head_sha")
            if sha:
                targets = self.ds.commits_by_sha(sha)
                for commit in targets:
                    found.add("build_commit", doc, commit, "head_sha")
                if not targets:
                    found.pending.add(f"commit:{sha}")
        elif entity == "slack_events" and DEPLOY_TAG in (doc.get("tags") or []):
            self._deploy(found, doc)
        return found

    # -- issue references ----------------------------------------------------
    def references(self, text: str, repo: str | None, jira_only: bool = False
                   ) -> Iterator[tuple[str, str]]:
        """(ref, as written) for each issue reference in `text`: ref is `jira:KEY-1` or
        `repo:owner/name#12` (lower-cased repo)."""
        for pattern, template in self.patterns:
            for m in pattern.finditer(text):
                key = template.format(m.group(0), *m.groups())
                if "#" in key:
                    where, _, number = key.rpartition("#")
                    if where or repo:
                        yield f"repo:{(where or repo).lower()}#{number}", m.group(0)
                else:
                    yield f"jira:{key}", m.group(0)
        # each expression runs only on a text with the character it cannot match without
        # (most commit messages have no `#` and no URL)
        if "-" in text:
            for m in JIRA_KEY.finditer(text):
                yield f"jira:{m.group(1)}-{m.group(2)}", m.group(0)
        if jira_only:
            return
        spans = []
        if "://" in text:
            for m in ITEM_URL.finditer(text):
                spans.append(m.span())
                yield f"repo:{m.group(1).lower()}#{m.group(2)}", m.group(0)
        if "#" not in text:
            return
        for m in REPO_REF.finditer(text):
            if not any(a <= m.start() < b for a, b in spans):
                yield f"repo:{m.group(1).lower()}#{m.group(2)}", m.group(0)
        if repo:
            for m in LOCAL_REF.finditer(text):
                if not any(a <= m.start() < b for a, b in spans):
                    yield f"repo:{repo.lower()}#{m.group(1)}", m.group(0)

    def resolve(self, ref: str) -> dict[str, Any] | None:
        kind, _, value = ref.partition(":")
        if kind == "jira":
            return self.ds.issue_by_key(value)
        if kind == "repo":
            repo, _, number = value.rpartition("#")
            return self.ds.repo_item(repo, number)
        return None

    def _text(self, found: Found, doc: dict[str, Any], where: str, text: str | None,
              repo: str | None, jira_only: bool = False) -> None:
        if not text:
            return
        for ref, written in self.references(text, repo, jira_only):
            target = self.resolve(ref)
            if target is None:
                project = ref[len("jira:"):].rsplit("-", 1)[0] if ref.startswith("jira:") \
                    else None
                # a key-shaped word of an unknown project (UTF-8) waits, as an unknown
                # issue; one of a longer project only when the project is known
                if project is None or len(project) <= 10 or project in self.ds.project_keys():
                    found.pending.add(ref)
                continue
            if target["_id"] == doc["_id"]:
                continue
            kind = "mentions_pull_request" if target.get("entity") == "pull_requests" \
                else "mentions_issue"
            found.add(kind, doc, target, f"{where}: {written}")

    def _repo_of_commit(self, doc: dict[str, Any]) -> str | None:
        """`owner/name` for `#123`: a GitHub commit's repo; for a git commit, `links.repos`
        of its source, else the repo of the same commit synced from GitHub/GitLab."""
        connector = self.ds.connector_of(doc.get("source", ""))
        if connector in ("github", "gitlab"):
            return doc.get("repo")
        if doc.get("source") in self.repos:
            return self.repos[doc["source"]]
        if not self.copies:
            return None
        for other in self.ds.commits_by_sha(doc.get("commit_id") or ""):
            if self.ds.connector_of(other.get("source", "")) in ("github", "gitlab"):
                return other.get("repo")
        return None

    # -- pull requests and their commits -------------------------------------
    def _pull_commits(self, found: Found, pr: dict[str, Any]) -> None:
        head, merge = pr.get("head_sha"), pr.get("merge_commit_sha")
        merged = pr.get("state") == "merged" or bool(pr.get("merged_at"))
        for kind, sha in (("pr_head_commit", head), ("pr_merge_commit", merge if merged
                                                     else None)):
            if not sha:
                continue
            targets = self.ds.commits_by_sha(sha)
            for commit in targets:
                found.add(kind, pr, commit, kind.removeprefix("pr_").replace("_commit", "_sha"))
            if not targets:
                found.pending.add(f"commit:{sha}")
        if not (merged and head and merge):
            return
        base = next((d["parents"][0] for d in self.ds.commits_by_sha(merge)
                     if d.get("parents")), None)
        if base is None:
            return
        for sha in sorted(only_in_head(self.ds, head, base, MAX_PR_COMMITS, MAX_WALK)):
            for commit in self.ds.commits_by_sha(sha):
                found.add("pr_commit", pr, commit, "reachable from head, not from base")

    # -- deploy notifications ------------------------------------------------
    def _deploy(self, found: Found, doc: dict[str, Any]) -> None:
        text = doc.get("text") or ""
        payload = doc.get("payload")
        if payload:
            import json

            text += "\n" + json.dumps(payload, ensure_ascii=False)
        if not text.strip():
            return
        runs = set(RUN_URL.findall(text))
        for run in sorted(runs):
            builds = self.ds.builds_by_run(run)
            for build in builds:
                found.add("deploy_build", doc, build, f"run {run}")
            if not builds:
                found.pending.add(f"run:{run}")
        for sha in sorted(set(SHA.findall(text))):
            if sha in runs or not re.search(r"[a-f]", sha):
                continue        # all digits: a run id or a number, not a sha
            commits = self.ds.commits_by_sha(sha) if len(sha) == 40 else \
                self.ds.commits_by_prefix(sha)
            for commit in commits:
                found.add("deploy_commit", doc, commit, f"sha {sha}")
            if not commits:
                found.pending.add(f"commit:{sha}" if len(sha) == 40 else f"prefix:{sha}")


def target_refs(doc: dict[str, Any], dataset: Dataset) -> list[str]:
    """The references a stored record answers (to wake the records pending on it)."""
    entity = doc.get("entity") or entity_of(doc["_id"])
    connector = dataset.connector_of(doc.get("source", ""))
    if entity == "issues":
        if connector in ("github", "gitlab"):
            return [f"repo:{str(doc.get('project_key') or '').lower()}#{doc.get('issue_id')}"]
        return [f"jira:{doc.get('issue_id')}"]
    if entity == "pull_requests":
        return [f"repo:{str(doc.get('repo') or '').lower()}#{doc.get('number')}"]
    if entity == "commits":
        return [f"commit:{doc.get('commit_id')}"]
    if entity == "builds":
        return [f"run:{doc.get('run_id')}"]
    return []
