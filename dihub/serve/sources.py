"""Which configured source a webhook belongs to, and its signing secret.

Rule (documented in the README section of `dihub serve`): a delivery to
`/webhooks/<kind>` is checked against every configured source whose connector is
`<kind>` and that has a webhook secret (`serve.webhooks.<source>.secret_env`, or
the keyring entry `<source>:webhook_secret` bound to the source's host). The
sources whose secret verifies the signature are the candidates; when several do
(one secret shared by several sources), the payload picks among them:

* github: the source whose `repos` lists `repository.full_name` or whose `orgs`
  lists the repository owner, and whose host matches the repository's html_url
  (api.github.com <-> github.com; a GHES base_url https://HOST/api/v3 <-> HOST);
* jira: the source whose base_url host is the host of the issue's (or sprint's) `self`;
* slack: the first one (Slack apps are per workspace; give each its own secret).

With one source of a kind, that one. A delivery no source verifies is rejected
(401) and nothing is stored.

gitlab is stricter, since a group webhook sends every project of the group: among
the sources whose secret equals `X-Gitlab-Token`, the one whose base_url host is
the `X-Gitlab-Instance` host (when GitLab sends that header) and whose `projects`
list the payload's project path (case-insensitive) or numeric id, or whose
`groups` hold that path (a group named by path; a numeric group id cannot be
matched from a payload). A verified delivery of a project no source syncs is
answered 202 `{"ok": true, "ignored": "project"}` and not stored (GitLab counts a
4xx or 5xx as a failure and disables a webhook that keeps failing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("dihub.serve")

SECRET_NAME = "webhook_secret"
KINDS = ("github", "slack", "jira", "gitlab")


@dataclass
class WebhookSource:
    name: str
    kind: str
    config: Any
    secret: str | None


def _host(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").lower()


def web_host(source_config: Any) -> str:
    """The host a source's payload URLs name (GitHub's API host is not its web host)."""
    host = _host(getattr(source_config, "base_url", None))
    return "github.com" if host == "api.github.com" else host


def load_secret(name: str, config: Any, settings: Any) -> str | None:
    from dihub import secrets

    entry = settings.serve.webhooks.get(name)
    env_var = entry.secret_env if entry else None
    try:
        host = secrets.host_of(getattr(config, "base_url", None) or "localhost")
        found = secrets.get_secret(name, SECRET_NAME, env_var, host=host)
    except Exception as exc:   # noqa: BLE001 - a missing keyring must not stop the server
        log.warning("%s: no webhook secret (%s)", name, type(exc).__name__)
        return None
    return found.value if found else None


def webhook_sources(cfg: Any) -> dict[str, list[WebhookSource]]:
    """Every configured github/slack/jira/gitlab source with its secret (None: not set)."""
    out: dict[str, list[WebhookSource]] = {k: [] for k in KINDS}
    for name, model in cfg.sources.items():
        kind = getattr(model, "connector", None)
        if kind in out:
            out[kind].append(WebhookSource(name, kind, model,
                                           load_secret(name, model, cfg.settings)))
    return out


def pick(kind: str, candidates: list[WebhookSource], payload: Any) -> WebhookSource:
    """Among sources whose secret verified the delivery, the one the payload names."""
    if len(candidates) == 1 or not isinstance(payload, dict):
        return candidates[0]
    for src in candidates:
        if kind == "github" and _github_matches(src.config, payload):
            return src
        if kind == "jira" and _jira_matches(src.config, payload):
            return src
    return candidates[0]


def _github_matches(config: Any, payload: dict[str, Any]) -> bool:
    repo = payload.get("repository") or {}
    full = str(repo.get("full_name") or "")
    owner = full.split("/", 1)[0]
    if _host(repo.get("html_url")) not in ("", web_host(config)):
        return False
    return full in (config.repos or []) or owner in (config.orgs or [])


def _jira_matches(config: Any, payload: dict[str, Any]) -> bool:
    obj = payload.get("issue") or payload.get("sprint") or {}
    return _host(obj.get("self")) == _host(config.base_url)


def instance_host(header: str | None) -> str:
    """`X-Gitlab-Instance` is the instance's base URL (https://gitlab.example.com); a
    bare host is taken as it is."""
    value = (header or "").strip()
    return _host(value) if "://" in value else value.lower().split("/")[0]


def pick_gitlab(candidates: list[WebhookSource], instance: str | None,
                payload: Any) -> WebhookSource | None:
    """The gitlab source that syncs the delivery's project, or None (see the module)."""
    from dihub.inbox.gitlab_hooks import project_of

    if not isinstance(payload, dict):
        return None
    project_id, path = project_of(payload)
    host = instance_host(instance)
    for src in candidates:
        if host and host != _host(src.config.base_url):
            continue
        if _gitlab_matches(src.config, project_id, path):
            return src
    return None


def _gitlab_matches(config: Any, project_id: int | None, path: str | None) -> bool:
    low = (path or "").lower()
    for name in config.projects or []:
        if (name.isdigit() and project_id is not None and int(name) == project_id) or \
                (low and name.lower() == low):
            return True
    return bool(low) and any(not g.isdigit() and low.startswith(g.lower() + "/")
                             for g in config.groups or [])
