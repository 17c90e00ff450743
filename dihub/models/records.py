"""Normalized records: one model per entity.

Every record has `source` (the configured source name, so two instances of one
connector never collide), `entity`, `source_id` (the natural key inside that
source) and `updated_at` (the time `fetch --since/--until` filter on).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from dihub.models import catalog


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    entity: ClassVar[str] = ""
    # fields left out of the stored document while None or empty, so that records synced
    # before the field existed keep their signature (a re-sync writes nothing)
    omit_when_empty: ClassVar[tuple[str, ...]] = ()
    # one record of this kind is mentioned by many items (an account by every commit it
    # authored): dihub.models.plain.build gives equal values one shared record
    repeated: ClassVar[bool] = False

    source: str
    source_id: str
    updated_at: str | None = None

    def key(self) -> str:
        """The deterministic `_id`: unique across sources and entities."""
        return f"{self.source}:{self.entity}:{self.source_id}"

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json")
        doc["entity"] = self.entity
        for name in self.omit_when_empty:
            if doc.get(name) in (None, [], {}):
                doc.pop(name, None)
        return doc


def git_identity_key(name: str | None, email: str | None) -> str | None:
    """The user key of a git `name <email>` identity, the same in every connector.

    `email:<lower-cased email>`; when the email is empty, `name:<name as written>`, so
    identities without an email are never merged into one user; None when both are empty.
    """
    address = (email or "").strip().lower()
    if address:
        return f"email:{address}"
    written = (name or "").strip()
    return f"name:{written}" if written else None


class User(Record):
    """A person or account. GitHub accounts are keyed by numeric id; git identities by
    `email:<lower-cased email>`, or `name:<name as written>` when the email is empty.
    Git identities carry `updated_at`: the latest committer time at which they were seen."""

    entity: ClassVar[str] = "users"
    repeated: ClassVar[bool] = True
    omit_when_empty: ClassVar[tuple[str, ...]] = ("account_type",)
    user_id: str
    source_user_id: str
    login: str | None = None
    display_name: str | None = None
    email: str | None = None
    # the upstream's kind of account where it says: GitHub `User`/`Bot`/`Organization`,
    # Jira Cloud `atlassian`/`app`/`customer`; absent when the upstream does not say
    account_type: str | None = None


class Commit(Record):
    """A commit. `author_id`/`committer_id` are the user keys (the GitHub account id where
    there is one); `author_name`/`author_email`/`committer_name`/`committer_email` are the
    git identity exactly as written in the commit, so commits can be matched by email across
    sources."""

    entity: ClassVar[str] = "commits"
    # tag: absent unless set, so that other commits keep their signature
    omit_when_empty: ClassVar[tuple[str, ...]] = ("files_changed", "tag")
    commit_id: str
    repo: str
    branch: str | None = None
    branches: list[str] = []
    tag: str | None = None          # git: the tag reaching a commit that no branch reaches
    author_id: str | None = None
    committer_id: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    committer_name: str | None = None
    committer_email: str | None = None
    message: str = ""
    timestamp: str | None = None
    authored_at: str | None = None
    parents: list[str] = []
    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None    # with additions/deletions: the commit's size


class PullRequest(Record):
    entity: ClassVar[str] = "pull_requests"
    omit_when_empty: ClassVar[tuple[str, ...]] = (
        "body", "labels", "assignee_ids", "requested_reviewer_ids", "requested_team_ids")
    number: int
    repo: str
    title: str = ""
    state: str
    draft: bool | None = None
    author_id: str | None = None
    created_at: str | None = None
    merged_at: str | None = None
    closed_at: str | None = None
    head_sha: str | None = None
    head_ref: str | None = None
    base_ref: str | None = None
    merge_commit_sha: str | None = None
    body: str | None = None
    labels: list[str] = []
    assignee_ids: list[str] = []
    requested_reviewer_ids: list[str] = []      # users asked for a review, not yet given
    requested_team_ids: list[str] = []          # teams (slugs) asked for a review


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    from_status: str | None = None
    to_status: str | None = None
    author_id: str | None = None
    timestamp: str


class SprintChange(BaseModel):
    """A change of an issue's Sprint field (from the changelog): the sprint ids before and
    after, so the sprints an issue was in at any time can be replayed."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    from_sprint_ids: list[str] = []
    to_sprint_ids: list[str] = []
    timestamp: str


class Issue(Record):
    entity: ClassVar[str] = "issues"
    # sprint_changes: absent unless set, so that other issues keep their signature
    omit_when_empty: ClassVar[tuple[str, ...]] = ("assignee_ids", "state_reason", "milestone",
                                                  "sprint_changes")
    issue_id: str
    project_key: str | None = None
    summary: str = ""
    status: str | None = None
    status_category: str | None = None
    type: str | None = None
    priority: str | None = None
    story_points: float | None = None
    assignee_id: str | None = None
    reporter_id: str | None = None
    sprint_ids: list[str] = []
    labels: list[str] = []
    created_at: str | None = None
    resolved_at: str | None = None
    transitions: list[Transition] = []
    sprint_changes: list[SprintChange] = []
    assignee_ids: list[str] = []        # every assignee; assignee_id is the first
    state_reason: str | None = None     # GitHub: completed, not_planned, reopened
    milestone: str | None = None        # GitLab: the milestone's title


