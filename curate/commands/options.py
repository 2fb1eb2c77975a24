"""The arguments every command shares, declared once, and how a generating command ends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curate import cli_support

Input = Annotated[
    Path,
    typer.Argument(
        help="Input records: .jsonl, .json (array), .csv or .parquet; `-` reads JSON Lines from stdin.",
        show_default=False, metavar="INPUT",
    ),
]
Output = Annotated[
    Path,
    typer.Option("--output", "-o", help="Output file; its extension picks the format "
                 "(.jsonl .json .csv .parquet); `-` writes JSON Lines to stdout. "
                 "Written atomically: an error leaves no partial file. filter, pii, dedup and rank "
                 "also write a directory of parts: `DIR/*.jsonl` (or DIR with no extension) or "
                 "`DIR/*.parquet`.", show_default=False),
]
Folder = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Folder to write into (made if missing).", show_default=False),
]
Map = Annotated[
    Optional[str],
    typer.Option("--map", help="Rename input columns before reading, as SOURCE=FIELD pairs: "
                 "`--map prompt=instruction,response=output`. Alpaca, ShareGPT `conversations`, "
                 "OpenAI `messages`, TRL prompt/completion and prompt/chosen/rejected columns "
                 "are recognised without it.", show_default=False),
]
Rejects = Annotated[
    Optional[Path],
    typer.Option("--rejects", help="Also write the records this stage removed, each with "
                 "meta.rejected = {stage, reason}.", show_default=False),
]
EarlierRejects = Annotated[
    Optional[list[Path]],
    typer.Option("--rejects", help="Rejects files of earlier stages, to count what they dropped by stage and "
                 "reason (repeatable).", show_default=False),
]
JournalOutput = Annotated[
    Path,
    typer.Option("--output", "-o", help="Output .jsonl, appended as each record finishes. Run the same "
                 "command again after a kill or Ctrl-C to continue where it stopped; OUT.run.json beside "
                 "it records the input and settings it was made with.", show_default=False),
]
JournalRejects = Annotated[
    Optional[Path],
    typer.Option("--rejects", help="Journal of what this stage removed, each with meta.rejected = {stage, "
                 "reason, key}; failed:* items are tried again by the next run. [default: OUT.rejects.jsonl "
                 "beside the output]", show_default=False),
]
SeedsInput = Annotated[
    Optional[Path],
    typer.Argument(help="Seed instructions: a JSON/JSONL list of strings, records with `instruction` (and "
                   "optional input/output), or Self-Instruct's seed_tasks.jsonl.", show_default=False,
                   metavar="INPUT"),
]
SeedsAlias = Annotated[
    Optional[Path],
    typer.Option("--seeds", hidden=True, help="The seed file, as INPUT (the older spelling).", show_default=False),
]


def seed_file(input: Path | None, seeds: Path | None) -> Path:
    return cli_support.one_of(input, seeds, "INPUT", "--seeds", "the seed file (a JSON or JSONL list of instructions)")


def folder(output: Path | None, older: Path | None, older_flag: str) -> Path:
    return cli_support.one_of(output, older, "-o", older_flag, "the folder to write into")


def finish(summary, config) -> None:  # noqa: ANN001
    """Print the summary; a run that lost work (items failed for good, or it stopped before the
    job was done) exits 1, unless --allow-failures."""
    cli_support.show(summary)
    if config.allow_failures:
        return
    if summary.stopped:
        raise cli_support.StageFailed(f"stopped before the job was done: {summary.stopped} "
                                      "(--allow-failures to accept a partial output)")
    failures = summary.failures_left()
    offline = failures.pop("batch_file", 0)
    if offline and not failures:  # the requests went to a file, as asked: the next step is the user's
        from curate.summary import stderr

        requests = getattr(config, "batch_file", None)
        stderr.print(f"{offline:,} requests wait in {requests}. Answer them, e.g. `vllm run-batch -i {requests} "
                     "-o RESULTS.jsonl --model MODEL`, then run this command again with --batch-results "
                     "RESULTS.jsonl (and --batch-file for the next step's requests, if it has one)")
        return
    if failures:
        commonest = failures.most_common(3)
        reasons = ", ".join(f"{reason} x{count:,}" for reason, count in commonest)
        said = [f"{reason}: {summary.failure_messages[reason].rstrip('.')}" for reason, _ in commonest
                if summary.failure_messages.get(reason)]
        # the server's own words first ("The prompt has 1210 tokens, but the model takes at most 512")
        told = f" The server said, first of each: {'; '.join(said)}." if said else ""
        raise cli_support.StageFailed(
            f"{sum(failures.values()):,} items failed for good ({reasons}).{told} They are in the rejects journal as "
            "failed:*. Run the same command again to retry them (check --base-url, --model and the server's "
            "log), or pass --allow-failures to accept a partial output")
