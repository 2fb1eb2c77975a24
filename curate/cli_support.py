"""Running a typer app the way every command here fails: one line, and a meaningful code.

Exit 2 for bad usage (unknown option, bad --map, missing input file), 1 for bad data or
any other failure, 130 on Ctrl-C. `--debug` (or CURATE_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer

from curate.errors import DataError, EndpointError, UsageError

debug = False
summary_json: Path | None = None  # --summary-json: where the stage's summary goes, as data
command_started: float | None = None  # perf_counter when the command began; its first Summary counts from it
run_context: dict[str, Any] = {}  # what the command was run with, written beside its summary
SummaryJson = Annotated[
    Optional[Path],
    typer.Option("--summary-json", help="Also write the summary (counts by reason, totals in the files, time, "
                 "the files and settings of the run) as JSON to this file; given a folder (or a name with no "
                 "extension), to FOLDER/OUTPUT.STAGE.summary.json, which curate report reads.", show_default=False),
]


# older and stage-specific spellings of a command's input and output, by the role they play
_ROLES = {"seeds": "input", "data": "input", "inputs": "input", "out_dir": "output", "out": "output"}


def begin_run(command: str, config: Any, files: dict[str, Any]) -> None:
    """Remember the command's settings (no secrets) and files for its --summary-json."""
    from datetime import datetime, timezone

    from curate.run_manifest import public_settings

    given = {role: path for role, path in files.items() if isinstance(path, Path) and role not in _ROLES}
    for role, path in files.items():  # an older spelling counts only where the usual one was not given
        if isinstance(path, Path) and role in _ROLES:
            given.setdefault(_ROLES[role], path)
    run_context.clear()
    run_context.update(command=command, config=public_settings(config),
                       files={role: _recorded(path) for role, path in given.items() if str(path) != "-"},
                       started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       rejects_unkept="rejects" in files and files["rejects"] is None)


def _recorded(path: Path) -> str:
    """A file as the summary names it: absolute; a directory of parts (`out/*.parquet`) as the
    directory, which is what a later stage or the report reads."""
    from curate.outputs import output_directory

    folder = output_directory(path)
    return str((folder[0] if folder is not None else path).resolve())


def summary_file(target: Path, output: str | Path | None, stage: str) -> Path:
    """Where --summary-json TARGET puts a stage's summary: FILE as given; in a folder (one that
    exists, or a name with no extension, as `--summary-json run`), OUTPUT.STAGE.summary.json."""
    if not (target.is_dir() or not target.suffix):
        return target
    from curate.outputs import output_directory

    named = output if output is not None and str(output) != "-" else stage
    folder = output_directory(named)  # a directory of parts (kept/*.parquet) by its own name
    return target / f"{(folder[0] if folder is not None else Path(named)).stem}.{stage}.summary.json"


def refuse_summary_clash(given: Path, summary: Path, named: list[tuple[str, Path]]) -> None:
    """--summary-json `given` (its file: `summary`) must name no file the command reads or
    writes, nor a file inside an output folder or a folder of input shards; a folder that holds
    only input files may take it (a run folder)."""
    from curate.io import WRITTEN, same_file
    from curate.outputs import output_directory

    if str(given) == "-":
        raise UsageError("--summary-json -: the summary goes to a file, or to a folder (FOLDER/), not to stdout")
    if given.exists() and not given.is_dir() and not given.suffix:
        raise UsageError(f"--summary-json {given}: a name with no extension is a folder for summaries, and this one "
                         "is a file; give FILE.json or a folder")
    target = summary.expanduser().resolve()
    for flag, path in named:
        if str(path) in ("-", ""):
            continue
        folder = output_directory(path) if flag in WRITTEN else None
        resolved = (folder[0] if folder is not None else path).expanduser().resolve()
        if same_file(target, resolved):
            raise UsageError(f"{flag} and --summary-json name the same file ({path}); give each its own file")
        # inside what an output replaces (split's and report's -o are folders, whatever their name),
        # or inside a folder of input shards, which reads every record file in it
        if (flag in WRITTEN and path.expanduser().resolve() in target.parents) or (
                flag == "INPUT" and resolved.is_dir() and resolved in target.parents):
            raise UsageError(f"--summary-json {summary} is inside {flag} {path}; give --summary-json a file or "
                             "folder outside it")