class Sprint(Record):
    entity: ClassVar[str] = "sprints"
    sprint_id: str
    board_id: str | None = None
    name: str = ""
    state: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    complete_date: str | None = None
    goal: str | None = None


class Build(Record):
    entity: ClassVar[str] = "builds"
    build_id: str
    repo: str
    workflow_name: str | None = None
    workflow_id: str | None = None
    run_id: str
    run_attempt: int = 1
    head_sha: str | None = None
    branch: str | None = None
    event: str | None = None
    status: str | None = None
    conclusion: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_s: float | None = None


class Channel(Record):
    entity: ClassVar[str] = "channels"
    channel_id: str
    name: str | None = None
    is_private: bool | None = None
    is_archived: bool | None = None
    topic: str | None = None
    member_count: int | None = None


class SlackEvent(Record):
    entity: ClassVar[str] = "slack_events"
    event_id: str
    channel_id: str
    channel_name: str | None = None
    type: str = "message"
    subtype: str | None = None
    user_id: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    ts: str
    timestamp: str
    reply_count: int | None = None
    latest_reply: str | None = None
    edited_at: str | None = None
    deleted: bool = False
    tags: list[str] = []
    text: str | None = None
    text_length: int | None = None
    text_sha256: str | None = None
    payload: dict[str, Any] | None = None


class Review(Record):
    """A pull request review (GitHub `reviews` stream). `pull_request_id` is the `_id` of
    the reviewed pull request; `state`: APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    or PENDING."""

    entity: ClassVar[str] = "reviews"
    review_id: str
    repo: str
    number: int                        # the pull request's number
    pull_request_id: str
    reviewer_id: str | None = None
    state: str | None = None
    submitted_at: str | None = None
    commit_id: str | None = None       # the head commit the review was given on


class Account(BaseModel):
    """One account of a person: the user record `<source>:users:<user_id>`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    source: str
    user_id: str
    login: str | None = None
    display_name: str | None = None
    email: str | None = None
    is_bot: bool = False


class Person(Record):
    """A person (or bot): the accounts the hub grouped (source `hub`, entity `people`).

    `person_id` is derived from the group's first account key, so it is stable across
    re-runs. A person absorbed by another keeps its record with `merged_into` set and no
    accounts. `reasons` say why the accounts were joined."""

    entity: ClassVar[str] = "people"
    person_id: str
    display_name: str | None = None
    emails: list[str] = []
    logins: list[str] = []
    accounts: list[Account] = []
    is_bot: bool = False
    reasons: list[str] = []
    merged_into: str | None = None


class Link(Record):
    """A link between two stored records (source `hub`, entity `links`): `from_id` and
    `to_id` are record `_id`s. `kind`: mentions_issue, mentions_pull_request, pr_commit,
    pr_head_commit, pr_merge_commit, build_commit, deploy_build, deploy_commit.
    `evidence` says where it was found (e.g. `message: ABC-123`). A link no longer found
    when its `from` record changed stays with `active: false`."""

    entity: ClassVar[str] = "links"
    link_id: str
    kind: str
    from_id: str
    from_entity: str
    to_id: str
    to_entity: str
    evidence: list[str] = []
    active: bool = True


ENTITIES: dict[str, type[Record]] = {
    m.entity: m for m in (User, Commit, PullRequest, Issue, Sprint, Build, Channel, SlackEvent,
                          Review, Person, Link)
}

# A plugin's own entities: {entity: (key field, default `dihub fetch` table columns)}; the
# same dicts as the catalog's, which a read imports without pydantic.
ENTITY_KEYS: dict[str, str] = catalog.ENTITY_KEYS
TABLE_COLUMNS: dict[str, list[str]] = catalog.TABLE_COLUMNS


def register_entity(model: type[Record], *, key: str = "source_id",
                    columns: tuple[str, ...] | list[str] = ()) -> type[Record]:
    """Make `model` (a Record subclass with its own `entity` name) known to the CLI, the
    store and the API, as a connector plugin declares it (`Connector.entities`). `key` is
    the field whose value is the record's `source_id` (its natural key upstream);
    `columns` are the fields `dihub fetch` shows in a table by default. Registering the
    same model again is a no-op; another model under a taken name is a ValueError."""
    if not (isinstance(model, type) and issubclass(model, Record)) or not model.entity:
        raise ValueError(f"{model!r} is not a Record subclass with an `entity` name")
    taken = ENTITIES.get(model.entity)
    if taken is model:
        return model
    if taken is not None:
        raise ValueError(f"entity {model.entity!r} is already {taken.__module__}."
                         f"{taken.__qualname__}")
    fields = set(model.model_fields)
    unknown = [f for f in (key, *columns) if f not in fields]
    if unknown:
        raise ValueError(f"entity {model.entity!r} has no field(s) {', '.join(unknown)}")
    ENTITIES[model.entity] = model
    catalog.FIELDS[model.entity] = tuple(model.model_fields)
    ENTITY_KEYS[model.entity] = key
    if columns:
        TABLE_COLUMNS[model.entity] = list(columns)
    return model
