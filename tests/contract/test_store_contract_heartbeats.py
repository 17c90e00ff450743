"""Store contract: leases across hosts. Heartbeats (renewals) keep a lease past its first
TTL; once they stop, another host takes the lease over when it expires, with the next
generation; the stale holder's late renewal, checkpoint and release change nothing.
Each host is a store handle of its own on the one shared storage (every backend)."""

from __future__ import annotations

import time

import pytest

from dihub.errors import LeaseHeld
from dihub.models import SyncState
from dihub.store.errors import LeaseLost

KEY = ("github", "commits", "octo-org/octo-repo")
TTL = 1.0


def state(**fields) -> SyncState:
    return SyncState(source=KEY[0], stream=KEY[1], partition=KEY[2], **fields)


def test_heartbeats_keep_a_lease_from_another_host_until_they_stop(backend):
    host_a, host_b = backend.open(), backend.open()
    lease = host_a.acquire_lease(*KEY, owner="host-a pid 1 run a", ttl_s=TTL)
    for _ in range(4):                          # 4 beats of TTL/2: twice the first TTL
        time.sleep(TTL / 2)
        lease = host_a.renew_lease(lease, ttl_s=TTL)
        with pytest.raises(LeaseHeld) as err:
            host_b.acquire_lease(*KEY, owner="host-b pid 2 run b", ttl_s=TTL)
        assert err.value.holder == "host-a pid 1 run a"
    host_a.put_state(state(cursor="a-4", status="running"), lease=lease)
    time.sleep(TTL + 0.5)                       # host A stops beating (killed, paused)
    taken = host_b.acquire_lease(*KEY, owner="host-b pid 2 run b", ttl_s=600)
    assert taken.generation == lease.generation + 1
    assert host_b.get_state(*KEY).cursor == "a-4"      # B resumes from A's checkpoint


def test_a_stale_holders_late_checkpoint_renewal_and_release_are_refused(backend):
    """Host A was paused past its TTL; host B took the partition over and checkpointed.
    A wakes up and tries to go on: nothing it does changes B's state or lease."""
    host_a, host_b = backend.open(), backend.open()
    stale = host_a.acquire_lease(*KEY, owner="host-a pid 1 run a", ttl_s=TTL)
    host_a.put_state(state(cursor="a-1", status="running"), lease=stale)
    time.sleep(TTL + 0.5)
    fresh = host_b.acquire_lease(*KEY, owner="host-b pid 2 run b", ttl_s=600)
    host_b.put_state(state(cursor="b-7", status="ok"), lease=fresh)
    with pytest.raises(LeaseLost):
        host_a.renew_lease(stale, ttl_s=TTL)
    with pytest.raises(LeaseLost) as err:
        host_a.put_state(state(cursor="a-2", status="ok"), lease=stale)
    assert "host-b pid 2 run b" in str(err.value)
    host_a.release_lease(*KEY, owner="host-a pid 1 run a")
    got = host_b.get_state(*KEY)
    assert (got.cursor, got.status, got.lease_owner, got.lease_generation) == (
        "b-7", "ok", "host-b pid 2 run b", fresh.generation)
    with pytest.raises(LeaseHeld):
        host_a.acquire_lease(*KEY, owner="host-a pid 1 run a2", ttl_s=TTL)