def summary_path(target: Path, summary: Any) -> Path:
    """The summary file of --summary-json TARGET for this summary, its folder made."""
    output = summary.files.get("output") or run_context.get("files", {}).get("output")
    path = summary_file(target, output, summary.stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class StageFailed(Exception):
    """A stage ran but lost work (items failed for good, or it stopped early): exit code 1, one line."""


def set_debug(value: bool) -> None:
    """Called by each app's --debug option; CURATE_DEBUG=1 turns it on as well."""
    global debug
    debug = value or os.environ.get("CURATE_DEBUG", "") not in ("", "0")


def _fold_help_columns() -> None:
    """--help on a narrow terminal: rich cuts what does not fit with an ellipsis, so long option
    names (--gradient-accumulation) and paths in help lost their ends at 80 columns. Typer builds
    its help with rich's Table and Columns; here its tables fold such words onto the next line."""
    from rich.console import Group
    from rich.table import Table
    from typer import rich_utils

    class FoldingTable(Table):
        def add_row(self, *renderables: Any, **options: Any) -> None:
            super().add_row(*renderables, **options)
            for column in self.columns:
                column.overflow = "fold"

    def stacked(renderables: Any = None, *args: Any, **options: Any) -> Group:
        # an option's help, default and environment variable one under the other: rich's Columns
        # lays them out in a grid of its own, which cuts long words (paths, URLs) again
        return Group(*(renderables or []))

    rich_utils.Table = FoldingTable  # type: ignore[misc]
    rich_utils.Columns = stacked  # type: ignore[misc]


def make_app(name: str, help: str, group: type | None = None) -> typer.Typer:
    """A typer app with the shared conventions: -h, markdown help, and a --debug option."""
    app = typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode="markdown",
                      context_settings={"help_option_names": ["-h", "--help"]}, **({"cls": group} if group else {}))

    @app.callback()
    def _root(
        debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback when a command fails.")] = False,
        summary: SummaryJson = None,
    ) -> None:
        set_debug(debug)
        set_summary_json(summary)

    return app


def command_app() -> typer.Typer:
    """An app that only holds commands, for a module of them that a lazy group loads."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


def one_of(value: Path | None, older: Path | None, name: str, older_flag: str, what: str) -> Path:
    """An argument given by its name or by its older spelling: once, not twice, not never."""
    if value is not None and older is not None:
        raise UsageError(f"give {what} once: as {name} (or the older {older_flag}), not both")
    if value is None and older is None:
        raise UsageError(f"missing {name}: {what}")
    return value or older  # type: ignore[return-value]


def set_summary_json(path: Path | None) -> None:
    global summary_json
    if path is not None:
        summary_json = path


def show(summary: Any) -> None:
    """Print a stage's summary table; with --summary-json, write its numbers too (atomically)."""
    from curate.summary import stderr

    stderr.print(summary.table())
    dropped = sum(summary.dropped.values())
    if dropped and run_context.get("rejects_unkept") and "rejects" not in summary.files:
        # without --rejects the dropped records are gone: say so once, where the counts are
        were = "record was" if dropped == 1 else "records were"
        stderr.print(f"{dropped:,} dropped {were} not kept: add --rejects FILE to keep them, each with its "
                     "reason in meta.rejected.")
    write_summary(summary)


