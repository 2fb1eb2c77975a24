"""Pass one of `curate dedup`: records in, sketches and a spool of output lines out.

Each run of records (a byte range of a JSON Lines file in a worker process, or a chunk of any
other input here) is read, validated and sketched; what comes back goes to the store (on
disk), to the spool (the records as output lines, split into their fields and their meta, so
pass two adds meta.dedup without validating anything again) and to `Facts` (per record: text
length, judge score, id).

Memory: 2 x workers runs in flight, and Facts' arrays (about 20 bytes a record).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
from xxhash import xxh3_64_intdigest

from curate.filters.lsh import Sketch, Sketcher, SketchStore
from curate.io import read_records
from curate.sinks import dump_row, record_row
from curate.parallel import cuttable, in_order, input_chunks, input_size, process_pool, read_chunk
from curate.records import Record

CHUNK_RECORDS = 5_000  # records sketched at a time from an input read here
CHUNK_BYTES = 4 << 20  # bytes of JSON Lines a worker reads at a time


def record_text(record: Record, fields: Sequence[str]) -> str:
    parts = []
    for name in fields:
        value = getattr(record, name, None)
        if name == "history":
            value = "\n".join(part for turn in record.history for part in turn)
        if isinstance(value, list):
            value = "\n".join(map(str, value))
        if value:
            parts.append(str(value))
    return "\n".join(parts)


_EVERY_TEXT = ("system", "history", "instruction", "input", "output", "chosen", "rejected", "responses")


def record_length(record: Record) -> int:
    """What --keep longest compares: the characters of all of a record's texts (the answer too),
    each run of whitespace counted as one, so padding makes no record longer."""
    return len(" ".join(record_text(record, _EVERY_TEXT).split()))


def judge_score(record: Record) -> float:
    """What --keep best-score ranks by: meta.judge.score, or -inf (unscored) where it is missing
    or no finite number (a flag, 1e400, NaN: such a score would win every cluster, or none)."""
    judge = record.meta.get("judge")
    score = judge.get("score") if isinstance(judge, dict) else None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return float("-inf")
    return float(score)


@dataclass
class Run:
    """What pass one makes of a run of records."""

    sketch: Sketch
    lengths: np.ndarray
    scores: np.ndarray
    ids: list[str]
    lines: list[str]  # each record's id, its output line without meta, and its meta, tab-separated


def sketch_records(records: Iterable[Record], sketcher: Sketcher, fields: Sequence[str], measure: bool = False) -> Run:
    """`measure`: find each record's length (for --keep longest; ~20 us a T0 record), or give 0."""
    texts, lengths, scores, ids, lines = [], [], [], [], []
    for record in records:
        texts.append(record_text(record, fields))
        lengths.append(record_length(record) if measure else 0)
        scores.append(judge_score(record))
        ids.append(record.id)
        row = record_row(record)
        meta = row.pop("meta", None) or {}
        lines.append(f"{dump_row(record.id)}\t{dump_row(row)}\t{dump_row(meta)}\n")  # JSON never holds a raw tab
    return Run(sketcher.sketch(texts), np.array(lengths, np.int64), np.array(scores), ids, lines)


def spooled_rows(stream: IO[str]) -> Iterator[tuple[str, str, str]]:
    """(id as JSON, line without meta, meta as JSON) for each record of a spool."""
    for line in stream:
        identifier, head, meta = line.rstrip("\n").split("\t")
        yield identifier, head, meta


def with_meta(head: str, meta: str, added: dict[str, str]) -> str:
    """The output line of a spooled record, its meta extended by `added` (key: value as JSON),
    put together as text: nothing is parsed unless meta already holds one of those keys."""
    if any(f'"{key}"' in meta for key in added):
        import json

        merged = json.loads(meta) | {key: json.loads(value) for key, value in added.items()}
        meta = dump_row(merged)
    else:
        extra = ",".join(f'"{key}":{value}' for key, value in added.items())
        meta = f"{{{extra}}}" if meta == "{}" else f"{meta[:-1]},{extra}}}"
    return f'{head[:-1]},"meta":{meta}}}\n'


