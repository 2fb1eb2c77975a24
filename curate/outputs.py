"""Outputs that appear whole, or not at all: a file written beside its target and renamed over
it (`atomic_path`), or a directory of parts (part-00000.jsonl, ...) written into a folder beside
it that replaces it (`DirectoryParts`). An error or Ctrl-C leaves the old output as it was and
no temporary file or folder behind; an output that replaces another keeps its permissions, and
an output path that is a symbolic link stays one: what it points to is written (a link into a
bigger disk, say, was replaced by a file beside it, and the file it pointed to kept its old rows).
Which of the two an output path names: `output_directory`.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from curate.errors import UsageError

_UMASK = os.umask(0o022)
os.umask(_UMASK)

PART_SUFFIXES = (".jsonl", ".parquet")


def output_directory(path: str | Path) -> tuple[Path, str] | None:
    """(folder, part suffix) when an output names a directory of shards: a path with no
    extension, `DIR/` or an existing directory (JSON Lines parts), or `DIR/*.jsonl` /
    `DIR/*.parquet`; None for one file."""
    text = str(path)
    if text == "-":
        return None
    pattern = Path(text)
    if text.endswith(("/", os.sep)) or pattern.is_dir() or (not pattern.suffix and not pattern.exists()):
        return pattern, ".jsonl"
    if pattern.stem == "*" and pattern.suffix.lower() in PART_SUFFIXES:
        return pattern.parent, pattern.suffix.lower()
    if "*" in pattern.name:
        raise UsageError(f"{path}: a directory output is DIR/, DIR/*.jsonl or DIR/*.parquet")
    return None


def part_name(index: int, suffix: str) -> str:
    return f"part-{index:05d}{suffix}"


class DirectoryParts:
    """The parts of a directory output (part-00000.jsonl, ...), written into a temporary folder
    beside it that replaces the directory only when every row was written. A directory that
    holds anything but parts is never replaced: that is refused before a row is written."""

    def __init__(self, folder: Path, suffix: str, write_parquet: Callable[[Path, list[dict[str, Any]]], Any]):
        folder = link_target(folder)
        self.folder, self.suffix, self._write_parquet = folder, suffix, write_parquet
        self.index = 0
        self.stream: IO[str] | None = None
        if folder.exists():
            strangers = sorted(f.name for f in folder.iterdir() if not _is_part(f.name))
            if strangers:
                raise UsageError(f"{folder}: this output directory holds files that are not parts of an output "
                                 f"({', '.join(strangers[:3])}); give an empty or new directory")

    def __enter__(self) -> Path:
        with unwritable(self.folder):
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            remove_left_behind(self.folder)
            self.tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(self.folder), suffix=".tmp",
                                             dir=self.folder.parent))
        self._open()
        return self.tmp

    def _open(self) -> None:
        if self.suffix == ".jsonl":
            self.stream = open(self.tmp / part_name(self.index, self.suffix), "w", encoding="utf-8", newline="")

    def _close(self, rows: list[dict[str, Any]]) -> None:
        if self.stream is not None:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            self.stream = None
        else:
            self._write_parquet(self.tmp / part_name(self.index, self.suffix), rows)

    def next_part(self, rows: list[dict[str, Any]] | None = None) -> IO[str] | None:
        """Close the part being written (with `rows`, for Parquet) and start the next."""
        self._close(rows or [])
        self.index += 1
        self._open()
        return self.stream

    def last_part(self, rows: list[dict[str, Any]], write: bool) -> None:
        """Close the last part; an empty one is removed unless it is the only one (an output
        with no rows is still a directory a later stage can read)."""
        if write:
            self._close(rows)
        elif self.stream is not None:
            self.stream.close()
            self.stream = None
            (self.tmp / part_name(self.index, self.suffix)).unlink()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self.stream is not None:
            self.stream.close()
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old_parts = sorted(self.folder.glob("part-*")) if self.folder.is_dir() else []
        part_mode = kept_mode(old_parts[0], 0o666 & ~_UMASK) if old_parts else 0o666 & ~_UMASK
        for part in self.tmp.iterdir():
            os.chmod(part, part_mode)
        os.chmod(self.tmp, kept_mode(self.folder, 0o777 & ~_UMASK))
        if self.folder.exists():  # an earlier output of parts: moved aside, then removed
            old = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".old", dir=self.folder.parent))
            os.replace(self.folder, old / self.folder.name)
            os.replace(self.tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.folder)


def _is_part(name: str) -> bool:
    """Only the parts this writes (part-00000.jsonl): a Spark part-00000-<uuid>.parquet is not."""
    return _PART_NAME.fullmatch(name) is not None


_PART_NAME = re.compile(r"part-\d{5,}\.(?:jsonl|parquet)")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` (or what it links to), renamed over it only if the block succeeds."""
    path = link_target(path)
    with unwritable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_left_behind(path)
        fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, kept_mode(path, 0o666 & ~_UMASK))  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


