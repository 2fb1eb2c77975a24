"""What every stage prints at the end, and the progress bar it shows while it works."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from curate.records import Record

T = TypeVar("T")
FAILED = "failed:"  # the prefix of every reject reason that means "tried, failed for good, retry"
stderr = Console(stderr=True)


def _command_start() -> float:
    """When the command line began, for its first summary (its clock then matches the user's,
    start-up included); now, for any other summary and outside the CLI."""
    cli = sys.modules.get("curate.cli_support")  # only when the CLI runs: importing it here would load typer
    started = getattr(cli, "command_started", None)
    if started is None:
        return time.perf_counter()
    cli.command_started = None  # type: ignore[union-attr]
    return started


@dataclass
class Summary:
    """Counts of one stage run: read, written, dropped and failed by reason.

    The counts are this run's work. A resumable stage also sets `totals`: the lines of its
    output ("written") and of its rejects by reason, over every run that wrote them, as they
    are in the files when the run ends.
    """

    stage: str
    read: int = 0
    written: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    failure_messages: dict[str, str] = field(default_factory=dict)  # reason -> what the first such failure said
    resumed: int = 0  # finished by an earlier run of the same command
    counts: dict[str, int] = field(default_factory=dict)  # the stage's own numbers: requests, tokens, findings
    facts: dict[str, Any] = field(default_factory=dict)  # what is not a count: the model, the cost
    totals: Counter[str] | None = None
    stopped: str | None = None  # why the run ended before it had done what it was asked
    files: dict[str, str] = field(default_factory=dict)  # role (input, output, rejects) -> path, for curate report
    started: float = field(default_factory=_command_start)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def count(self, name: str, by: float = 1) -> None:
        """Add to one of the stage's own numbers (`counts`), starting it at 0."""
        self.counts[name] = self.counts.get(name, 0) + by

    def processed(self) -> int:
        """Items this run finished: what its speed is measured by (resumed ones cost nothing)."""
        if self.read:
            return max(self.read - self.resumed, 0)
        return self.written + sum(self.dropped.values()) + sum(self.failed.values())

    def failures_left(self) -> Counter[str]:
        """Items that failed for good and are not done: in the rejects now (or, for a stage
        without journals, this run's failures)."""
        if self.totals is None:
            return Counter(self.failed)
        return Counter({reason.removeprefix(FAILED): count for reason, count in self.totals.items()
                        if reason.startswith(FAILED) and count})

    def as_dict(self) -> dict[str, Any]:
        seconds = self.elapsed()
        return {
            "stage": self.stage, "read": self.read, "written": self.written,
            "dropped": dict(self.dropped), "failed": dict(self.failed), "resumed": self.resumed,
            "totals": dict(self.totals) if self.totals is not None else None, "counts": dict(self.counts),
            "facts": dict(self.facts), "files": dict(self.files),
            "stopped": self.stopped,
            "seconds": round(seconds, 3), "records_per_s": round(self.processed() / seconds, 1) if seconds else None,
        }

    def table(self) -> Table:
        table = Table(title=f"curate {self.stage}", show_header=self._two_columns(), title_justify="left")
        table.add_column(style="bold")
        table.add_column("this run", justify="right")
        if self._two_columns():
            table.add_column("in the files", justify="right")
        if self.read:
            table.add_row("read", f"{self.read:,}")
        if self.resumed:
            table.add_row("already done (resumed)", f"{self.resumed:,}")
        table.add_row("written", f"{self.written:,}", *self._total("written"))
        for reason in sorted(set(self.dropped) | self._total_reasons(failed=False)):
            table.add_row(f"dropped: {reason}", f"{self.dropped[reason]:,}", *self._total(reason))
        for reason in sorted(set(self.failed) | self._total_reasons(failed=True)):
            table.add_row(f"failed: {reason}", f"{self.failed[reason]:,}", *self._total(FAILED + reason),
                          style="red")
        for name, value in self.counts.items():
            table.add_row(name.replace("_", " "), f"{value:,}")
        for name, value in self.facts.items():
            table.add_row(name.replace("_", " "), f"{value:,.4f}" if isinstance(value, float) else str(value))
        seconds = self.elapsed()
        rate = f" ({self.processed() / seconds:,.1f} records/s)" if seconds > 0 else ""
        table.add_row("time", f"{seconds:.2f} s{rate}")
        if self.stopped:
            table.add_row("stopped", self.stopped, style="red")
        return table

    def _two_columns(self) -> bool:
        """Totals differ from this run's counts only when an earlier run did part of the work."""
        return self.totals is not None and self.resumed > 0

    def _total(self, key: str) -> list[str]:
        return [f"{self.totals[key]:,}"] if self._two_columns() and self.totals is not None else []

    def _total_reasons(self, failed: bool) -> set[str]:
        if not self._two_columns() or self.totals is None:
            return set()
        return {reason.removeprefix(FAILED) for reason, count in self.totals.items()
                if count and reason != "written" and reason.startswith(FAILED) == failed}


def rejected(record: Record, stage: str, reason: str, key: str | None = None) -> Record:
    """A copy of `record` marked with why `stage` removed it, for a --rejects file; a resumable
    stage adds the key of the unit of work, so a re-run knows what the line stands for."""
    info = {"stage": stage, "reason": reason, **({"key": key} if key is not None else {})}
    return record.model_copy(update={"meta": {**record.meta, "rejected": info}})


def track(items: Iterable[T], description: str) -> Iterator[T]:
    """Iterate with a live count and rate on stderr; silent when stderr is not a terminal."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,.0f} records"),
               TimeElapsedColumn()]
    if not stderr.is_terminal:  # nothing to show: not even the bar's bookkeeping per item
        yield from items
        return
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=None)
        for count, item in enumerate(items, 1):
            yield item
            if count % 256 == 0:  # the bar redraws a few times a second; advancing per item costs more
                progress.advance(task, 256)


@contextmanager
def counting(description: str) -> Iterator[Callable[[int], None]]:
    """A live count and rate on stderr for work done in batches: call the yielded function with
    each batch's size. Silent when stderr is not a terminal."""
    if not stderr.is_terminal:
        yield lambda count: None
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,.0f} records"),
               TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda count: progress.advance(task, count)