class Texts:
    """Strings by position (record ids, which can be long), in a file: 16 bytes each in memory
    (where each ends, and its hash)."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "wb")
        self._ends: list[np.ndarray] = []
        self._hashes: list[np.ndarray] = []
        self._written = 0
        self.ends = np.zeros(0, np.int64)
        self.hashes = np.zeros(0, np.uint64)

    def add(self, texts: Sequence[str]) -> None:
        data = [text.encode("utf-8") for text in texts]
        self._file.write(b"".join(data))
        ends = self._written + np.cumsum([len(d) for d in data], dtype=np.int64)
        self._ends.append(ends)
        self._hashes.append(np.fromiter(map(xxh3_64_intdigest, data), np.uint64, len(data)))
        self._written = int(ends[-1]) if len(ends) else self._written

    def finish(self) -> None:
        self._file.close()
        self.ends = np.concatenate(self._ends) if self._ends else np.zeros(0, np.int64)
        self.hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.uint64)
        self._ends = self._hashes = []
        self._data = np.memmap(self.path, np.uint8, "r") if self._written else np.zeros(0, np.uint8)

    def __getitem__(self, index: int) -> str:
        start = int(self.ends[index - 1]) if index else 0
        return bytes(self._data[start : int(self.ends[index])]).decode("utf-8")

    def first_positions(self) -> np.ndarray:
        """Per position, the first position holding the same string (itself, where none before
        does). Found by sorting the hashes, then checked on the strings themselves (a hash
        collision is no repeat); each string with an equal hash is read once, so many repeats
        cost no more than a few."""
        order = np.argsort(self.hashes, kind="stable")  # equal hashes stay in position order
        ordered = self.hashes[order]
        first_of = np.arange(len(order), dtype=np.int64)
        equal = ordered[1:] == ordered[:-1]
        run_starts = np.flatnonzero(equal & ~np.r_[False, equal[:-1]])  # the first of each run of equal hashes
        for first in run_starts.tolist():
            seen: dict[str, int] = {}
            last = first + 1
            while last < len(order) and ordered[last] == ordered[first]:
                last += 1
            for position in order[first:last].tolist():
                first_of[position] = seen.setdefault(self[position], position)
        return first_of


class Facts:
    """Per record, what choosing the kept record needs: text length and judge score; and its id."""

    def __init__(self, folder: Path):
        self._lengths: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self.ids = Texts(folder / "ids.bin")
        self.lengths = self.scores = np.zeros(0)

    def add(self, run: Run) -> None:
        self._lengths.append(run.lengths)
        self._scores.append(run.scores)
        self.ids.add(run.ids)

    def finish(self) -> None:
        self.ids.finish()
        join = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
        self.lengths, self.scores = join(self._lengths, np.int64), join(self._scores, np.float64)

    def id(self, index: int) -> str:
        return self.ids[index]


def sketch_input(source: str | Path, mapping: dict[str, str] | None, fields: Sequence[str], store: SketchStore,
                 facts: Facts, spool: IO[str], workers: int, progress: Any = None, executor: str = "local",
                 ray_address: str | None = None, measure: bool = False) -> None:
    """Pass one over a file: every record into the store, the spool and the facts, in order."""
    # closed on an error or Ctrl-C, so its worker pool stops now, not at exit (where it can hang)
    with closing(_runs(source, mapping, fields, store.sketcher, workers, executor, ray_address, measure)) as runs:
        for run in runs:
            store.append(run.sketch)
            facts.add(run)
            spool.writelines(run.lines)
            if progress is not None:
                progress(len(run.ids))
    store.finish()
    facts.finish()


def _runs(source: str | Path, mapping: dict[str, str] | None, fields: Sequence[str], sketcher: Sketcher,
          workers: int, executor: str = "local", ray_address: str | None = None, measure: bool = False
          ) -> Iterator[Run]:
    if executor == "ray" or (workers > 1 and _splittable(source)):
        yield from _runs_in_processes(source, mapping, fields, sketcher, workers, executor, ray_address, measure)
        return
    records = iter(read_records(source, mapping))
    while chunk := list(islice(records, CHUNK_RECORDS)):
        yield sketch_records(chunk, sketcher, fields, measure)


def _splittable(source: str | Path) -> bool:
    return cuttable(source) and input_size(source) > 2 * CHUNK_BYTES


_worker: tuple[Sketcher, Sequence[str], dict[str, str] | None, bool] | None = None


def _start(sketcher: Sketcher, fields: Sequence[str], mapping: dict[str, str] | None, measure: bool) -> None:
    global _worker
    _worker = (sketcher, fields, mapping, measure)


def _sketch_range(path: str, start: int, end: int) -> Run:
    assert _worker is not None, "worker used before _start"
    sketcher, fields, mapping, measure = _worker
    return sketch_records(read_chunk(path, start, end, mapping), sketcher, fields, measure)


def _runs_in_processes(source: str | Path, mapping: dict[str, str] | None, fields: Sequence[str],
                       sketcher: Sketcher, workers: int, executor: str = "local",
                       ray_address: str | None = None, measure: bool = False) -> Iterator[Run]:
    with process_pool(workers, _start, (sketcher, list(fields), mapping, measure), executor, ray_address) as pool:
        yield from in_order(pool, workers, ((_sketch_range, chunk) for chunk in input_chunks(source, CHUNK_BYTES)))
