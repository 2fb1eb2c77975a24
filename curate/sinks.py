"""Writing record files: .jsonl .json .csv .parquet by extension, and `-` for stdout JSONL.

Writing is atomic (curate/outputs.py): rows go to a temporary file beside the target, renamed
over it only when every row was written, so an error or Ctrl-C never leaves a half-written
output. An output may be a directory of parts (`out/`, `out/*.parquet`), written the same way
into a temporary folder, PART_ROWS rows a part.
Resumable stages append instead, to a journal (curate/journal.py).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from pydantic_core import PydanticSerializationError, to_json

from curate.io import ROW_ORDER, sink_format
from curate.outputs import DirectoryParts, atomic_path, output_directory
from curate.records import Example, Record

PART_ROWS = 1_000_000  # rows per part of a directory output (a Parquet part is gathered in memory: ~1 GB at most)


def record_row(record: Record) -> dict[str, Any]:
    """A record as a JSON-ready dict, fields in reading order, unset options left out."""
    if type(record) is Example:  # the common case, built by hand: model_dump is several times slower
        row = {"id": record.id, "instruction": record.instruction, "input": record.input, "output": record.output,
               "system": record.system, "history": [list(turn) for turn in record.history]}
        if record.user_id is not None:
            row["user_id"] = record.user_id
        row["meta"] = record.meta
        return row
    data = record.model_dump(mode="json", exclude_none=True)
    return {key: data[key] for key in ROW_ORDER if key in data}


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    return write_rows(path, (record_row(record) for record in records))


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write every row atomically (stdout is streamed); returns the number written."""
    with RowSink(path) as sink:
        for row in rows:
            sink.write(row)
    return sink.count


class RowSink:
    """Rows written one at a time into a file that appears whole, and only, when the block ends
    without an error (atomic: written beside it, then renamed); `-` streams JSON Lines to stdout.
    JSON Lines and JSON go straight to disk; CSV (whose columns are the union of every row's)
    and Parquet are gathered in memory until the end."""

    def __init__(self, path: str | Path):
        self.path = path
        self.suffix = sink_format(path)
        self.count = 0
        self._stream: IO[str] | None = None
        self._buffer: list[dict[str, Any]] = []
        self._atomic: Any = None
        self._tmp: Path | None = None
        folder = output_directory(path)
        self._parts = DirectoryParts(folder[0], self.suffix, _write_parquet) if folder is not None else None

    def __enter__(self) -> RowSink:
        if str(self.path) == "-":
            self._stream = sys.stdout
            return self
        if self._parts is not None:
            self._atomic = self._parts
            self._tmp = self._parts.__enter__()
            self._stream = self._parts.stream
            return self
        self._atomic = atomic_path(Path(self.path))
        self._tmp = self._atomic.__enter__()
        if self.suffix in (".jsonl", ".json"):
            self._stream = open(self._tmp, "w", encoding="utf-8", newline="")
            if self.suffix == ".json":
                self._stream.write("[")
        return self

    def write_line(self, line: str) -> None:
        """A row already serialised as one JSON line: copied as text into JSON Lines, parsed
        back for any other format (a worker's lines, on their way to a .json or .parquet)."""
        if self.suffix != ".jsonl":
            self.write(json.loads(line))
            return
        assert self._stream is not None
        self.count += 1
        self._stream.write(line)
        self._next_part_if_full()

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self._parts is not None:
            self._write_part_row(row)
        elif self._stream is None:
            self._buffer.append(row)
        elif self.suffix == ".json" and str(self.path) != "-":
            # one record per line inside the array: valid JSON that still diffs and greps well
            self._stream.write(("\n" if self.count == 1 else ",\n") + dump_row(row))
        else:
            self._stream.write(dump_row(row) + "\n")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc_type is None:
                try:
                    self._finish()
                except BaseException as error:  # a last Parquet write or fsync failed: publish nothing
                    exc_type, exc, tb = type(error), error, error.__traceback__
                    raise
        finally:
            if self._stream is not None and self._stream is not sys.stdout:
                self._stream.close()
            if self._atomic is not None:
                self._atomic.__exit__(exc_type, exc, tb)  # renames into place, or removes the temporary file

    def _write_part_row(self, row: dict[str, Any]) -> None:
        if self.suffix == ".parquet":
            self._buffer.append(row)
        else:
            self._stream.write(dump_row(row) + "\n")  # type: ignore[union-attr]
        self._next_part_if_full()

    def _next_part_if_full(self) -> None:
        if self._parts is not None and self.count % PART_ROWS == 0:
            self._stream = self._parts.next_part(self._buffer)  # a Parquet part's rows; none for JSON Lines
            self._buffer = []

    def _finish(self) -> None:
        if self._stream is sys.stdout:
            sys.stdout.flush()
            return
        if self._parts is not None:
            self._parts.last_part(self._buffer, self.count % PART_ROWS != 0 or not self.count)
            return
        assert self._tmp is not None
        if self.suffix == ".parquet":
            _write_parquet(self._tmp, self._buffer)
            return
        if self.suffix == ".csv":
            self._stream = open(self._tmp, "w", encoding="utf-8", newline="")
            _write_csv(self._stream, self._buffer)
        elif self.suffix == ".json":
            self._stream.write("\n]\n" if self.count else "]\n")  # type: ignore[union-attr]
        assert self._stream is not None
        self._stream.flush()
        os.fsync(self._stream.fileno())


def dump_row(row: Any) -> str:
    """One JSON line's text, compact: pydantic-core writes it 5-7x faster than json (13 us for a
    1 KB record), the same text but for spaces and float exponents (1e-7, not 1e-07). NaN and
    the infinities become null: JSON has no such numbers, and strict readers (Arrow's, so
    `datasets`, LLaMA-Factory; JavaScript's; jq) refuse a line that holds one, where Python's json
    took them. What json refused, it writes as text: a Parquet
    column's timestamps and decimals in meta.extra become ISO-8601 and decimal strings, sets
    lists, bytes their UTF-8 text, and bytes that are no UTF-8 (a BINARY column holding an image)
    their base64 text, as Arrow's and pandas' JSON writers do; those failed the whole run."""
    try:
        return to_json(row, inf_nan_mode="null").decode("utf-8")
    except PydanticSerializationError:  # a lone surrogate or such bytes: json's text (UTF-8 then refuses the first)
        return _JSON_ROW.encode(row)


def _bytes_as_text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_JSON_ROW = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_bytes_as_text)


def _write_csv(stream: IO[str], rows: Iterable[dict[str, Any]]) -> int:
    columns: list[str] = []
    cells: list[dict[str, Any]] = []
    for row in rows:  # columns are the union over rows, so they are known only at the end
        columns += [key for key in row if key not in columns]
        cells.append({k: dump_row(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    writer.writerows(cells)
    return len(cells)


def _write_parquet(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # meta differs in shape from row to row, which Arrow's struct columns cannot hold
    table = [{**row, "meta": dump_row(row["meta"])} if "meta" in row else row for row in rows]
    columns = list(dict.fromkeys(key for row in table for key in row))  # from_pylist reads row 0 only
    pq.write_table(pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in table]), path)
    return len(table)
