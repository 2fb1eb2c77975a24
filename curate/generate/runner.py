"""The bookkeeping every generating stage shares: journals, progress and the summary.

The output file is the journal: each finished record is appended and flushed at once. On
start the ids already there are read back (a torn last line is cut), and the stage skips
them, so a re-run after a kill or Ctrl-C continues with no record lost or duplicated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeRemainingColumn)
from rich.text import Text

from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

from curate.errors import UsageError
from curate.io import JsonlAppender, read_records
from curate.llm import LLM, RequestFailed, map_unordered
from curate.records import Example, Record
from curate.summary import Summary, rejected, stderr


class _Rate(ProgressColumn):
    def render(self, task: Any) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="cyan")


def read_journal(path: str | Path | None) -> list[dict[str, Any]]:
    """Rows already in a journal (complete lines only), for a stage rebuilding its state."""
    if not path or not Path(path).exists():
        return []
    data = Path(path).read_bytes()
    lines = data[: data.rfind(b"\n") + 1].splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class StageRun:
    """Output and rejects journals, a progress bar with failures, and the summary."""

    def __init__(self, stage: str, output: str | Path, rejects: str | Path | None = None,
                 total: int | None = None, llm: LLM | None = None):
        for path in filter(None, (output, rejects)):
            if str(path) == "-" or Path(path).suffix != ".jsonl":
                raise UsageError(f"{path}: a generating stage writes .jsonl, appending as it goes, "
                                 "so that a re-run can resume")
        self.summary = Summary(stage)
        self.total = total
        self.llm = llm
        self._output = JsonlAppender(output)
        self._rejects = JsonlAppender(rejects) if rejects else None
        self.done: set[str] = set()
        self._rejected: set[str] = set()
        self._progress = Progress(SpinnerColumn(), TextColumn(f"[bold]{stage}[/]"), BarColumn(),
                                  MofNCompleteColumn(), _Rate(), TextColumn("{task.fields[failed]}", style="red"),
                                  TimeRemainingColumn(), console=stderr, transient=True,
                                  disable=not stderr.is_terminal)
        self._task: Any = None

    def __enter__(self) -> StageRun:
        self.done = self._output.open()
        self._rejected = self._rejects.open() if self._rejects else set()
        self._task = self._progress.add_task(self.summary.stage, total=self.total, failed="")
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
        self._output.close()
        if self._rejects:
            self._rejects.close()
        if self.llm is not None:
            self.summary.usage = self.llm.usage.rows()

    def resumed(self, count: int = 1) -> None:
        """Count work a previous run finished (it shows in the bar, not in `written`)."""
        self.summary.resumed += count
        self._progress.advance(self._task, count)

    def keep(self, record: Record, advance: int = 1) -> None:
        if record.id in self.done:  # the same content twice (ids are content hashes): count it, keep one
            self.drop(record, "duplicate_id", advance)
            return
        self._output.write(record)
        self.done.add(record.id)
        self.summary.written += 1
        self._progress.advance(self._task, advance)

    def drop(self, record: Record, reason: str, advance: int = 1) -> None:
        self.summary.dropped[reason] += 1
        self._reject(record, reason)
        self._progress.advance(self._task, advance)

    def fail(self, record: Record, reason: str, advance: int = 1) -> None:
        self.summary.failed[reason] += 1
        self._reject(record, f"failed:{reason}")
        failures = sum(self.summary.failed.values())
        self._progress.update(self._task, advance=advance, failed=f"{failures:,} failed")

    def _reject(self, record: Record, reason: str) -> None:
        if self._rejects and record.id not in self._rejected:
            self._rejects.write(rejected(record, self.summary.stage, reason))
            self._rejected.add(record.id)


def read_examples(path: str | Path, mapping: dict[str, str] | None, stage: str) -> list[Example]:
    """All records of a file, which must be examples (a stage that answers or rates them)."""
    records = list(read_records(path, mapping))
    if any(not isinstance(record, Example) for record in records):
        raise UsageError(f"{path}: curate {stage} works on instruction/output examples; this file holds preferences")
    return records  # type: ignore[return-value]


class Failure(NamedTuple):
    """What a per-record step returns when the record failed for a reason other than a request."""

    record: Record
    reason: str


Outcome = tuple[Record, str | None] | Failure


async def each_record(run: StageRun, llm: LLM, records: Iterable[Record],
                      step: Callable[[Record], Awaitable[Outcome]]) -> None:
    """Run `step` over records, `llm.concurrency` at a time, writing each result as it lands:
    (record, None) is kept, (record, reason) dropped, a Failure or a failed request failed."""
    async for record, outcome in map_unordered(records, step, llm.concurrency):
        if isinstance(outcome, RequestFailed):
            run.fail(record, outcome.reason)
        elif isinstance(outcome, BaseException):
            raise outcome
        elif isinstance(outcome, Failure):
            run.fail(outcome.record, outcome.reason)
        elif outcome[1]:
            run.drop(outcome[0], outcome[1])
        else:
            run.keep(outcome[0])
    await llm.aclose()


def run_per_record(stage: str, output: str | Path, rejects: str | Path | None, llm: LLM, records: list[Record],
                   step: Callable[[Record], Awaitable[Outcome]], finished: set[str] | None = None,
                   passthrough: Callable[[Record], bool] | None = None) -> Summary:
    """A resumable stage that runs `step` once per record: records whose id is in `finished` (by
    default: already in the output) count as done, and `passthrough` ones are written as they are."""
    with StageRun(stage, output, rejects, total=len(records), llm=llm) as run:
        run.summary.read = len(records)
        done = run.done if finished is None else finished
        todo = []
        for record in records:
            if record.id in done:
                run.resumed()
            elif passthrough is not None and passthrough(record):
                run.keep(record)
            else:
                todo.append(record)
        llm.run(each_record(run, llm, todo, step))
    return run.summary
