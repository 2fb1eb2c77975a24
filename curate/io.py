"""Reading record files: .jsonl .json .csv .parquet by extension, and `-` for stdin JSONL.

Reading validates every row and reports the first bad one as `file:line: field 'x': why`.
Writing them is curate/sinks.py; this module also says which format a path names
(`file_format`, `sink_format`) and checks that a run's files are distinct.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import from_json

from curate.errors import DataError, FieldError, UsageError
from curate.formats import to_record
from curate.outputs import output_directory
from curate.records import Record

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
ROW_ORDER = ("id", "instruction", "input", "output", "chosen", "rejected", "responses",
             "ranking", "margin", "system", "history", "user_id", "meta")
# Columns whose values are lists or objects: JSON text inside a CSV cell.
JSON_COLUMNS = frozenset({"history", "meta", "responses", "ranking", "conversations", "messages"})
# Columns that are plain text in some layouts and message objects in others.
MESSAGE_COLUMNS = frozenset({"prompt", "completion", "chosen", "rejected"})


def display_name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def file_format(path: str | Path) -> str:
    """The format a path's extension names; `-` is JSON Lines."""
    if str(path) == "-":
        return ".jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)} "
                         "(a map stage also writes a directory of parts: DIR/*.jsonl or DIR/*.parquet)")
    return suffix


def sink_format(path: str | Path) -> str:
    """The format rows written to `path` take: its extension's, or its parts' for a directory."""
    folder = output_directory(path)
    return folder[1] if folder is not None else file_format(path)


WRITTEN = frozenset(["--output", "--rejects", "--report"])  # the flags of files a stage writes


def ensure_distinct(files: dict[str, str | Path | None]) -> None:
    """Refuse, before anything is opened, two of a command's files that are one file, or a file
    inside a directory another one names (a directory output replaces all it holds): a stage
    would read, or journal into, what it is overwriting; or two of its outputs both on stdout.
    Keys are the flags, for the message."""
    seen: list[tuple[str, Path]] = []
    to_stdout = [flag for flag, path in files.items() if flag in WRITTEN and str(path) == "-"]
    if len(to_stdout) > 1:  # kept and rejected records, interleaved in one stream
        raise UsageError(f"{' and '.join(to_stdout)} cannot both go to stdout (-); give all but one a file")
    for flag, path in files.items():
        if path is None or str(path) == "-":
            continue
        folder = output_directory(path) if flag != "INPUT" else None
        resolved = (folder[0] if folder is not None else Path(path)).expanduser().resolve()
        for other_flag, other in seen:
            if same_file(resolved, other):
                raise UsageError(f"{other_flag} and {flag} name the same file ({path}); give each its own file")
            if resolved in other.parents or other in resolved.parents:
                raise UsageError(f"{other_flag} and {flag}: one is inside the other ({path}); give each its own place")
        seen.append((flag, resolved))


def same_file(one: Path, other: Path) -> bool:
    """Do two resolved paths name one file: the same path, or a hard link to it?"""
    return one == other or (one.exists() and other.exists() and os.path.samefile(one, other))


# ---------------------------------------------------------------- reading


def read_records(path: str | Path, mapping: dict[str, str] | None = None,
                 invalid_ok: bool = False) -> Iterator[Record]:
    """Validated records from a file, in file order; raises DataError at the first bad row, or,
    with `invalid_ok`, yields it as an InvalidRow (any JSON value may then stand for a row)."""
    if invalid_ok:
        return records_of(iter_values(path), mapping, invalid_ok=True)
    return records_of(iter_rows(path), mapping)


@contextmanager
def readable_twice(input: str | Path, folder: Path) -> Iterator[str | Path]:
    """The input, or for standard input (readable once) a copy of it in `folder`: for stages
    that read their input twice (dedup, split). An error about the copy names <stdin>, as one
    read straight from it does: the copy is gone by the time the error is shown."""
    if str(input) != "-":
        yield input
        return
    copy = folder / "stdin.jsonl"
    with copy.open("wb") as stream:
        shutil.copyfileobj(sys.stdin.buffer, stream)
    try:
        yield copy
    except DataError as error:
        raise DataError(str(error).replace(str(copy), "<stdin>")) from None


