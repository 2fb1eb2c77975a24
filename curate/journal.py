"""The journals of a resumable stage: its output and its rejects, with one definition of done.

Every unit of work has a key: an input record's id, an evol (root, round) slot, a self-instruct
task or candidate. A unit is done when a line for it is in the output, or in the rejects with
a reason that is not a failure. Failed units (`failed:*`) are tried again by the next run; when
a run ends, the rejects journal is rewritten, atomically, without the failure lines of units
that are now done (and with only the latest of a unit that failed again), so each key ends in
exactly one of the two files. Totals are counted from the lines written, so the summary and the
files agree by construction.

Each file is a `JsonlAppender`: appended and flushed line by line, a torn last line cut on open.
The manifest beside the output (curate/run_manifest.py) refuses a journal made from another
input or other settings; a lock refuses a second run writing the same output at once.

Memory: the keys of finished units, the ids in the output and the keys of failed units (short
strings, about 100 bytes each), never the records.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from curate.errors import DataError, UsageError
from curate.io import jsonl_lines
from curate.sinks import dump_row, record_row
from curate.outputs import atomic_path
from curate.records import Record
from curate.run_manifest import Manifest, differences, manifest_path
from curate.summary import FAILED, rejected

OutputKey = Callable[[dict[str, Any]], str | None]


def default_rejects(output: str | Path) -> Path:
    """Where a resumable stage journals what it removed when no --rejects is given: without it a
    re-run could not tell a dropped record from one never tried."""
    output = Path(output)
    return output.with_name(f"{output.stem}.rejects.jsonl")


def is_failure(reason: str) -> bool:
    return reason.startswith(FAILED)


class JsonlAppender:
    """Append-only JSONL output that is also the journal of a resumable stage.

    `rows()` cuts a torn last line left by a kill and yields the rows already written, so the
    stage can skip their work; `write()` appends one record and flushes it. The file (and its
    folder) is created by the first write, so a run that fails before any result leaves none.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stream: IO[str] | None = None

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every complete row, in order, streamed; each must be an object with a string id."""
        if not self.path.exists():
            return
        with open(self.path, "r+b") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            end = _last_newline_end(stream, size)
            if end != size:  # a line torn by a kill: cut it, it was never finished
                stream.truncate(end)
        with open(self.path, "rb") as stream:
            for where, row in jsonl_lines(stream, str(self.path)):
                if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                    raise DataError(f"{where}: a journal line needs a string 'id'")
                yield row

    def open(self) -> set[str]:
        """The ids already written (for callers that need no more than that)."""
        return {row["id"] for row in self.rows()}

    def write(self, item: Record | dict[str, Any]) -> None:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "a", encoding="utf-8")
        row = item if isinstance(item, dict) else record_row(item)
        self._stream.write(dump_row(row) + "\n")
        self._stream.flush()

    def touch(self) -> None:
        """Make sure the file exists (a finished run has an output, even an empty one)."""
        if self._stream is None and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_newline_end(stream: IO[bytes], size: int, block: int = 1 << 16) -> int:
    """The offset just past the last newline of a file (0 if it has none), reading from the end."""
    pos = size
    while pos > 0:
        start = max(0, pos - block)
        stream.seek(start)
        chunk = stream.read(pos - start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


opened = False  # has this process opened a journal: then an interrupted run continues where it stopped


class Journal:
    """Output and rejects of one stage run: what is done, what to retry, and the totals."""

    def __init__(self, stage: str, output: str | Path, rejects: str | Path, output_key: OutputKey):
        self.stage = stage
        self.output_path, self.rejects_path = Path(output), Path(rejects)
        self.output_key = output_key
        self._output = JsonlAppender(output)
        self._rejects = JsonlAppender(rejects)
        self.done: set[str] = set()
        self.output_ids: set[str] = set()
        self.totals: Counter[str] = Counter()  # "written" and every reject reason, as in the files
        self._failed_lines: Counter[str] = Counter()  # failure lines per key, both runs
        self._manifest: Manifest | None = None
        self._earlier: Manifest | None = None
        self._locks: list[socket.socket | IO[bytes]] = []
        self._manifest_saved = False

    # -- opening

    def open(self, manifest: Manifest, restart: bool = False) -> None:
        global opened
        opened = True
        for path in (self.output_path, self.rejects_path):
            self._locks.append(take_lock(path))
        if restart:
            for path in (self.output_path, self.rejects_path, manifest_path(self.output_path)):
                with suppress(FileNotFoundError):
                    path.unlink()
        self._manifest = manifest
        earlier = Manifest.load(self.output_path)
        if earlier is not None and self._has_lines():  # a manifest without lines describes nothing
            problems = differences(earlier, manifest)
            if problems:
                raise UsageError(f"{self.output_path} was made by an earlier run from other input or settings: "
                                 f"{'; '.join(problems)}. Pass --restart to start over (cached answers are "
                                 "reused), or write to another -o")
            self._earlier, self._manifest_saved = earlier, True
        elif earlier is None and self._lines(self.rejects_path) and not self._lines(self.output_path):
            # a journal pair always gets its manifest before its first line: these rejects are another job's
            raise UsageError(f"{self.rejects_path} holds the rejects of another job (not of {self.output_path}); "
                             "give this run its own --rejects, or pass --restart to empty it")
        self._read()

    def _has_lines(self) -> bool:
        return self._lines(self.output_path) or self._lines(self.rejects_path)

    @staticmethod
    def _lines(path: Path) -> bool:
        return path.exists() and path.stat().st_size > 0

    def _read(self) -> None:
        for row in self._output.rows():
            self.output_ids.add(row["id"])
            key = self._key(row)
            if key is not None:
                self.done.add(key)
            self.totals["written"] += 1
        for row in self._rejects.rows():
            self._count_reject(self.reject_key(row), reason_of(row))

    def _count_reject(self, key: str, reason: str) -> None:
        """A rejects line is a failure to retry, or the end of its unit."""
        self.totals[reason] += 1
        if is_failure(reason):
            self._failed_lines[key] += 1
        else:
            self.done.add(key)

    def _key(self, row: dict[str, Any]) -> str | None:
        try:
            return self.output_key(row)
        except (KeyError, TypeError, AttributeError):
            return None

    def reject_key(self, row: dict[str, Any]) -> str:
        """The key a rejects line stands for: written with it, or (older journals) the output key."""
        info = row.get("meta", {}).get("rejected", {})
        return info.get("key") or self._key(row) or row["id"]

    # -- while running

    def is_done(self, key: str) -> bool:
        return key in self.done

    def failed_keys(self) -> set[str]:
        """Units whose only lines are failures: the ones a run must try again."""
        return {key for key in self._failed_lines if key not in self.done}

    def settle(self, key: str) -> None:
        """Count a unit as done without a line of its own (a failed generation request of a pool
        that is full anyway): its failure lines go at the end of the run."""
        self.done.add(key)

    def model_resolved(self, model: str) -> None:
        """Called before the first request: answers from another model must not join this journal."""
        earlier = self._earlier.settings.get("model") if self._earlier else None
        if earlier and model != earlier and self._has_lines():
            raise UsageError(f"{self.output_path} was made by an earlier run with model {earlier!r}, and this run "
                             f"would ask {model!r}. Pass --model {earlier} to continue, --restart to start over, "
                             "or write to another -o")
        if self._manifest is not None:
            self._manifest.settings["model"] = model

    def write_output(self, record: Record, key: str) -> bool:
        """Append a result; False (and nothing written) when a record with its id is there already."""
        if record.id in self.output_ids:
            return False
        self._save_manifest_once()
        self._output.write(record)
        self.output_ids.add(record.id)
        self.done.add(key)
        self.totals["written"] += 1
        return True

    def write_reject(self, record: Record, reason: str, key: str) -> None:
        self._save_manifest_once()
        self._rejects.write(rejected(record, self.stage, reason, key))
        self._count_reject(key, reason)

    def _save_manifest_once(self) -> None:
        # before the first line, so a journal that has lines always has its manifest
        if self._manifest is not None and not self._manifest_saved:
            self._save_manifest()
            self._manifest_saved = True

    def _save_manifest(self) -> None:
        assert self._manifest is not None
        if self._earlier is not None and self._manifest.settings.get("model") is None:
            # nothing was asked this run, so the model was never resolved: it is still the earlier one
            self._manifest.settings["model"] = self._earlier.settings.get("model")
        self._manifest.totals = dict(sorted(self.totals.items()))
        self._manifest.save(self.output_path)

    # -- closing

    def finish(self) -> None:
        """After a run that ended normally: drop stale failure lines, make sure the output exists,
        and record the totals in the manifest."""
        self.close_streams()
        stale = {key for key, lines in self._failed_lines.items() if key in self.done or lines > 1}
        if stale:
            self._compact_rejects()
        self._output.touch()
        self._rejects.touch()
        if self._manifest is not None:
            self._save_manifest()

    def checkpoint(self) -> None:
        """After a run that stopped early: the manifest's totals as the files are now."""
        self.close_streams()
        if self._manifest is not None and self._manifest_saved:
            self._save_manifest()

    def _compact_rejects(self) -> None:
        remaining = Counter(self._failed_lines)
        totals: Counter[str] = Counter({"written": self.totals["written"]})
        failed: Counter[str] = Counter()
        with atomic_path(self.rejects_path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
            for row in JsonlAppender(self.rejects_path).rows():
                reason = reason_of(row)
                if is_failure(reason):
                    key = self.reject_key(row)
                    remaining[key] -= 1
                    if key in self.done or remaining[key] > 0:
                        continue  # done since, or failed again later: this line no longer says anything
                    failed[key] += 1
                stream.write(dump_row(row) + "\n")
                totals[reason] += 1
            stream.flush()
            os.fsync(stream.fileno())
        self.totals, self._failed_lines = totals, failed

    def close_streams(self) -> None:
        self._output.close()
        self._rejects.close()

    def close(self) -> None:
        self.close_streams()
        for lock in self._locks:
            lock.close()
        self._locks = []



def take_lock(path: Path) -> socket.socket | IO[bytes]:
    """Hold `path` for this process: a second run journaling into the same file at once is refused.

    On Linux the lock is an abstract Unix socket named after the file (no file on disk, released
    by the kernel when the process dies, even by kill -9); elsewhere a hidden flock'ed file."""
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    busy = UsageError(f"{path} is being written by another run right now; wait for it to finish, or give this "
                      "run its own -o and --rejects")
    if sys.platform.startswith("linux"):
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0curate-journal-{name}")
        except OSError:
            lock.close()
            raise busy from None
        return lock
    lock_path = path.with_name(f".{path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(lock_path, "ab")
    try:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise busy from None
    return stream


def reason_of(row: dict[str, Any]) -> str:
    return str(row.get("meta", {}).get("rejected", {}).get("reason", "unknown"))
