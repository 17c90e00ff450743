"""The end-of-sync summary and the exit code it implies."""

from __future__ import annotations

import sys

from dihub.cli.state import print_error
from dihub.engine.sync import exit_code


def print_summary(results, *, run_id: str, dry_run: bool, quiet: bool,
                  code: int | None = None) -> None:
    """Each distinct error, then one closing line (not with --quiet). With `--log-format
    json` each is one JSON object; the summary's has run_id, records, inserted, updated,
    unchanged, entities (per entity: read, inserted, updated, unchanged), partitions
    (count by outcome), dry_run and exit_code.

    The closing line counts per entity, since one stream writes several (commits and their
    authors as users): `run R: synced 73 commits in 1 partition(s) (1 ok); commits: 73
    inserted, 0 updated, 0 unchanged; users: 1 inserted, 0 updated, 0 unchanged`.
    A partition stopped by Ctrl-C or SIGTERM is not reported one by one: the run says it
    once."""
    from dihub import log

    shown_errors = set()
    for r in results:
        if r.error is None or getattr(r.error, "stopped_by", None):
            continue
        if str(r.error) not in shown_errors:
            shown_errors.add(str(r.error))
            print_error(r.error, label="warning" if r.outcome == "skipped" else None,
                        partition=r.label, outcome=r.outcome)
    if quiet:
        return
    total = sum(r.records for r in results)
    ins = sum(r.written.inserted for r in results)
    upd = sum(r.written.updated for r in results)
    same = sum(r.written.unchanged for r in results)
    entities = entity_counts(results)
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    parts = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    verb = "would sync" if dry_run else "synced"
    read = ", ".join(f"{c['read']} {e}" for e, c in entities.items() if c["read"]
                     ) or f"0 {_first_entity(results)}"
    written = "; ".join(f"{e}: {c['inserted']} inserted, {c['updated']} updated, "
                        f"{c['unchanged']} unchanged" for e, c in entities.items()
                        if c["inserted"] or c["updated"] or c["unchanged"])
    line = (f"run {run_id}: {verb} {read} in {len(results)} partition(s) ({parts}); "
            + (written or ("nothing written" if dry_run else
                           "0 inserted, 0 updated, 0 unchanged")))
    if log.emit("info", "summary", line, run_id=run_id, dry_run=dry_run, records=total,
                inserted=ins, updated=upd, unchanged=same, entities=entities,
                partitions=dict(sorted(outcomes.items())),
                exit_code=exit_code(results) if code is None else code):
        return
    if sys.stderr.isatty():
        from rich.console import Console

        # wrapped at word boundaries to the terminal's width
        Console(stderr=True).print(line, highlight=False, markup=False)
    else:
        print(line, file=sys.stderr)


def entity_counts(results) -> dict[str, dict[str, int]]:
    """{entity: {read, inserted, updated, unchanged}}: `read` counts the upstream items of
    the streams' own entity; the others what the store did with each entity's records."""
    out: dict[str, dict[str, int]] = {}

    def of(entity: str) -> dict[str, int]:
        return out.setdefault(entity, {"read": 0, "inserted": 0, "updated": 0,
                                       "unchanged": 0})

    for r in results:
        if r.entity:
            of(r.entity)["read"] += r.records
        for entity, w in r.by_entity.items():
            counts = of(entity)
            counts["inserted"] += w.inserted
            counts["updated"] += w.updated
            counts["unchanged"] += w.unchanged
    return out


def _first_entity(results) -> str:
    return next((r.entity for r in results if r.entity), "records")
