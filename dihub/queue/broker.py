"""The Dramatiq RedisBroker that `dihub worker`, `dihub sync --enqueue` and `dihub serve`
share, built from `queue:` (dihub.settings.QueueSettings)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dihub.errors import ConfigError

QUEUE = "jobs"                   # the queue's name under the namespace `queue.name`
#: Dramatiq runs its maintenance (requeue the unacknowledged jobs of workers whose
#: heartbeat is older than `heartbeat_timeout`) on this share, per million, of its
#: Redis calls. An idle consumer polls about once a second and a busy one polls its
#: delay queue, so with every call a dead worker's jobs are back on the queue about
#: one second after `queue.redelivery_s`.
MAINTENANCE_CHANCE = 1_000_000


def redis_url(settings: Any) -> str:
    """`queue.url`, with the password from `queue.password_env` when one is named."""
    qs = settings.queue
    if not qs.url:
        raise ConfigError("no queue configured",
                          hint="Set queue.url (e.g. redis://127.0.0.1:6379/0) in the config; "
                               "see README \"Scaling out: dihub worker\".")
    url = qs.url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"queue.url must be redis://, rediss:// or unix://, not "
                          f"{parts.scheme or 'a bare name'}://")
    if qs.password_env:
        password = os.environ.get(qs.password_env)
        if not password:
            raise ConfigError(f"queue.password_env names ${qs.password_env}, which is not set")
        if parts.scheme != "unix":
            host = parts.netloc.rsplit("@", 1)[-1]
            url = urlunsplit((parts.scheme, f":{password}@{host}", parts.path, parts.query,
                              parts.fragment))
    return url


def describe(settings: Any) -> str:
    """The queue's address for messages: no password."""
    parts = urlsplit(settings.queue.url or "")
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path} queue {settings.queue.name}"


def make_broker(settings: Any) -> Any:
    """A RedisBroker with only the middleware dihub relies on: Retries (a job that ended
    temporarily is queued again, with backoff) and CurrentMessage. Dramatiq's TimeLimit
    is left out on purpose: a pass may take hours and stops on its own terms."""
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.middleware import CurrentMessage, Retries

    qs = settings.queue
    low, high = (list(qs.retry_backoff_s) + [900])[:2] if qs.retry_backoff_s else (15, 900)
    retries = Retries(max_retries=qs.max_retries, min_backoff=int(low * 1000),
                      max_backoff=int(max(low, high) * 1000))
    return RedisBroker(url=redis_url(settings), namespace=qs.name,
                       heartbeat_timeout=int(qs.redelivery_s * 1000),
                       maintenance_chance=MAINTENANCE_CHANCE,
                       middleware=[retries, CurrentMessage()])


def declare(broker: Any, sync_fn: Any = None, inbox_fn: Any = None) -> dict[str, Any]:
    """The two actors on `broker`. A producer declares them without functions (it only
    sends); a worker passes the functions that run the jobs."""
    import dramatiq

    from dihub.queue import INBOX_ACTOR, SYNC_ACTOR

    def missing(*args: Any, **kwargs: Any) -> None:   # pragma: no cover - producer side
        raise RuntimeError("this process only sends jobs")

    actors = {}
    for name, fn in ((SYNC_ACTOR, sync_fn), (INBOX_ACTOR, inbox_fn)):
        actors[name] = dramatiq.actor(fn or missing, actor_name=name, queue_name=QUEUE,
                                      broker=broker)
    return actors


def queued(broker: Any) -> int:
    """Jobs not yet acknowledged: waiting, delayed (a retry) or running on any worker,
    including those of a dead worker that are not delivered again yet."""
    client = broker.client
    ns = broker.namespace
    return int(client.hlen(f"{ns}:{QUEUE}.msgs") + client.hlen(f"{ns}:{QUEUE}.DQ.msgs"))
