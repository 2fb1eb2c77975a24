"""`curate stats`: record counts and length percentiles of every text field, and what earlier
stages dropped, by stage and reason (from their rejects files).

Memory: the length of every text (one integer each; the texts themselves with --tokenizer,
which counts them in batches at the end), and the set of user ids and ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field
from rich.table import Table

from curate.executors import ExecutorOptions, local_only
from curate.io import display_name, read_records
from curate.records import Example, Record

TEXT_FIELDS = ("instruction", "input", "output", "system", "history", "chosen", "rejected", "responses")
PERCENTILES = (50, 90, 99)


def _texts(record: Record, field: str) -> list[str]:
    """The non-empty texts one record has in `field` (each response counts on its own)."""
    value = getattr(record, field, None)
    if field == "history":
        value = "\n".join(part for turn in record.history for part in turn)
    values = value if isinstance(value, list) else [value]
    return [text for text in values if isinstance(text, str) and text]


class StatsConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    tokenizer: str | None = Field(None, description="Also count tokens with this tokenizer: a local directory "
                                  "or a Hugging Face model id.")
    as_json: bool = Field(False, description="Print one JSON object instead of tables.",
                          json_schema_extra={"cli_flags": ["--json"]})


def stats(input: str | Path, config: StatsConfig | None = None, rejects: Iterable[str | Path] = (),
          mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """The statistics of one file, and the drops recorded in `rejects` files, as one JSON-ready dict."""
    from curate.summary import track

    config = config or StatsConfig()
    local_only(config, "stats")
    tokenizer = None
    if config.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    result = collect_stats(track(read_records(input, mapping), "reading"), tokenizer)
    drops = drops_by_stage(Path(path) for path in rejects)
    return {"file": display_name(input), **result,
            **({"dropped": [{"stage": stage, "reason": reason, "records": count}
                            for (stage, reason), count in sorted(drops.items())]} if rejects else {})}


def drops_by_stage(rejects: Iterable[Path]) -> Counter[tuple[str, str]]:
    """Records in rejects files by (stage, reason), streamed."""
    drops: Counter[tuple[str, str]] = Counter()
    for path in rejects:
        if path.exists() and path.stat().st_size == 0:
            continue  # a stage that removed nothing leaves an empty journal
        for record in read_records(path):
            why = record.meta.get("rejected") or {}
            drops[(why.get("stage", "?"), why.get("reason", "?"))] += 1
    return drops


def collect_stats(records: Iterable[Record], tokenizer: Any = None) -> dict[str, Any]:
    """Counts and, per text field, length percentiles in characters (and tokens)."""
    counts: Counter[str] = Counter()
    ids: Counter[str] = Counter()
    users: set[str] = set()
    texts: dict[str, list[str]] = {field: [] for field in TEXT_FIELDS}
    for record in records:
        counts["records"] += 1
        counts["examples" if isinstance(record, Example) else "preferences"] += 1
        counts["with_output"] += bool(isinstance(record, Example) and record.output)
        counts["with_system"] += bool(record.system)
        counts["with_history"] += bool(record.history)
        ids[record.id] += 1
        if record.user_id is not None:
            users.add(record.user_id)
        for field in TEXT_FIELDS:
            texts[field] += _texts(record, field)
    counts["users"] = len(users)
    counts["duplicate_ids"] = sum(n - 1 for n in ids.values())
    lengths = {}
    for field, values in texts.items():
        if values:
            lengths[field] = {"count": len(values), "chars": _describe([len(v) for v in values])}
            if tokenizer is not None:
                lengths[field]["tokens"] = _describe(_token_lengths(tokenizer, values))
    return {"counts": dict(counts), "lengths": lengths}


def _token_lengths(tokenizer: Any, texts: list[str], batch: int = 1000) -> list[int]:
    lengths: list[int] = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start : start + batch], add_special_tokens=False)["input_ids"]
        lengths += [len(ids) for ids in encoded]
    return lengths


def _describe(values: list[int]) -> dict[str, float]:
    import numpy as np

    array = np.asarray(values)
    summary = {"min": int(array.min()), "mean": round(float(array.mean()), 1)}
    summary.update({f"p{q}": round(float(np.percentile(array, q)), 1) for q in PERCENTILES})
    summary["max"] = int(array.max())
    return summary


def stats_tables(stats: dict[str, Any]) -> list[Table]:
    counts = Table(title="counts", show_header=False, title_justify="left")
    counts.add_column(style="bold")
    counts.add_column(justify="right")
    for name, value in stats["counts"].items():
        counts.add_row(name.replace("_", " "), f"{value:,}")
    lengths = Table(title="lengths", title_justify="left")
    columns = ["count", "min", "mean", *(f"p{q}" for q in PERCENTILES), "max"]
    lengths.add_column("field", style="bold")
    lengths.add_column("unit")
    for column in columns:
        lengths.add_column(column, justify="right")
    for field, info in stats["lengths"].items():
        for unit in ("chars", "tokens"):
            if unit in info:
                row = {"count": info["count"], **info[unit]}
                lengths.add_row(field, unit, *(f"{row[c]:,}" for c in columns))
    tables = [counts, lengths]
    if stats.get("dropped"):
        dropped = Table(title="dropped by earlier stages", title_justify="left")
        for column in ("stage", "reason", "records"):
            dropped.add_column(column, justify="right" if column == "records" else "left")
        for row in stats["dropped"]:
            dropped.add_row(row["stage"], row["reason"], f"{row['records']:,}")
        tables.append(dropped)
    return tables
