"""Commands that clean a dataset: each keeps or drops records, and says why (dedup has a module
of its own: it starts in ~100 ms less without the others' configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curate import cli_support
from curate.cli_config import config_command
from curate.commands.options import (Folder, Input, JournalOutput, JournalRejects, Map, Output, Rejects, finish,
                                     folder)
from curate.filters.judge import JudgeConfig
from curate.filters.quality import FilterConfig
from curate.formats import parse_mapping
from curate.pii import PiiConfig
from curate.rank import RankConfig
from curate.split_rules import SplitConfig
from curate.summary import stderr

app = cli_support.command_app()


@config_command(app, FilterConfig, "filter")
def filter_(config: FilterConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Drop records that fail a heuristic: empty/short/long instruction or output, output inside
    the instruction, refusals, blacklisted words, symbol-heavy text, repetitive output."""
    from curate.filters.quality import filter_records

    cli_support.show(filter_records(input, output, config, rejects, parse_mapping(map)))


@config_command(app, JudgeConfig, "judge")
def judge(config: JudgeConfig, input: Input, output: JournalOutput, rejects: JournalRejects = None,
          map: Map = None) -> None:
    """Self-curation (Humpback): the model rates each example 1-5 and records at or above
    --min-score are kept, with score and reason in meta.judge."""
    from curate.filters.judge import judge as run

    finish(run(input, output, config, rejects, mapping=parse_mapping(map)), config)


@config_command(app, PiiConfig, "pii")
def pii(
    config: PiiConfig,
    input: Input,
    output: Output,
    rejects: Annotated[Optional[Path], typer.Option("--rejects", help="Also write the records removed by --drop, "
                                                    "scrubbed, each with meta.rejected = {stage, reason}.",
                                                    show_default=False)] = None,
    report: Annotated[Optional[Path], typer.Option(help="Also write, per record with findings, its place in "
                                                   "the input (record, from 1), its output id, and the types and "
                                                   "positions found (offsets into the input's texts; never the "
                                                   "values), as JSON Lines.",
                                                   show_default=False)] = None,
    map: Map = None,
) -> None:
    """Scrub personal data from every text field (history and preferences included): emails,
    phones, SSNs, IBANs, Chinese ID numbers, payment cards (checksums validated), passports and
    dates of birth after a cue, US and Chinese addresses, QQ and WeChat ids, IP addresses, URL
    credentials, API keys and private keys, and person names. Counts per type go to meta.pii."""
    from curate.pii import scrub

    cli_support.show(scrub(input, output, config, report, parse_mapping(map), rejects))


@config_command(app, RankConfig, "rank")
def rank(config: RankConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Turn scored candidates (respond --n K, then train score, or judge --candidates with --scores
    judge) into SFT data (the best), preference pairs (best vs worst, with --min-gap) or K-wise
    rankings: Llama 3's rejection sampling."""
    from curate.rank import rank as run

    cli_support.show(run(input, output, config, rejects, parse_mapping(map)))


@config_command(app, SplitConfig, "split")
def split(
    config: SplitConfig,
    input: Input,
    output: Folder = None,
    suffix: Annotated[str, typer.Option(help="File type of the split files: .jsonl, .json, .csv or .parquet.")]
    = ".jsonl",
    rejects: Rejects = None,
    map: Map = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", hidden=True, help="The same as -o (older spelling).",
                                                    show_default=False)] = None,
) -> None:
    """Split by user (InstructGPT): at most --max-per-user records per user, every user in exactly
    one split (a stable salted hash of the key), and a report of prompts that leak from the
    evaluation splits into train (exact or near duplicates; --drop-leaks removes them).

    -o is a folder: one file per split (train.jsonl, validation.jsonl, test.jsonl)."""
    from curate.split import split as run

    result = run(input, folder(output, out_dir, "--out-dir"), config, rejects, parse_mapping(map), suffix)
    stderr.print(result.table())
    cli_support.show(result.summary)
