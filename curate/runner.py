"""The one runner every stage goes through: records stream in, results stream out.

Map stages (filter, pii, export, rank, convert, train score) go through `run_map`: records
are read lazily, passed through the stage's transform in order, and each result is written
as it comes, kept ones to the output and `Reject`s to the rejects file, both atomic. Memory is
what the transform holds (one batch), never the input.

LLM stages (respond, judge, revise, backtranslate) go through `run_per_record`, and evol and
self-instruct schedule their own work on a `StageRun`. There the output file is the journal: each finished record is appended and flushed at once, and
what a stage removed goes to its rejects journal (default `OUT.rejects.jsonl`). On start
both are read back (a torn last line is cut) and the stage skips every unit that is done,
so a re-run after a kill or Ctrl-C continues with nothing lost, duplicated or asked again;
see curate/journal.py for what "done" means and how failures are retried.
"""

from __future__ import annotations

import shutil
from collections import Counter
from contextlib import ExitStack, contextmanager
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeRemainingColumn)
from rich.text import Text

from curate.errors import RecordError, UsageError
from curate.io import InvalidRow, display_name, ensure_distinct, read_records
from curate.sinks import RowSink, dump_row, record_row
from curate.journal import Journal, JsonlAppender, OutputKey, default_rejects
from curate.records import Example, Record
from curate.run_manifest import Manifest, fingerprint, settings_of
from curate.summary import FAILED, Summary, rejected, stderr, track

if TYPE_CHECKING:  # the client loads with the first LLM stage, not with every map stage
    from curate.llm import LLM


T = TypeVar("T")


class Reject(NamedTuple):
    """What a map stage returns for a record it removes."""

    record: Record
    reason: str


class Noted(NamedTuple):
    """A map result with what else a stage keeps of its record: a row for the stage's report
    file (pii's --report) and names to count once each in the summary (pii's replaced:EMAIL)."""

    result: Record | dict[str, Any] | list[Record | dict[str, Any]] | Reject
    report: dict[str, Any] | None = None
    counts: tuple[str, ...] = ()


def unnoted(result: MapResult) -> Noted:
    """Any map result as a Noted one (with no report row and nothing to count if it was not)."""
    return result if isinstance(result, Noted) else Noted(result)


MapResult = Record | dict[str, Any] | list[Record | dict[str, Any]] | Reject | Noted
Transform = Callable[[Iterable[Record]], Iterable[MapResult]]


def each(step: Callable[[Record], MapResult]) -> Transform:
    """The transform of a stage that handles one record at a time."""
    return lambda records: map(step, records)


def output_rows(result: Record | dict[str, Any] | list[Record | dict[str, Any]]) -> list[dict[str, Any]]:
    """The output rows of a map result that is not a Reject: a record, a row, or a list of them."""
    return [item if isinstance(item, dict) else record_row(item)
            for item in (result if isinstance(result, list) else (result,))]


def reject_row(reject: Reject, stage: str) -> dict[str, Any]:
    if isinstance(reject.record, InvalidRow):  # a row that never became a record (curate convert)
        return reject.record.rejects_row(stage, reject.reason)
    return record_row(rejected(reject.record, stage, reject.reason))


def numbered(record: int, row: str) -> str:
    """A report line (a row as JSON) with "record" first: the record's place in the input, from
    1 (its line, in one JSON Lines file), as ids can repeat. Made the same way in one process and
    for byte ranges, whose place in the file only the parent knows."""
    return f'{{"record":{record},{row[1:]}\n' if row != "{}" else f'{{"record":{record}}}\n'


