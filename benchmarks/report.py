"""The benchmarks' output: markdown tables and the sections of BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A markdown table's lines. `align` has one letter a column: "l" left, "r" right
    (numbers), e.g. "lrr" for a name and two counts."""
    assert len(align) == len(columns), (align, columns)
    rule = "".join("---|" if a == "l" else "---:|" for a in align)
    return [f"| {' | '.join(columns)} |", f"|{rule}",
            *(f"| {' | '.join(row)} |" for row in rows)]


def publish(lines: list[str], section: str, heading: str, write: bool) -> None:
    """Print the report; with `write`, also put it under `heading` in the `section`
    block of BENCHMARKS.md."""
    text = "\n".join(lines)
    print(text)
    if write:
        update_section(BENCHMARKS_MD, section, f"{heading}\n\n{text}")


def update_section(path: Path, name: str, body: str) -> None:
    """Replace the block between <!-- name:start --> and <!-- name:end --> in BENCHMARKS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def link_cells(key: str, rows: list[tuple[str, list[dict]]]) -> list[list[str]]:
    """Table cells of the hub link benchmarks (bench_hub_links, bench_hub_refs): each tree's
    median CPU and peak RSS over its samples and the links found, after checking that every
    sample of every tree found the same links (their digest)."""
    digests = {s["digest"] for _, samples in rows for s in samples}
    assert len(digests) == 1, f"the trees found different links: {rows}"
    cells = []
    for label, samples in rows:
        cpu = sorted(s["cpu_s"] for s in samples)[len(samples) // 2]
        rss = sorted(s["rss_mb"] for s in samples)[len(samples) // 2]
        cells.append([key, label, f"{cpu:.3f} s", f"{rss:.0f} MB", str(samples[0]["links"])])
    return cells
