"""`dihub sync ... --enqueue`: one job per (source, stream, partition) on the queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A partition's "queued" mark lives this long at most (a job is normally taken much
#: sooner: the worker clears the mark when it starts the job).
PENDING_TTL_S = 7 * 86400


@dataclass
class EnqueueReport:
    source: str
    streams: list[str]
    queued: list[tuple[str, str]] = field(default_factory=list)      # (stream, partition)
    waiting: list[tuple[str, str]] = field(default_factory=list)     # already queued
    failed: list[tuple[str, Any]] = field(default_factory=list)      # (stream, error)


def pending_key(namespace: str, source: str, stream: str, partition: str) -> str:
    return f"{namespace}:pending:{source}/{stream}/{partition}"


def enqueue_sync(config: Any, source: str, streams: list[str] | None, *,
                 full_refresh: bool = False, all_streams: bool = False,
                 store: Any = None, broker: Any = None) -> EnqueueReport:
    """List the partitions of each selected stream (with the run's session, as a pass
    would) and queue one job per partition. A partition whose job still waits in the
    queue is not queued again (so cron may enqueue more often than the workers keep up);
    one whose job is running is: the new job waits for its lease and runs after it."""
    from dihub.connectors.registry import load_connector
    from dihub.engine.runner import PassOptions, Runner
    from dihub.engine.sync import select_streams
    from dihub.errors import DihubError
    from dihub.queue import SYNC_ACTOR
    from dihub.queue.broker import declare, make_broker

    source_cfg = config.source(source)
    connector = load_connector(source_cfg.connector)
    names = select_streams(connector, source, streams, source_cfg.streams, all_streams)
    settings = config.settings
    report = EnqueueReport(source, names)
    own_store = store is None
    if own_store:
        from dihub.store import open_configured_store

        store = open_configured_store(config)
    broker = broker or make_broker(settings)
    actor = declare(broker)[SYNC_ACTOR]
    try:
        with Runner(store, source, source_cfg, settings, connector=connector,
                    options=PassOptions(lease_ttl_s=settings.lease_ttl_s)) as runner:
            for name in names:
                try:
                    partitions = runner.list_partitions(connector.streams[name])
                except DihubError as err:
                    report.failed.append((name, err))
                    continue
                for partition in partitions:
                    key = pending_key(broker.namespace, source, name, partition)
                    if not broker.client.set(key, "1", nx=True, ex=PENDING_TTL_S):
                        report.waiting.append((name, partition))
                        continue
                    try:
                        actor.send_with_options(args=(source, name, partition),
                                                kwargs={"full_refresh": full_refresh})
                    except BaseException:
                        broker.client.delete(key)
                        raise
                    report.queued.append((name, partition))
    finally:
        if own_store:
            store.close()
    return report