class InvalidRow(NamedTuple):
    """A row that is not a record, where it was and why; read with `invalid_ok` instead of an error."""

    where: str
    row: Any
    problem: str

    def rejects_row(self, stage: str, reason: str) -> dict[str, Any]:
        """Its rejects line: the row as it was, and why it was not taken."""
        row = self.row if isinstance(self.row, dict) else {"value": self.row}
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        why = {"stage": stage, "reason": reason, "where": self.where, "problem": self.problem}
        return {**row, "meta": {**meta, "rejected": why}}


def records_of(rows: Iterable[tuple[str, Any]], mapping: dict[str, str] | None,
               invalid_ok: bool = False) -> Iterator[Record]:
    """Records from (where, row) pairs; a row that is not one raises a DataError naming where,
    or, with `invalid_ok`, comes out as an InvalidRow."""
    for where, row in rows:
        try:
            if not isinstance(row, dict):
                raise FieldError("", f"expected a JSON object, got {type(row).__name__}")
            yield to_record(row, mapping)
            continue
        except ValidationError as error:
            problem = describe_validation(error, row)
        except FieldError as error:
            problem = f"field '{error.field}': {error}" if error.field else str(error)
        if not invalid_ok:
            raise DataError(f"{where}: {problem}")
        yield InvalidRow(where, row, problem)  # type: ignore[misc]


def describe_validation(error: ValidationError, row: Any = None) -> str:
    """The problems of a row that is not a record, one per field; `row` (as read) tells a
    required field that is null from one that is not there (nulls read as absent)."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"])
        if item["type"] == "missing" and isinstance(row, dict) and field in row and row[field] is None:
            message = "is null; it needs a string"
        if item["type"] not in ("missing", "value_error"):
            value = item.get("input")
            message += f" (got {_described(value)})"
        problems.append(f"field '{field}': {message}" if field else message)
    return "; ".join(problems)


def _described(value: Any) -> str:
    """A wrong value as an error may show it: a small number or a flag as it is; text, long
    numbers and containers by their type and size only, as they may hold a secret or PII the
    message would print (an API key pasted into `history`, an email in `user_id`)."""
    if value is None or isinstance(value, bool) or (isinstance(value, (int, float)) and abs(value) < 10_000):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, int):  # a phone, a card or a QQ id given as a JSON number
        return f"int of {len(str(abs(value)))} digits"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return f"str of {len(value):,} character{'s' if len(value) != 1 else ''}"
    if isinstance(value, (list, tuple, dict)):
        return f"{type(value).__name__} of {len(value):,} item{'s' if len(value) != 1 else ''}"
    return type(value).__name__


def iter_rows(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) pairs; `where` is `file:line` (or `file:row N` for Parquet)."""
    for where, row in iter_values(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield where, row


def shard_files(path: str | Path) -> list[Path]:
    """The files an input names: a directory's record files (data/part-*.jsonl, *.parquet), in
    name order, or the one file."""
    folder = Path(path)
    if str(path) == "-" or not folder.is_dir():
        return [folder]
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
    if not files:
        raise UsageError(f"{path}: a directory with no record files in it ({', '.join(SUFFIXES)})")
    kinds = sorted({f.suffix.lower() for f in files})
    if len(kinds) > 1:
        raise UsageError(f"{path}: holds files of several types ({', '.join(kinds)}); give a directory of one type")
    return files


def iter_values(path: str | Path) -> Iterator[tuple[str, Any]]:
    """Like iter_rows, but any JSON value may stand where a row does (seed files list strings).
    A directory is read file by file, in name order."""
    if str(path) != "-" and Path(path).is_dir():
        for file in shard_files(path):
            yield from iter_values(file)
        return
    suffix = file_format(path)
    name = display_name(path)
    if name != "<stdin>" and not Path(path).exists():
        raise UsageError(f"{path}: no such file")
    readers = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}
    count = 0
    for count, (where, row) in enumerate(readers[suffix](path, name), 1):
        yield where, row
    if count == 0:
        # not an error: a pipeline whose earlier stage dropped everything still runs to its end
        print(f"curate: warning: {name} holds no records", file=sys.stderr)


def _check_bom(first: bytes, name: str) -> None:
    if first.startswith(codecs.BOM_UTF8):
        raise DataError(f"{name}:1: file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM")


