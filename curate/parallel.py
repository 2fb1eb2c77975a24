"""A pure map step in several processes: the input is cut into byte ranges at line boundaries,
each worker reads, validates and maps its range and sends back the serialised lines, and the
parent writes them in input order. Reading and validating is most of a map stage's work, so
this is where the processes pay; the parent only concatenates.

Memory: 2 x workers chunks in flight (a chunk is CHUNK_BYTES of input), never the input.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

from curate.errors import DataError, RecordError, UsageError
from curate.io import InvalidRow, display_name, jsonl_lines, records_of, shard_files, sink_format
from curate.sinks import RowSink, dump_row
from curate.records import Record
from curate.summary import Summary, track

CHUNK_BYTES = 4 << 20

_step: Callable[[Record], Any] | None = None
_stage = ""
_mapping: dict[str, str] | None = None
_invalid_ok = False  # rows that are not records reach the step as InvalidRow (curate convert --skip-invalid)


def jsonl_chunks(path: str | Path, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of about `size` that cover a JSON Lines file, cut after a newline."""
    total = os.path.getsize(path)
    with open(path, "rb") as stream:
        start = 0
        while start < total:
            stream.seek(min(start + size, total))
            if stream.tell() < total:
                stream.readline()
            end = stream.tell()
            yield start, end
            start = end


def read_chunk(path: str | Path, start: int, end: int, mapping: dict[str, str] | None = None,
               invalid_ok: bool = False) -> Iterator[Record]:
    """The records of one byte range of a JSON Lines file (see jsonl_chunks); with `invalid_ok`,
    a row that is not a record comes as an InvalidRow, whose line number is right only in the
    first range (map_in_processes puts the others right: it knows how many lines came before).
    Line numbers in errors count from the top of the file: they are worked out only then."""
    with open(path, "rb") as stream:
        stream.seek(start)
        data = stream.read(end - start)

    def records(first_line: int) -> Iterator[Record]:
        return records_of(jsonl_lines(io.BytesIO(data), str(path), first_line=first_line), mapping, invalid_ok)

    try:
        yield from records(2 if start else 1)
    except DataError:
        if not start:
            raise
        list(records(_lines_before(path, start) + 1))  # the same error again, now with the file's own line number
        raise


def _lines_before(path: str | Path, offset: int) -> int:
    count = done = 0
    with open(path, "rb") as stream:
        while done < offset:
            block = stream.read(min(1 << 20, offset - done))
            count, done = count + block.count(b"\n"), done + len(block)
    return count


def input_chunks(input: str | Path, size: int) -> Iterator[tuple[str, int, int]]:
    """(file, start, end): jsonl_chunks of the input file, or of each file of an input directory."""
    for file in shard_files(input):
        for start, end in jsonl_chunks(file, size):
            yield str(file), start, end


def input_size(input: str | Path) -> int:
    return sum(os.path.getsize(file) for file in shard_files(input))


def cuttable(input: str | Path) -> bool:
    """JSON Lines files (a file or a directory of them, not standard input): they can be cut into
    byte ranges."""
    if str(input) == "-" or not Path(input).exists():
        return False
    files = shard_files(input)
    return all(file.is_file() and file.suffix.lower() == ".jsonl" for file in files)


def splittable(input: str | Path, output: str | Path, *others: str | Path | None) -> bool:
    """JSON Lines in and out (lines pass through as text), from a file that can be cut up;
    `others` are the stage's other outputs (rejects, a report), if given."""
    outputs = [output, *(other for other in others if other is not None)]
    return cuttable(input) and all(sink_format(path) == ".jsonl" for path in outputs)


def worth_it(input: str | Path, output: str | Path, rejects: str | Path | None, workers: int,
             report: str | Path | None = None) -> bool:
    """Splittable, and a file of several chunks."""
    return splittable(input, output, rejects, report) and input_size(input) > 2 * CHUNK_BYTES


