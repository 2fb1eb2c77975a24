"""What every stage prints at the end, and the progress bar it shows while it works."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from curate.records import Record

T = TypeVar("T")
stderr = Console(stderr=True)


@dataclass
class Summary:
    """Counts of one stage run: read, written, dropped and failed by reason."""

    stage: str
    read: int = 0
    written: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    resumed: int = 0  # finished by an earlier run of the same command
    usage: list[tuple[str, str]] = field(default_factory=list)  # LLM requests and tokens
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def as_dict(self) -> dict[str, Any]:
        seconds = self.elapsed()
        return {
            "stage": self.stage, "read": self.read, "written": self.written,
            "dropped": dict(self.dropped), "failed": dict(self.failed), "resumed": self.resumed,
            "seconds": round(seconds, 3), "records_per_s": round(self.read / seconds, 1) if seconds else None,
        }

    def table(self) -> Table:
        table = Table(title=f"curate {self.stage}", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column(justify="right")
        if self.read:
            table.add_row("read", f"{self.read:,}")
        if self.resumed:
            table.add_row("already done (resumed)", f"{self.resumed:,}")
        table.add_row("written", f"{self.written:,}")
        for reason, count in sorted(self.dropped.items()):
            table.add_row(f"dropped: {reason}", f"{count:,}")
        for reason, count in sorted(self.failed.items()):
            table.add_row(f"failed: {reason}", f"{count:,}", style="red")
        for name, value in self.usage:
            table.add_row(name, value)
        seconds = self.elapsed()
        count = self.read or self.written
        rate = f" ({count / seconds:,.1f} records/s)" if seconds > 0 else ""
        table.add_row("time", f"{seconds:.2f} s{rate}")
        return table


def rejected(record: Record, stage: str, reason: str) -> Record:
    """A copy of `record` marked with why `stage` removed it, for a --rejects file."""
    return record.model_copy(update={"meta": {**record.meta, "rejected": {"stage": stage, "reason": reason}}})


def track(items: Iterable[T], description: str) -> Iterator[T]:
    """Iterate with a live count and rate on stderr; silent when stderr is not a terminal."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,.0f} records"),
               TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
        task = progress.add_task(description, total=None)
        for item in items:
            yield item
            progress.advance(task)
