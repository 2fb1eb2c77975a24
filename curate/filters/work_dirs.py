"""Where dedup's work folder goes, and what it says when that place fails it: --work-dir made
if missing (and removed after, with the parents made for it), never inside a directory output
the run replaces; by default beside the output, on its disk; a full disk named, with the flag
that moves the work elsewhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

from curate.errors import UsageError
from curate.outputs import output_directory


def missing_folders(folder: Path | None) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while folder is not None and not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def no_space(near: Path | None, output: str | Path) -> str:
    """Which disk filled up, the work folder's or the output's, and what to do about it."""
    import shutil

    from curate.filters.lsh import nearest_folder

    work = nearest_folder(near if near is not None else Path(tempfile.gettempdir()))
    out = nearest_folder(Path(output).parent) if str(output) != "-" else None
    if out is not None and out != work and shutil.disk_usage(out).free < shutil.disk_usage(work).free:
        return (f"no space left on the disk of {out}, where the output goes; free space there, or give -o a path "
                "on a disk with room (nothing was written)")
    after = " (nothing was written)" if out is not None else " (what reached stdout is incomplete)"
    return (f"no space left on the disk of {work}, where dedup keeps its work folder (about 1.3 KB a record of "
            f"sketches, and a copy of the records); free space, or give --work-dir a folder on a disk with room{after}")


def outside_outputs(work_dir: Path | None, outputs: dict[str, str | Path | None]) -> None:
    """--work-dir must not be, or be inside, a directory output: that directory is replaced by
    the run's parts, and one holding anything else (the work folder) is refused at the end."""
    if work_dir is None:
        return
    place = work_dir.expanduser().resolve()
    for flag, path in outputs.items():
        folder = output_directory(path) if path is not None and str(path) != "-" else None
        if folder is not None and (place == folder[0].resolve() or folder[0].resolve() in place.parents):
            raise UsageError(f"--work-dir {work_dir} is, or is inside, {flag} {path}: a directory of parts that "
                             "the run replaces; give --work-dir a folder outside it")


def made_work_dir(folder: Path | None) -> Path | None:
    """--work-dir, made where it is missing; a file there is a usage error (the sketches went to
    /tmp instead, without a word)."""
    if folder is None:
        return None
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--work-dir {folder} is a file; give a folder (made if missing) on a disk with room for "
                         "the sketches (about 1.3 KB a record) and a copy of the records")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--work-dir {folder}: cannot make it ({error.strerror})") from None
    return folder


def beside(output: str | Path) -> Path | None:
    """The folder the output goes in (for a directory of parts, the one holding it), where the
    sketches go by default: not /tmp, often memory-backed, and never inside the output."""
    if str(output) == "-":
        return None
    folder = output_directory(output)
    return (folder[0] if folder is not None else Path(output)).resolve().parent