def _decode(data: bytes, where: str, offset: int = 0) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{where}: not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {offset + error.start}); "
            "convert the file to UTF-8"
        ) from None


def _jsonl_rows(path: str | Path, name: str) -> Iterator[tuple[str, Any]]:
    with _open_binary(path) as stream:
        yield from jsonl_lines(stream, name)


@contextmanager
def _open_binary(path: str | Path) -> Iterator[IO[bytes]]:
    if str(path) == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as stream:
            yield stream


def jsonl_lines(lines: Iterable[bytes], name: str, first_line: int = 1) -> Iterator[tuple[str, Any]]:
    offset = 0
    for number, raw in enumerate(lines, first_line):
        where = f"{name}:{number}"
        if number == 1:
            _check_bom(raw, name)
        try:
            # pydantic-core parses the bytes 2-3x faster than decode + json.loads, to the same
            # values (floats, big integers, NaN, duplicate keys); what it refuses goes through
            # json, which says why, or reads what it alone takes (a lone surrogate escape)
            value = from_json(raw, cache_strings="keys")
        except ValueError:
            value = _parsed(raw, where, offset)
        offset += len(raw)
        yield where, value


def _parsed(raw: bytes, where: str, offset: int) -> Any:
    line = _decode(raw, where, offset)
    if not line.strip():
        raise DataError(f"{where}: blank line; JSON Lines needs exactly one JSON object on every line")
    try:
        value = json.loads(line.rstrip("\r\n"))  # the line break is no part of the JSON: columns count without it
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
    field = _lone_surrogate(value)  # what json takes and pydantic-core refuses: no output could hold it
    if field is not None:
        raise DataError(f"{where}: field '{field}': holds a lone surrogate escape (\\ud800-\\udfff without its "
                        "pair), which UTF-8 cannot encode; fix the text or drop the line")
    return value


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a lone surrogate, or None."""
    if isinstance(value, str):
        return path if any("\ud800" <= c <= "\udfff" for c in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            found = _lone_surrogate(key, inner) or _lone_surrogate(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def _json_rows(path: str | Path, name: str) -> Iterator[tuple[str, Any]]:
    """Elements of a JSON array, each with the line it starts on; JSON Lines is accepted too."""
    data = Path(path).read_bytes()
    _check_bom(data, name)
    text = _decode(data, name)
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if pos < len(text) and text[pos] == "{":  # JSON Lines saved as .json
        yield from jsonl_lines(io.BytesIO(data), name)
        return
    if pos == len(text):
        return
    if text[pos] != "[":
        raise DataError(f"{name}:{_line_of(text, pos)}: expected a JSON array of objects")
    line, line_pos = 1, 0
    pos = _skip_space(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line, line_pos = line + text.count("\n", line_pos, pos), pos
        try:
            row, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            raise DataError(f"{name}:{error.lineno}: invalid JSON: {error.msg} (column {error.colno})") from None
        yield f"{name}:{line}", row
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
        elif pos >= len(text) or text[pos] != "]":
            raise DataError(f"{name}:{_line_of(text, pos)}: invalid JSON: expected ',' or ']' after an element")
    if pos >= len(text):
        raise DataError(f"{name}:{_line_of(text, pos)}: invalid JSON: the array is never closed")
    if _skip_space(text, pos + 1) != len(text):
        raise DataError(f"{name}:{_line_of(text, pos + 1)}: invalid JSON: extra data after the array")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _csv_rows(path: str | Path, name: str) -> Iterator[tuple[str, Any]]:
    data = Path(path).read_bytes()
    _check_bom(data, name)
    # strict: a quote opened and never closed is an error, not a cell that swallows the rest of
    # the file (its rows read as one record's instruction, the run exiting 0)
    text = _decode(data, name)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []  # read now: line numbers below count from after it
    except csv.Error as error:
        raise DataError(f"{name}:1: the header is not valid CSV ({error})") from None
    header = reader.fieldnames = [column.strip() for column in header]  # "instruction, output": output
    _check_delimiter(header, text, name)
    index = _pandas_index(header, text)
    repeated = sorted({column for column in header if column and header.count(column) > 1})
    if repeated:  # the last such column's cell would win and the others be lost
        raise DataError(f"{name}:1: the header names {', '.join(map(repr, repeated))} more than once; give each "
                        "column its own name")
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "end of data" in str(error):
                raise DataError(f"{name}:{first_line}: a quoted cell is never closed (a stray \" in the row?); "
                                "quote a cell's own quotes by doubling them (\"\")") from None
            # the csv reader's own count, live (DictReader's is that of the last row read)
            raise DataError(f"{name}:{reader.reader.line_num}: not valid CSV ({error})") from None
        # the row's first line: blank lines before it are skipped, a cell may hold line breaks
        where = f"{name}:{reader.line_num - sum(value.count(chr(10)) for value in row.values() if value)}"
        if None in row:
            raise DataError(f"{where}: the row has more cells than the header has columns")
        if None in row.values() and any("\n" in value for value in row.values() if value):
            # a short row is left out cells (optional ones at the end); with a line break in a
            # cell, it is more likely two rows a stray quote joined
            raise DataError(f"{where}: the row has fewer cells than the header has columns, and a line break in a "
                            "cell: a stray quote joining rows? Quote a cell's own quotes by doubling them")
        for column in index:
            del row[column]
        yield where, {key: _csv_cell(key, value) for key, value in row.items() if not _absent(key, value)}


def _data_rows(text: str) -> Iterator[list[str]]:
    """The rows after the header, as the csv module reads them; none past a row it cannot read
    (the reading proper says where and why)."""
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        next(rows, None)
        yield from rows
    except csv.Error:
        return


def _pandas_index(header: list[str], text: str) -> list[str]:
    """The columns pandas' to_csv writes first for its index: with no name ("", or "Unnamed: 0"
    once a file has been read and written again) and whole numbers in every row. They are row
    numbers, not data: each became meta.extra[""] of every record."""
    candidates = []
    for column in header:
        if not (column == "" or _UNNAMED.fullmatch(column)) or header.count(column) > 1:
            break
        candidates.append(column)
    if not candidates:
        return []
    numbered = [True] * len(candidates)
    for row in _data_rows(text):
        for place in range(len(candidates)):
            if row and (place >= len(row) or not _WHOLE_NUMBER.fullmatch(row[place])):
                numbered[place] = False
    return candidates[:numbered.index(False)] if False in numbered else candidates


_UNNAMED = re.compile(r"Unnamed: \d+")
_WHOLE_NUMBER = re.compile(r"-?\d+")


def _check_delimiter(header: list[str], text: str, name: str) -> None:
    """A header of one column that holds a tab, ; or |, over a first row split by the same sign
    into as many cells: a file separated so, saved as .csv (as spreadsheets in many locales
    write them); each row would be one cell, every record refused for a missing instruction.
    (A lone column whose name holds one, "Prompt (en|de)", is read as it is.)"""
    if len(header) != 1:
        return
    first = next(_data_rows(text), None)
    for sign, called in (("\t", "tabs"), (";", "semicolons"), ("|", "bars")):
        parts = header[0].count(sign) + 1
        if parts > 1 and first is not None and len(first) == 1 and first[0].count(sign) + 1 == parts:
            raise DataError(f"{name}:1: the header is one column, {header[0]!r}: the file is separated by {called}, "
                            "not commas; save it as comma-separated CSV (with pandas: "
                            f"pd.read_csv(path, sep={sign!r}).to_csv(new_path, index=False)) or as JSON Lines")


def _absent(key: str, value: str | None) -> bool:
    # CSV cannot tell "" from missing; optional fields default to "" anyway, and an
    # empty chosen/output cell in a mixed file must not change the row's record type
    return value is None or (value == "" and key != "instruction")


def _csv_cell(key: str, value: str) -> Any:
    if (key in JSON_COLUMNS or key in MESSAGE_COLUMNS) and value[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if key in JSON_COLUMNS or isinstance(parsed, dict) or (
            isinstance(parsed, list) and all(isinstance(m, dict) for m in parsed)
        ):
            return parsed
    return value


def _parquet_rows(path: str | Path, name: str) -> Iterator[tuple[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=1024)
        number = 0
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                if isinstance(row.get("meta"), str):  # written as JSON text, see write_rows
                    row["meta"] = json.loads(row["meta"])
                yield f"{name}:row {number}", row
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{name}: not a readable Parquet file ({error})") from None