def write_summary(summary: Any) -> None:
    """With --summary-json: the summary's numbers, the command's files and settings, and when it ran."""
    if summary_json is None:
        return
    from datetime import datetime, timezone

    from curate.outputs import atomic_path

    data = summary.as_dict()
    data["files"] = {**run_context.get("files", {}), **data["files"]}
    data |= {key: run_context[key] for key in ("command", "config", "started_at") if key in run_context}
    data["ended_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with atomic_path(summary_path(summary_json, summary)) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _terminate(signum: int, frame: Any) -> NoReturn:
    # SIGTERM as SystemExit, so atomic writers unwind and remove their temporary files
    raise SystemExit(128 + signum)


def run(app: typer.Typer, prog_name: str, argv: list[str] | None = None, started: float | None = None) -> NoReturn:
    """Run a command line; `started`: when the process began importing the CLI, so the time in
    the summary includes start-up (imports, the worker pool), as a user's clock does."""
    global command_started
    command_started = started
    signal.signal(signal.SIGTERM, _terminate)
    set_debug(False)
    global summary_json
    summary_json = None
    run_context.clear()
    given = sys.argv[1:] if argv is None else argv
    if not given or "--help" in given or "-h" in given:  # only help needs it, and it costs an import
        _fold_help_columns()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except SystemExit as stop:  # SIGTERM, raised by _terminate once the files were cleaned up
        if stop.code != 128 + signal.SIGTERM:
            raise
        code = stop.code
    except UsageError as error:
        code = _fail(prog_name, error, 2)
    except (DataError, StageFailed) as error:
        code = _fail(prog_name, error, 1)
    except EndpointError as error:
        code = _fail(prog_name, error, error.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence prints one line too
        if _is_click_error(error):  # bad options and arguments: click's message, on one line like ours, exit 2
            code = error.exit_code  # type: ignore[attr-defined]
            _click_error_line(prog_name, error)
        else:
            code = _fail(prog_name, error, 1, unexpected=True)
    command_started = None  # a command that made no summary (--help) leaves no start for a later one
    if code == 130 and not isinstance(code, bool):  # typer turns Ctrl-C into a quiet exit code 130
        journal = sys.modules.get("curate.journal")
        if journal is not None and journal.opened:
            print(f"{prog_name}: interrupted; run the same command again to continue", file=sys.stderr)
        else:  # a map stage or trainer: its outputs appear only whole, at the end
            print(f"{prog_name}: interrupted; nothing was written (the outputs appear only when a run ends)",
                  file=sys.stderr)
    if argv is None and code not in (0, None, False):
        # the console script, stopped or failed: every file is already cleaned up (the with-blocks
        # unwound); the interpreter's exit would still join worker-pool threads that a stopped
        # worker can leave waiting forever (after Ctrl-C, or a full disk: dedup hung in 3 of 8
        # runs at "No space left on device"), so leave at once
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    sys.exit(code if isinstance(code, int) else 0)


def _click_error_line(prog_name: str, error: Any) -> None:
    """`curate: error: Invalid value for '--mode': 'nope' is not one of ... (see 'curate pii -h')`:
    click's own message without its usage block, so every error of a run is one line."""
    message = " ".join(error.format_message().replace("Value error, ", "").split())
    context = getattr(error, "ctx", None)
    where = f" (see '{context.command_path} -h')" if context is not None else ""
    print(f"{prog_name}: error: {message}{where}", file=sys.stderr)


def _is_click_error(error: Exception) -> bool:
    # typer >= 0.29 vendors click, older releases use click itself: match either by shape
    return any(cls.__name__ == "ClickException" for cls in type(error).__mro__)


def _fail(prog_name: str, error: Exception, code: int, unexpected: bool = False) -> int:
    if debug:
        traceback.print_exc()
    message = " ".join(str(error).split()) or type(error).__name__
    if unexpected:
        message = f"{type(error).__name__}: {message}" + ("" if debug else " (run with --debug for the traceback)")
    print(f"{prog_name}: error: {message}", file=sys.stderr)
    return code
