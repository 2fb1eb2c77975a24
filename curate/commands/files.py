"""Commands that move data between layouts and look at it: convert, export, stats, mix, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from curate import cli_support
from curate.cli_config import config_command
from curate.commands.options import EarlierRejects, Folder, Input, Map, Output, Rejects, folder
from curate.convert import ConvertConfig
from curate.export import ExportConfig
from curate.formats import parse_mapping
from curate.mix import MixConfig
from curate.report import ReportConfig
from curate.stats import StatsConfig
from curate.summary import stderr

app = cli_support.command_app()


@config_command(app, ExportConfig, "export")
def export(config: ExportConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Write records in a layout LLaMA-Factory or TRL loads unchanged.

    Formats:

    * **alpaca**: instruction, input, output, system, history
    * **sharegpt**: conversations of from/value (human, gpt), plus system
    * **messages**: OpenAI role/content messages
    * **preference**: instruction, input, chosen, rejected (preference records only)
    * **ranking**: responses plus a ranking of indices, best first (preference records only)
    * **trl**: conversational prompt/completion, or prompt/chosen/rejected for preferences
    * **kto**: unpaired rows for KTO: TRL's prompt/completion/label plus the alpaca columns (LLaMA-Factory
      reads label as its kto_tag); a preference's better half is desirable, an example by meta.judge.score >= 4
    * **text**: pre-training documents {"text": ...}, through --tokenizer's chat template or a plain one

    Examples without an output are dropped from SFT layouts (reason no_output).
    Preferences export to alpaca as their best response.
    """
    from curate.export import export as run

    cli_support.show(run(input, output, config, rejects, parse_mapping(map)))


@config_command(app, ConvertConfig, "convert")
def convert(config: ConvertConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Normalise any supported file into records.

    Reads Alpaca, ShareGPT, OpenAI messages, TRL or mapped columns from .jsonl, .json,
    .csv or .parquet, and writes records with their content-hash ids; columns that map
    to no field are kept in meta.extra.
    """
    from curate.convert import convert as run

    cli_support.show(run(input, output, config, rejects, parse_mapping(map)))


@config_command(app, StatsConfig, "stats")
def stats(
    config: StatsConfig,
    input: Input,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the statistics as one JSON "
                                                   "object to this file (`-`: stdout, instead of the tables).",
                                                   show_default=False)] = None,
    rejects: EarlierRejects = None,
    map: Map = None,
) -> None:
    """Counts, and length percentiles of every text field (characters, and tokens with --tokenizer);
    with --rejects, what earlier stages dropped, by stage and reason."""
    from curate.outputs import atomic_path
    from curate.stats import stats as collect, stats_tables

    result = collect(input, config, rejects or [], parse_mapping(map))
    text = json.dumps(result, ensure_ascii=False)
    if output is not None and str(output) != "-":
        with atomic_path(output) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    if config.as_json or str(output) == "-":
        typer.echo(text)
        return
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{result['file']}[/]")
    for table in stats_tables(result):
        console.print(table)


@config_command(app, MixConfig, "mix")
def mix(
    config: MixConfig,
    sources: Annotated[list[str], typer.Argument(help="Sources as FILE:WEIGHT, e.g. a.jsonl:0.7 b.jsonl:0.3 "
                                                 "(weights are normalised).", show_default=False, metavar="INPUT...")],
    output: Output,
    rejects: Annotated[Optional[Path], typer.Option("--rejects", help="Also write the rows of the sources that "
                                                    "were not drawn (reason not_drawn).", show_default=False)] = None,
) -> None:
    """Sample a mixture of record files by weight (e.g. instruction data into pre-training text for
    a decay phase); meta.source says where each row came from."""
    from curate.io import ensure_distinct
    from curate.mix import mix as run, parse_sources

    parsed = parse_sources(sources)
    for path, _ in parsed:  # a source may be named twice; only the outputs must be none of them
        ensure_distinct({"a source": path, "--output": output, "--rejects": rejects})
    summary, table = run(parsed, output, config, rejects)
    stderr.print(table)
    cli_support.show(summary)


@config_command(app, ReportConfig, "report")
def report(
    config: ReportConfig,
    inputs: Annotated[list[Path], typer.Argument(
        help="A run folder (the stages' --summary-json FOLDER files), summary files, or record files.",
        show_default=False, metavar="INPUT...")],
    output: Folder = None,
    rejects: EarlierRejects = None,
    splits: Annotated[Optional[Path], typer.Option(help="Folder of `curate split` output, for records per split "
                                                   "when the run has no split summary.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", hidden=True, help="The same as -o (older spelling).",
                                                show_default=False)] = None,
) -> None:
    """One self-contained HTML page of a run: the funnel of every stage with examples of each
    reject reason, distributions, evolution lineage, preference pairs and run facts; PNG charts too.

    Run each stage with --summary-json RUN (a folder), then: curate report RUN -o report/.
    -o is a folder, for index.html and its PNG charts. The page opens from disk."""
    from curate.report import report as run

    where = folder(output, out, "--out")
    cli_support.show(run(inputs, where, rejects or [], splits, config))
    stderr.print(f"open {where / 'index.html'}")