def ray_ready(input: str | Path, output: str | Path | None = None, rejects: str | Path | None = None,
              report: str | Path | None = None) -> None:
    """--executor ray cuts its input into byte ranges: a JSON Lines file in; and JSON Lines out
    where `output` is given (the LLM stages' outputs are their journals)."""
    if not (splittable(input, output, rejects, report) if output is not None else cuttable(input)):
        what = "reads and writes JSON Lines files" if output is not None else "reads JSON Lines files"
        raise UsageError(f"{display_name(input)}: --executor ray {what} (.jsonl, or a directory of them; not "
                         "standard input); use --executor local, or first turn the input into JSON Lines "
                         "(curate convert IN -o IN.jsonl)")


def process_pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 executor: str = "local", ray_address: str | None = None, gpus: float = 0) -> Any:
    """The worker processes every parallel stage uses (map stages, pii, dedup's pass one); with
    executor "ray", Ray tasks of the same shape (curate/executors.py).

    Forked on Linux, so workers share the parent's loaded modules and tables for free (macOS and
    Windows fork unsafely or not at all: there they are spawned and get the arguments pickled).
    ProcessPoolExecutor, not Pool: a worker killed by the OOM killer fails the run
    (BrokenProcessPool) instead of leaving it waiting for a lost chunk. And on Linux each worker
    dies with the process that started it, even when that one is killed with SIGKILL: an
    orphaned worker would otherwise wait for work forever, holding its memory.

    `gpus`: what each Ray task asks for (train score's model); local workers share this machine's."""
    if executor == "ray":
        from curate.executors import RayPool

        return RayPool(workers, initializer, initargs, ray_address, gpus)
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    return WorkerPool(workers, mp_context=context, initializer=_start_worker,
                      initargs=(os.getpid(), initializer, initargs))


class WorkerPool(ProcessPoolExecutor):
    """A process pool that, left by an error or Ctrl-C, stops its workers at once instead of
    waiting for their chunks in flight. (A worker stopped while sending a result can leave the
    pool's reader thread waiting for the rest; the console script therefore ends an interrupted
    run with os._exit, after every file was cleaned up: see cli_support.run.)"""

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> bool | None:
        if exc_type is None:
            return super().__exit__(exc_type, *exc)
        processes, queue = list((self._processes or {}).values()), self._call_queue
        self.shutdown(wait=False, cancel_futures=True)
        # SIGKILL, not SIGTERM: a worker just forked still has the parent's Python handler for
        # SIGTERM, and where _start_worker reset it before that handler ran, the signal was
        # dropped; that worker lived on, waiting on the task queue's lock its killed sibling
        # held, and the interpreter's exit waited for it forever (an early break out of
        # scrub_records, 1 test run in 3)
        for process in processes:
            process.kill()
        for process in processes:
            process.join(timeout=5)
        if queue is not None:  # tasks queued for the dead workers must not hold the exit
            queue.cancel_join_thread()
        return None


