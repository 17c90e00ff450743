"""The entities' names and fields, without their models.

What reading the store needs (`dihub fetch`: the entity names, each one's fields and
default table columns), importable without pydantic, so a read starts fast
(docs/architecture.md, "Start-up"). `dihub.models.records` holds the models themselves;
its `register_entity` adds a plugin's entity here too, and a test checks that the
built-in names and fields below are exactly the models'.
"""

from __future__ import annotations

# entity -> the fields of its model, in the model's order
FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("source", "source_id", "updated_at", "user_id", "source_user_id", "login",
        "display_name", "email", "account_type"),
    "commits": ("source", "source_id", "updated_at", "commit_id", "repo", "branch", "branches",
        "tag", "author_id", "committer_id", "author_name", "author_email", "committer_name",
        "committer_email", "message", "timestamp", "authored_at", "parents", "additions",
        "deletions", "files_changed"),
    "pull_requests": ("source", "source_id", "updated_at", "number", "repo", "title", "state",
        "draft", "author_id", "created_at", "merged_at", "closed_at", "head_sha", "head_ref",
        "base_ref", "merge_commit_sha", "body", "labels", "assignee_ids",
        "requested_reviewer_ids", "requested_team_ids"),
    "issues": ("source", "source_id", "updated_at", "issue_id", "project_key", "summary",
        "status", "status_category", "type", "priority", "story_points", "assignee_id",
        "reporter_id", "sprint_ids", "labels", "created_at", "resolved_at", "transitions",
        "sprint_changes", "assignee_ids", "state_reason", "milestone"),
    "sprints": ("source", "source_id", "updated_at", "sprint_id", "board_id", "name", "state",
        "start_date", "end_date", "complete_date", "goal"),
    "builds": ("source", "source_id", "updated_at", "build_id", "repo", "workflow_name",
        "workflow_id", "run_id", "run_attempt", "head_sha", "branch", "event", "status",
        "conclusion", "created_at", "started_at", "completed_at", "duration_s"),
    "channels": ("source", "source_id", "updated_at", "channel_id", "name", "is_private",
        "is_archived", "topic", "member_count"),
    "slack_events": ("source", "source_id", "updated_at", "event_id", "channel_id",
        "channel_name", "type", "subtype", "user_id", "bot_id", "thread_ts", "ts", "timestamp",
        "reply_count", "latest_reply", "edited_at", "deleted", "tags", "text", "text_length",
        "text_sha256", "payload"),
    "reviews": ("source", "source_id", "updated_at", "review_id", "repo", "number",
        "pull_request_id", "reviewer_id", "state", "submitted_at", "commit_id"),
    "people": ("source", "source_id", "updated_at", "person_id", "display_name", "emails",
        "logins", "accounts", "is_bot", "reasons", "merged_into"),
    "links": ("source", "source_id", "updated_at", "link_id", "kind", "from_id", "from_entity",
        "to_id", "to_entity", "evidence", "active"),
}

# A plugin's own entities (`register_entity`): its key field and default table columns.
ENTITY_KEYS: dict[str, str] = {}
TABLE_COLUMNS: dict[str, list[str]] = {}
