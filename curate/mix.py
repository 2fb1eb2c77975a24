"""`curate mix`: a mixture of several record files by weight, reproducible by seed.

Counts per source are the weights times --total, rounded by largest remainder so they sum
exactly to the total. A source smaller than its count is an error unless --replace, which
samples it with replacement (upsampling). meta.source records where each row came from.
Rows are mixed as they are, so pre-training text ({"text": ...}, see `curate export --format
text`) mixes with instruction records as well.

With --rejects, the rows of each source that were not drawn go there, with meta.rejected =
{stage: mix, reason: not_drawn}, so that mixture and remainder together are the sources.

Memory: the rows of one source at a time, and the chosen rows of all (a dataset stage: sampling
without replacement needs to know each source's size and pick from all of it; the mixture is
shuffled as a whole).
"""

from __future__ import annotations

import random
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field
from rich.table import Table

from curate.executors import ExecutorOptions, local_only
from curate.errors import UsageError
from curate.io import iter_rows
from curate.sinks import RowSink, write_rows
from curate.summary import Summary


class MixConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    total: int = Field(ge=1, description="Rows in the mixture (required).")
    seed: int = Field(0, description="Seed: the same seed gives the same rows in the same order.")
    replace: bool = Field(False, description="Sample with replacement where a source is smaller than its share "
                          "(upsampling).")


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


def mix(sources: list[tuple[Path, float]], output: str | Path, config: MixConfig,
        rejects: str | Path | None = None) -> tuple[Summary, Table]:
    local_only(config, "mix")
    rng = random.Random(config.seed)
    summary = Summary("mix")
    table = Table(title="curate mix: rows per source", title_justify="left")
    for column in ("source", "weight", "available", "rows", "share"):
        table.add_column(column, justify="left" if column == "source" else "right")
    chosen: list[dict[str, Any]] = []
    with ExitStack() as files:
        remainder = files.enter_context(RowSink(rejects)) if rejects is not None else None
        for (path, weight), count in zip(sources, allocate([w for _, w in sources], config.total)):
            rows = [row for _, row in iter_rows(path)]
            summary.read += len(rows)
            if count > len(rows) and not config.replace:
                raise UsageError(f"{path}: {count} rows wanted but only {len(rows)} available; pass --replace "
                                 "to upsample it")
            if count > len(rows):
                picked = [rows[i] for i in rng.choices(range(len(rows)), k=count)]
            else:
                indices = rng.sample(range(len(rows)), count)
                picked = [rows[i] for i in indices]
                summary.dropped["not_drawn"] += len(rows) - count
                if remainder is not None:
                    drawn = set(indices)
                    for i, row in enumerate(rows):
                        if i not in drawn:
                            remainder.write(_marked(row, "rejected", {"stage": "mix", "reason": "not_drawn"}))
            source = {"file": path.name, "weight": round(weight, 6)}
            chosen += [_marked(row, "source", source) for row in picked]
            table.add_row(str(path), f"{weight:.3f}", f"{len(rows):,}", f"{count:,}", f"{count / config.total:.2%}")
        rng.shuffle(chosen)
        summary.written = write_rows(output, chosen)
    return summary, table


def _marked(row: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
    return {**row, "meta": {**meta, key: value}}