def _start_worker(parent: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the workers (WorkerPool), which
    # would otherwise each print a KeyboardInterrupt traceback from wherever they were; and
    # SIGTERM (what a worker gets when its parent dies) ends it at once, not through the CLI's handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)
    initializer(*initargs)


def _start(step: Callable[[Record], Any], stage: str, mapping: dict[str, str] | None, invalid_ok: bool) -> None:
    global _step, _stage, _mapping, _invalid_ok
    _step, _stage, _mapping, _invalid_ok = step, stage, mapping, invalid_ok


class Mapped(NamedTuple):
    """What a worker makes of one byte range: the lines for each file, and the counts."""

    kept: list[str]
    removed: list[str]
    report: list[tuple[int, str]]  # rows of the stage's report file (pii's --report), by record within the range
    read: int  # records (and invalid rows): lines of the range
    dropped: Counter[str]
    counts: Counter[str]
    path: str
    invalid: list[tuple[int, int]]  # (index in removed, line within the range) of rows that are not records


def _map_chunk(path: str, start: int, end: int) -> Mapped:
    from curate.runner import Reject, output_rows, reject_row, unnoted  # the worker's copies of the classes

    assert _step is not None, "worker used before _start"
    done = Mapped([], [], [], 0, Counter(), Counter(), path, [])
    read = 0
    for record in read_chunk(path, start, end, _mapping, _invalid_ok):
        read += 1
        try:
            noted = unnoted(_step(record))
        except RecordError as error:  # every line of a range is a record: count the lines before it
            raise error.at(f"{path}: record {_lines_before(path, start) + read}") from None
        result = noted.result
        if noted.report is not None:
            done.report.append((read, dump_row(noted.report)))
        done.counts.update(noted.counts)
        if isinstance(result, Reject):
            if isinstance(result.record, InvalidRow):
                done.invalid.append((len(done.removed), read))
            done.dropped[result.reason] += 1
            done.removed.append(dump_row(reject_row(result, _stage)) + "\n")
            continue
        done.kept.extend(dump_row(row) + "\n" for row in output_rows(result))
    return done._replace(read=read)


def map_in_processes(stage: str, input: str | Path, output: str | Path, step: Callable[[Record], Any],
                     rejects: str | Path | None, mapping: dict[str, str] | None, summary: Summary,
                     workers: int, executor: str = "local", ray_address: str | None = None,
                     report: str | Path | None = None, invalid_ok: bool = False, gpus: float = 0,
                     finish: Callable[[Summary], None] | None = None) -> Summary:
    """The step over every byte range of the input in `workers` processes (or Ray tasks); the
    lines they send back are written in input order. `finish` sees the summary before the
    files are published, and may refuse them by raising."""
    with ExitStack() as stack:
        out = stack.enter_context(RowSink(output))
        removed = stack.enter_context(RowSink(rejects)) if rejects else None
        report_rows = stack.enter_context(RowSink(report)) if report else None
        pool = stack.enter_context(process_pool(workers, _start, (step, stage, mapping, invalid_ok), executor,
                                                ray_address, gpus))
        calls = ((_map_chunk, chunk) for chunk in input_chunks(input, CHUNK_BYTES))
        lines_before: Counter[str] = Counter()  # of each file, in the ranges already written
        for done in track(in_order(pool, workers, calls), f"{stage} {input} ({workers} processes)"):
            records_before = summary.read  # in every file before this range
            for index, line in done.invalid:  # a range knows its own lines only: its place in the file is known here
                done.removed[index] = _at_line(done.removed[index], f"{done.path}:{lines_before[done.path] + line}")
            lines_before[done.path] += done.read
            summary.read += done.read
            summary.written += len(done.kept)
            summary.dropped.update(done.dropped)
            for name, count in done.counts.items():
                summary.count(name, count)
            for sink, lines in ((out, done.kept), (removed, done.removed)):
                if sink is not None:
                    for line in lines:
                        sink.write_line(line)
            if report_rows is not None:
                from curate.runner import numbered

                for number, row in done.report:
                    report_rows.write_line(numbered(records_before + number, row))
        if finish is not None:
            finish(summary)
    return summary


def _at_line(reject_line: str, where: str) -> str:
    """A rejects line of a row that was not a record, naming the line it was on."""
    import json

    row = json.loads(reject_line)
    row["meta"]["rejected"]["where"] = where
    return dump_row(row) + "\n"


def no_setup() -> None:
    """An initializer for pools whose tasks need no state."""


def _records_of_range(path: str, start: int, end: int, mapping: dict[str, str] | None) -> list[Record]:
    return list(read_chunk(path, start, end, mapping))


def in_order(pool: Any, workers: int, calls: Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Iterator[Any]:
    """Each (function, args) call's result, in the order given, with 2 x workers calls in flight."""
    pending: deque[Future[Any]] = deque()
    while True:
        while len(pending) < 2 * workers and (call := next(calls, None)) is not None:
            pending.append(pool.submit(call[0], *call[1]))
        if not pending:
            return
        yield pending.popleft().result()


def records_in_pool(input: str | Path, mapping: dict[str, str] | None, workers: int, executor: str = "local",
                    ray_address: str | None = None) -> Iterator[Record]:
    """The input's records in file order, read and validated by the pool's workers a byte range at
    a time (for a stage that needs every record in one place, such as split)."""
    with process_pool(workers, no_setup, (), executor, ray_address) as pool:
        calls = ((_records_of_range, (*chunk, mapping)) for chunk in input_chunks(input, CHUNK_BYTES))
        for records in in_order(pool, workers, calls):
            yield from records
