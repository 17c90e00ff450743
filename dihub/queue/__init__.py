"""Queue mode: passes run by `dihub worker` processes on any number of hosts.

Without `queue:` in the config nothing here is used and every pass runs in the
process that asked for it. With `queue.url` (Redis):

* `dihub sync SOURCE [STREAMS] --enqueue` lists each stream's partitions and puts one
  job per (source, stream, partition) on the queue (`enqueue.enqueue_sync`); a job
  already waiting for the same partition is not queued twice;
* `dihub serve` claims due webhook deliveries and hands them to the queue in batches
  (`dihub.serve.worker`), instead of processing them in the server;
* `dihub worker` runs the jobs, N at a time, each a normal pass under the store's
  per-partition lease (`worker.run_worker`, `jobs.Jobs`).

The queue is Dramatiq's RedisBroker (`broker.make_broker`): a job is acknowledged
after it ran, so the jobs of a worker killed mid-job (kill -9, a lost host) are
delivered again to another worker once `queue.redelivery_s` passed without a
heartbeat from the dead one. The lease stays the guard: the redelivered job waits
for the dead worker's lease to expire (`lease_ttl_s`) and resumes the partition
from its last checkpoint. See README "Scaling out: dihub worker" and docs/scaling.md.

Modules import Dramatiq and redis only when used, so the CLI starts as fast without.
"""

SYNC_ACTOR = "dihub_sync"
INBOX_ACTOR = "dihub_inbox"