def link_target(path: Path) -> Path:
    """What a symbolic link points to, links followed to the end, where that is a file, a
    folder or nothing yet (as `> link` would make it); any other path as it is. A link to a
    device or a pipe (out.jsonl -> /dev/null) is not followed: the file written beside it and
    renamed over it would replace /dev/null itself."""
    if not os.path.islink(path):
        return path
    target = Path(os.path.realpath(path))
    return target if not target.exists() or target.is_file() or target.is_dir() else path


@contextmanager
def unwritable(target: Path) -> Iterator[None]:
    """An output that cannot be written where it is asked for (a read-only disk, a folder of
    someone else's, a file where its folder should be) is an error naming it, not the OSError of
    the temporary file beside it, whose name the user never gave."""
    try:
        yield
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{target}: a folder on its path is a file; give a path in a folder") from None
    except OSError as error:
        raise UsageError(f"{target}: cannot write it there ({error.strerror or error}); give a path in a folder you "
                         "can write to") from None


def kept_mode(path: Path, default: int) -> int:
    """The permissions an output replacing `path` gets: those `path` has, where it exists (an
    output locked to its owner, 0600 say, as scrubbed or raw PII often is, stays so when a
    run writes it again), else normal ones (`default`)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777  # not set-id or sticky bits: outputs are data
    except OSError:  # none there yet (or unreadable: the replace itself will say)
        return default


_NAME_KEPT = 100  # characters of an output's name in its temporary's: a 240-character name still fits


def _temporary_prefix(target: Path) -> str:
    """`.NAME.OWNER.`: whose a temporary file or folder beside `target` is (see owner()), so that
    a later run can tell one left by a run killed outright (SIGKILL, the OOM killer: nothing of
    it ran to remove it) from one being written now."""
    return f".{target.name[:_NAME_KEPT]}.{owner()}."


def owner() -> str:
    """`HOST-PIDNS-PID`: this process, as another on this machine can check it is alive. The PID
    namespace is there because containers can share a host name and not their process ids."""
    return f"{socket.gethostname()}-{_pid_namespace()}-{os.getpid()}"


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0  # no /proc (macOS): one namespace


def owner_is_dead(tag: str) -> bool:
    """Was `tag` (an owner()) a process of this machine and namespace that is gone? False for
    anything else: not ours to judge."""
    host, namespace, pid = (tag.rsplit("-", 2) + ["", ""])[:3]
    if host != socket.gethostname() or namespace != str(_pid_namespace()) or not pid.isdigit():
        return False
    return not process_alive(int(pid))


def remove_left_behind(target: Path) -> None:
    """Remove the temporary files and folders beside `target` that runs of this machine, now
    dead, were writing: a killed run's half-written output can be as large as the output."""
    prefix = f".{target.name[:_NAME_KEPT]}."
    for leftover in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        tag = leftover.name[len(prefix):-len(".tmp")].rsplit(".", 1)[0]  # less mkstemp's random part
        if owner_is_dead(tag):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                with suppress(OSError):  # another user's, in a shared folder: theirs to remove
                    leftover.unlink()


def process_alive(pid: int) -> bool:
    """Is process `pid` of this machine running (a zombie, killed and not yet reaped, is not)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's live process; or no pid at all: not ours to judge
    try:  # a killed process nobody has reaped yet still answers kill(0): a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
