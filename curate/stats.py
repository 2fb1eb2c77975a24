"""`curate stats`: record counts and length percentiles of every text field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from rich.table import Table

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
    return [counts, lengths]