def run_map(stage: str, input: str | Path, output: str | Path, transform: Transform, *,
            rejects: str | Path | None = None, mapping: dict[str, str] | None = None,
            summary: Summary | None = None, records: Iterable[Record] | None = None,
            step: Callable[[Record], MapResult] | None = None, workers: int = 1, executor: str = "local",
            ray_address: str | None = None, report: str | Path | None = None, invalid_ok: bool = False,
            gpus: float = 0, finish: Callable[[Summary], None] | None = None) -> Summary:
    """Stream `input` (or `records`) through `transform` into `output`: a record or row (or a
    list of them) is written as it comes, a Reject goes to `rejects` with {stage, reason}, and
    a Noted result's report row goes to `report`. The files appear whole at the end; an error
    leaves none.

    A stage whose work is a pure `step` may pass it with `workers` > 1: a JSON Lines file
    larger than a few chunks is then read, validated and mapped in that many processes, chunk
    by chunk, and written in input order (curate/parallel.py); with executor "ray", in Ray tasks
    (asking for `gpus` each), into any output format.

    `invalid_ok`: rows that are not records reach the transform as InvalidRow. `finish` sees the
    summary before the files are published, and may refuse them by raising (export checks that
    a dataset_info.json entry describes one kind of record)."""
    ensure_distinct({"INPUT": input, "--output": output, "--rejects": rejects, "--report": report})
    summary = summary or Summary(stage)
    if executor == "ray":  # the same step, as Ray tasks over the same byte ranges
        from curate.parallel import map_in_processes, ray_ready

        assert step is not None and records is None, f"{stage}: only a pure step runs on Ray"
        ray_ready(input)  # cut into byte ranges; what the tasks send back is written here, in any format
        return map_in_processes(stage, input, output, step, rejects, mapping, summary, workers, executor, ray_address,
                                report, invalid_ok, gpus, finish)
    if step is not None and workers > 1 and records is None:
        from curate.parallel import map_in_processes, worth_it

        if worth_it(input, output, rejects, workers, report):
            return map_in_processes(stage, input, output, step, rejects, mapping, summary, workers, report=report,
                                    invalid_ok=invalid_ok, finish=finish)

    def counted(source: Iterable[Record]) -> Iterable[Record]:
        for record in track(source, f"{stage} {display_name(input)}"):
            summary.read += 1
            yield record

    with ExitStack() as files:
        out = files.enter_context(RowSink(output))
        removed = files.enter_context(RowSink(rejects)) if rejects else None
        report_rows = files.enter_context(RowSink(report)) if report is not None else None
        results = transform(counted(records if records is not None else read_records(input, mapping, invalid_ok)))
        # a generator holding worker processes (pii's) is closed on an error or Ctrl-C, so they stop now
        files.callback(getattr(results, "close", lambda: None))
        number = 0  # results so far: one per record, in order (reading may run ahead of them)
        try:
            for noted in map(unnoted, results):
                number += 1
                result = noted.result
                if noted.report is not None and report_rows is not None:
                    report_rows.write_line(numbered(number, dump_row(noted.report)))
                for name in noted.counts:
                    summary.count(name)
                if isinstance(result, Reject):
                    summary.dropped[result.reason] += 1
                    if removed is not None:
                        removed.write(reject_row(result, stage))
                    continue
                for row in output_rows(result):
                    out.write(row)
                    summary.written += 1
        except RecordError as error:  # raised for the record after the last result
            raise error.at(f"{display_name(input)}: record {number + 1}") from None
        if finish is not None:
            finish(summary)
    return summary


class _Rate(ProgressColumn):
    def render(self, task: Any) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="cyan")


