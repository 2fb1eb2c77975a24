"""`curate mix`: a mixture of several record files by weight, reproducible by seed.

Counts per source are the weights times --total, rounded by largest remainder so they sum
exactly to the total. A source smaller than its count is an error unless --replace, which
samples it with replacement (upsampling). meta.source records where each row came from.
Rows are mixed as they are, so pre-training text ({"text": ...}, see `curate export --format
text`) mixes with instruction records as well.

Memory: the rows of every source (a dataset stage: sampling without replacement needs to
know each source's size and pick from all of it).
"""

from __future__ import annotations

import random
from pathlib import Path

from rich.table import Table

from curate.errors import UsageError
from typing import Any

from curate.io import iter_rows, write_rows
from curate.summary import Summary


def parse_sources(specs: list[str]) -> list[tuple[Path, float]]:
    """`file.jsonl:0.7` -> (path, weight); weights are normalised to sum to 1."""
    sources = []
    for spec in specs:
        path, sep, weight = spec.rpartition(":")
        try:
            value = float(weight) if sep else float("nan")
        except ValueError:
            value = float("nan")
        if not sep or not path or not value > 0:
            raise UsageError(f"{spec!r}: give each source as FILE:WEIGHT with a positive weight, e.g. a.jsonl:0.7")
        sources.append((Path(path), value))
    total = sum(weight for _, weight in sources)
    return [(path, weight / total) for path, weight in sources]


def allocate(weights: list[float], total: int) -> list[int]:
    """Largest-remainder rounding: the counts sum to `total` and each is within 1 of its share."""
    exact = [w * total for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mix(sources: list[tuple[Path, float]], output: str | Path, total: int, seed: int = 0,
        replace: bool = False) -> tuple[Summary, Table]:
    rng = random.Random(seed)
    summary = Summary("mix")
    table = Table(title="curate mix: rows per source", title_justify="left")
    for column in ("source", "weight", "available", "rows", "share"):
        table.add_column(column, justify="left" if column == "source" else "right")
    chosen: list[dict[str, Any]] = []
    for (path, weight), count in zip(sources, allocate([w for _, w in sources], total)):
        records = [row for _, row in iter_rows(path)]
        summary.read += len(records)
        if count > len(records) and not replace:
            raise UsageError(f"{path}: {count} rows wanted but only {len(records)} available; pass --replace "
                             "to upsample it")
        picked = rng.choices(records, k=count) if count > len(records) else rng.sample(records, count)
        source = {"file": path.name, "weight": round(weight, 6)}
        chosen += [{**row, "meta": {**(row.get("meta") or {}), "source": source}} for row in picked]
        table.add_row(str(path), f"{weight:.3f}", f"{len(records):,}", f"{count:,}", f"{count / total:.2%}")
    rng.shuffle(chosen)
    summary.written = write_rows(output, chosen)
    return summary, table
