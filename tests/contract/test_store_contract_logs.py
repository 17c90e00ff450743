"""Store contract: audit log, run metrics, settings, retention, close (every backend).

Audit timestamps are in the 22nd century: MongoDB's TTL index expires entries by the
wall clock, and these tests must not depend on today's date.
"""

from __future__ import annotations

import pytest

from dihub.models import AuditEntry, RunMetrics


def audit(timestamp: str, **fields) -> AuditEntry:
    values = dict(run_id="run-1", source="github", entity="commits", action="page",
                  outcome="ok", timestamp=timestamp)
    values.update(fields)
    return AuditEntry(**values)


def metrics(started_at: str, **fields) -> RunMetrics:
    values = dict(run_id=f"run-{started_at}", source="github", stream="commits",
                  started_at=started_at, finished_at=started_at, duration_s=1.5, outcome="ok")
    values.update(fields)
    return RunMetrics(**values)


# -- audit -----------------------------------------------------------------------------


def test_audit_round_trips_every_field(store):
    entry = audit("2126-01-02T00:00:00Z", stream="commits", partition="o/r", records=10,
                  inserted=4, updated=3, unchanged=3, payload_size=2048, error="e",
                  detail={"status": 200, "pages": [1, 2]}, raw_payload='{"sha": "abc"}')
    store.append_audit(entry)
    assert store.query_audit() == [entry]


def test_audit_is_newest_first_and_filtered(store):
    entries = [
        audit("2126-01-01T00:00:00Z", run_id="a"),
        audit("2126-01-03T00:00:00Z", run_id="b", outcome="failed", error="500"),
        audit("2126-01-02T00:00:00Z", run_id="c", source="jira", entity="issues"),
        audit("2126-01-04T00:00:00Z", run_id="d", entity=None, action="sync"),
    ]
    for e in entries:
        store.append_audit(e)

    def runs(**kw):
        return [e.run_id for e in store.query_audit(**kw)]

    assert runs() == ["d", "b", "c", "a"]
    assert runs(source="github") == ["d", "b", "a"]
    assert runs(entity="issues") == ["c"]
    assert runs(outcome="failed") == ["b"]
    assert runs(since="2126-01-02T00:00:00Z") == ["d", "b", "c"]     # inclusive
    assert runs(source="github", entity="commits", since="2126-01-02") == ["b"]
    assert runs(limit=2) == ["d", "b"]
    assert runs(source="slack") == []


def test_audit_entries_with_one_timestamp_keep_insertion_order_newest_first(store):
    for i in range(5):
        store.append_audit(audit("2126-01-01T00:00:00Z", run_id=f"r{i}"))
    assert [e.run_id for e in store.query_audit()] == ["r4", "r3", "r2", "r1", "r0"]


# -- metrics ---------------------------------------------------------------------------


def test_metrics_round_trip_newest_first_and_filtered(store):
    full = metrics("2126-01-03T00:00:00Z", records=9, inserted=5, updated=2, unchanged=2,
                   requests=12, retries=1, not_modified=3, rate_limit_waits=1,
                   rate_limit_wait_s=2.5, failures=0, latency_p50_ms=12.0, latency_p95_ms=80.5,
                   latency_p99_ms=120.0, quota_remaining=4999)
    others = [metrics("2126-01-01T00:00:00Z"),
              metrics("2126-01-02T00:00:00Z", source="jira", stream="issues"),
              metrics("2126-01-04T00:00:00Z", stream="builds", outcome="failed")]
    for m in [others[0], full, *others[1:]]:
        store.record_metrics(m)
    assert store.query_metrics() == [others[2], full, others[1], others[0]]
    assert store.query_metrics(source="github", stream="commits") == [full, others[0]]
    assert store.query_metrics(source="jira") == [others[1]]
    assert store.query_metrics(stream="builds") == [others[2]]
    assert store.query_metrics(limit=1) == [others[2]]
    assert store.query_metrics(source="slack") == []


# -- meta ------------------------------------------------------------------------------


def test_meta_documents_round_trip_and_overwrite(store):
    assert store.get_meta("breaker:github") is None
    value = {"state": "open", "failures": 5, "opened_at": "2126-01-01T00:00:00Z",
             "hosts": ["api.github.com"], "nested": {"x": None}}
    store.put_meta("breaker:github", value)
    assert store.get_meta("breaker:github") == value
    store.put_meta("breaker:github", {"state": "closed"})
    assert store.get_meta("breaker:github") == {"state": "closed"}
    assert store.get_meta("breaker:jira") is None


# -- purge -----------------------------------------------------------------------------


def test_purge_applies_audit_and_raw_retention(store):
    # (Future dates, see the module docstring: the TTL monitor must not run first.)
    now = "2126-06-30T12:00:00Z"
    store.append_audit(audit("2125-06-01T00:00:00Z", run_id="ancient", raw_payload="r0"))
    store.append_audit(audit("2126-06-30T11:59:59Z", run_id="fresh", raw_payload="r1"))
    store.append_audit(audit("2126-03-01T00:00:00Z", run_id="old-raw", raw_payload="r2"))
    store.append_audit(audit("2126-04-01T12:00:00Z", run_id="raw-boundary", raw_payload="r3"))
    store.append_audit(audit("2126-03-02T00:00:00Z", run_id="no-raw"))
    store.append_audit(audit("2125-06-30T12:00:00Z", run_id="audit-boundary"))

    assert store.purge(now, audit_retention_days=365, raw_retention_days=90) == {
        "audit_deleted": 1, "raw_payloads_removed": 1}

    kept = {e.run_id: e for e in store.query_audit()}
    assert sorted(kept) == ["audit-boundary", "fresh", "no-raw", "old-raw", "raw-boundary"]
    assert kept["old-raw"].raw_payload is None
    assert kept["old-raw"].records == 0 and kept["old-raw"].action == "page"  # entry kept
    assert kept["raw-boundary"].raw_payload == "r3"   # exactly at the cutoff: kept
    assert kept["fresh"].raw_payload == "r1"
    # idempotent
    assert store.purge(now, 365, 90) == {"audit_deleted": 0, "raw_payloads_removed": 0}


def test_purge_leaves_records_state_metrics_and_meta_alone(store, make_record):
    store.upsert_many([make_record("c1", "2020-01-01T00:00:00Z")])
    store.record_metrics(metrics("2020-01-01T00:00:00Z"))
    store.put_meta("k", {"v": 1})
    store.append_audit(audit("2100-01-01T00:00:00Z"))   # future: see the test above
    assert store.purge("2101-01-01T00:00:00Z", 1, 1)["audit_deleted"] == 1
    assert store.count("commits") == 1
    assert len(store.query_metrics()) == 1
    assert store.get_meta("k") == {"v": 1}


# -- close -----------------------------------------------------------------------------


def test_close_is_idempotent_and_data_survives(backend, make_record):
    first = backend.open()
    first.upsert_many([make_record("c1")])
    first.put_meta("k", {"v": 1})
    first.close()
    first.close()
    second = backend.open()
    assert second.count("commits") == 1 and second.get_meta("k") == {"v": 1}


@pytest.mark.parametrize("bad_limit", [0, -5])
def test_audit_and_metrics_limits_are_validated(store, bad_limit):
    from dihub.errors import UsageError

    with pytest.raises(UsageError):
        store.query_audit(limit=bad_limit)
    with pytest.raises(UsageError):
        store.query_metrics(limit=bad_limit)