def read_journal(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows already in a journal (complete lines only, streamed), for a stage rebuilding its state."""
    return JsonlAppender(path).rows()


def by_id(row: dict[str, Any]) -> str:
    return row["id"]


def _not_a_ray_output(output: str | Path, config: BaseModel | None) -> None:
    """An output joined from Ray shards is continued on Ray (its journals are the shards'), or
    started over with --restart, which removes the shards too."""
    from curate.ray_stages import PLAN, shard_folder

    folder = shard_folder(output)
    if not (folder / PLAN).exists():
        return
    if getattr(config, "restart", False):
        shutil.rmtree(folder, ignore_errors=True)
        return
    raise UsageError(f"{output}: written by a run with --executor ray (its journals are in {folder}); continue it "
                     "with --executor ray, or start over with --restart")


def check_journals(*paths: str | Path) -> None:
    """A generating stage's output and rejects are its journals: one .jsonl file each."""
    for path in paths:
        if str(path) == "-" or Path(path).suffix != ".jsonl" or "*" in Path(path).name:
            raise UsageError(f"{path}: a generating stage writes one .jsonl file, appending as it goes, so that "
                             "a re-run can resume (directories of parts are for filter, pii, dedup and rank)")


class StageRun:
    """Output and rejects journals, a progress bar with failures, and the summary.

    Every result is written with the key of the unit of work it finishes (by default the
    record's id); `is_done(key)` says whether an earlier run finished it.
    """

    def __init__(self, stage: str, output: str | Path, rejects: str | Path | None = None,
                 total: int | None = None, llm: LLM | None = None, input: str | Path | None = None,
                 config: BaseModel | None = None, output_key: OutputKey = by_id):
        rejects = rejects or default_rejects(output)
        check_journals(output, rejects)
        ensure_distinct({"the input": input, "--output": output, "--rejects": rejects})
        _not_a_ray_output(output, config)
        self.summary = Summary(stage)
        self.total = total
        from curate.executors import local_only

        local_only(config, stage)  # a stage sharded on Ray arrives here with executor local (ray_stages.py)
        self.llm = llm
        self.config = config
        self.summary.files |= {"output": str(Path(output).resolve()), "rejects": str(Path(rejects).resolve())}
        self.journal = Journal(stage, output, rejects, output_key)
        self._manifest = Manifest(stage, fingerprint(input), str(Path(rejects).resolve()), settings_of(config))
        self._progress = Progress(SpinnerColumn(), TextColumn(f"[bold]{stage}[/]"), BarColumn(),
                                  MofNCompleteColumn(), _Rate(), TextColumn("{task.fields[failed]}", style="red"),
                                  TimeRemainingColumn(), console=stderr, transient=True,
                                  disable=not stderr.is_terminal)
        self._task: Any = None

    def __enter__(self) -> StageRun:
        try:
            self.journal.open(self._manifest, restart=bool(getattr(self.config, "restart", False)))
        except BaseException:
            self.journal.close()
            raise
        if self.llm is not None:
            self.llm.when_ready(self.journal.model_resolved)
            attach = getattr(self.llm.backend, "attach", None)
            if attach is not None:  # the Batch API's list of batches lives beside the output
                attach(Path(self.journal.output_path), bool(getattr(self.config, "restart", False)))
        self._task = self._progress.add_task(self.summary.stage, total=self.total, failed="")
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._progress.stop()
        try:
            if exc_type is None:
                self.journal.finish()
            else:
                self.journal.checkpoint()
            self.summary.totals = Counter(self.journal.totals)
        finally:
            self.journal.close()
        if exc_type is not None and self._did_something():
            stderr.print(self.summary.table())  # what was saved before the run stopped
        if self.llm is not None:
            self.llm.forget(self.journal.model_resolved)  # a client may serve the next stage too
            self.summary.counts |= self.llm.usage.counts()
            if self.llm.usage.requests:
                self.summary.counts |= self.llm.concurrency_counts()
                self.summary.facts["model"] = self.llm.backend.model  # whose tokens these are
                price = getattr(self.config, "price", None)
                if price:
                    from curate.llm_config import cost_facts

                    usage = self.llm.usage
                    factor = getattr(self.llm.backend, "price_factor", 1.0)  # the Batch API's: half the live price
                    self.summary.facts |= cost_facts(usage.prompt_tokens, usage.completion_tokens, price, factor)
                    if factor != 1.0:
                        self.summary.facts["batch_discount"] = f"{1 - factor:.0%} (Batch API)"

    def _did_something(self) -> bool:
        summary = self.summary
        return bool(summary.written or summary.dropped or summary.failed)

    def is_done(self, key: str) -> bool:
        return self.journal.is_done(key)

    def resumed(self, count: int = 1) -> None:
        """Count work a previous run finished (it shows in the bar, not in `written`)."""
        self.summary.resumed += count
        self._progress.advance(self._task, count)

    def keep(self, record: Record, key: str | None = None, advance: int = 1) -> bool:
        """Write a result; a record whose id (a content hash) is written already is dropped as
        `duplicate_id` instead, and False returned."""
        if not self.journal.write_output(record, key or record.id):
            self.drop(record, "duplicate_id", key, advance)
            return False
        self.summary.written += 1
        self._progress.advance(self._task, advance)
        return True

    def drop(self, record: Record, reason: str, key: str | None = None, advance: int = 1) -> None:
        self.journal.write_reject(record, reason, key or record.id)
        self.summary.dropped[reason] += 1
        self._progress.advance(self._task, advance)

    def fail(self, record: Record, reason: str, key: str | None = None, advance: int = 1, message: str = "") -> None:
        """`message`: what the server said, if it said anything (shown once per reason at the end)."""
        self.journal.write_reject(record, FAILED + reason, key or record.id)
        self.summary.failed[reason] += 1
        if message:
            self.summary.failure_messages.setdefault(reason, message)
        failures = sum(self.summary.failed.values())
        self._progress.update(self._task, advance=advance, failed=f"{failures:,} failed")


class ReadTwice(Generic[T]):
    """The records of an input file for an LLM stage, read twice: once up front (every row valid,
    and how many, before any request is sent) and again, lazily, as the stage goes. Memory: one
    record; standard input, which can be read only once, is held whole."""

    def __init__(self, path: str | Path, read: Callable[[], Iterator[T]]):
        self._read = read
        self._held: list[T] | None = None
        if str(path) == "-":
            self._held = list(read())
            self.count = len(self._held)
        else:
            self.count = sum(1 for _ in read())

    def __iter__(self) -> Iterator[T]:
        return iter(self._held) if self._held is not None else self._read()

    def __len__(self) -> int:
        return self.count


def read_examples(path: str | Path, mapping: dict[str, str] | None, stage: str,
                  select: Callable[[Example], bool] | None = None) -> ReadTwice[Example]:
    """The examples of `path` (a preference is an error), those `select` keeps."""
    def read() -> Iterator[Example]:
        for number, record in enumerate(read_records(path, mapping), 1):
            if not isinstance(record, Example):
                raise UsageError(f"{display_name(path)}: record {number} is a preference; curate {stage} "
                                 "works on instruction/output examples")
            if select is None or select(record):
                yield record

    return ReadTwice(path, read)


class Failure(NamedTuple):
    """What a per-record step returns when the record failed for a reason other than a request."""

    record: Record
    reason: str


Outcome = tuple[Record, str | None] | Failure


Key = Callable[[Record], str]


async def each_record(run: StageRun, llm: LLM, items: Iterable[tuple[str, Record]],
                      step: Callable[[Record], Awaitable[Outcome]]) -> None:
    """Run `step` over (key, record) items, `llm.width` at a time, writing each result as
    it lands: (record, None) is kept, (record, reason) dropped, a Failure or a failed request
    failed; every line carries the key of the input it finishes."""
    async def keyed(item: tuple[str, Record]) -> Outcome:
        return await step(item[1])

    from curate.llm import RequestFailed, map_unordered

    async for (key, record), outcome in map_unordered(items, keyed, llm.width):
        if isinstance(outcome, RequestFailed):
            run.fail(record, outcome.reason, key, message=outcome.detail)
        elif isinstance(outcome, BaseException):
            raise outcome
        elif isinstance(outcome, Failure):
            run.fail(outcome.record, outcome.reason, key)
        elif outcome[1]:
            run.drop(outcome[0], outcome[1], key)
        else:
            run.keep(outcome[0], key)


@contextmanager
def own_client(llm: LLM | None, config: Any) -> Iterator[LLM]:
    """The caller's client, left open for its next use; or one built from `config`, closed when
    the stage ends."""
    if llm is not None:
        yield llm
        return
    from curate.llm_config import build_llm

    built = build_llm(config)
    try:
        yield built
    finally:
        built.close()


def run_per_record(stage: str, output: str | Path, rejects: str | Path | None, llm: LLM, records: Iterable[Record],
                   step: Callable[[Record], Awaitable[Outcome]], *, input: str | Path | None = None,
                   config: BaseModel | None = None, output_key: OutputKey = by_id, key: Key = lambda r: r.id,
                   passthrough: Callable[[Record], bool] | None = None) -> Summary:
    """A resumable stage that runs `step` once per input record. A record is done when its key
    (by default its id) is in the output, or in the rejects for a reason other than a failure;
    `output_key` finds the key in an output row. A second copy of an input record is dropped as
    `duplicate_id` without a request; `passthrough` records are written as they are.

    Records are read as the window has room (memory: the window, the keys of finished units and
    one count per input key, never the records)."""
    total = len(records) if isinstance(records, Sized) else None
    with StageRun(stage, output, rejects, total=total, llm=llm, input=input, config=config,
                  output_key=output_key) as run:
        copies: Counter[str] = Counter()

        def pending() -> Iterator[tuple[str, Record]]:
            for record in records:
                run.summary.read += 1
                unit = first = key(record)
                copies[first] += 1
                if copies[first] > 1:
                    unit = f"{first}#{copies[first] - 1}"  # the n-th copy is a unit of its own, done once dropped
                if run.is_done(unit):
                    run.resumed()
                elif unit != first:
                    run.drop(record, "duplicate_id", unit)
                elif passthrough is not None and passthrough(record):
                    run.keep(record, unit)
                else:
                    yield unit, record

        llm.run(each_record(run, llm, pending(), step))
    return run.summary
