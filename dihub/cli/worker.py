"""`dihub worker`: run queued passes and webhook batches (see README "Scaling out")."""

import typer

from dihub.cli.state import handles_errors, state


@handles_errors
def worker(
    threads: int = typer.Option(None, "--threads", min=1, max=64,
                                help="Jobs run at once. Default: queue.threads (4)."),
    burst: bool = typer.Option(False, "--burst",
                               help="Stop once no job is queued, delayed or running on any "
                                    "worker (a one-off catch-up, benchmarks)."),
) -> None:
    """Run the jobs of the queue (`queue.url`): passes queued by `dihub sync --enqueue`,
    webhook deliveries handed over by `dihub serve`.

    Each job is one partition's pass under the store's lease, so any number of workers on
    any number of hosts never process one partition at once. A worker killed mid-job
    leaves its job to another after queue.redelivery_s; it resumes from the checkpoint.
    SIGTERM or Ctrl-C: the passes in hand stop at their next page (checkpointed) and go
    back to the queue; exit 0.
    """
    from dihub.queue.worker import run_worker

    run_worker(state.config(), threads=threads, burst=burst)
