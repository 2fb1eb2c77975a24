"""The `curate` command: one subcommand per stage, each a thin shell over a Python function."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from curate import cli_support
from curate.cli_config import config_command
from curate.formats import FORMATS, PAIR_MODES, parse_mapping
from curate.io import ensure_distinct
from curate.filters.dedup import DedupConfig
from curate.filters.judge import JudgeConfig
from curate.filters.quality import FilterConfig
from curate.generate.backtranslate import BacktranslateConfig
from curate.generate.evol_instruct import EvolConfig
from curate.generate.revise import ReviseConfig
from curate.generate.respond import RespondConfig
from curate.generate.self_instruct import SelfInstructConfig
from curate.pii import PiiConfig
from curate.rank import RankConfig
from curate.split import SplitConfig
from curate.summary import stderr

app = cli_support.make_app(
    "curate",
    "Turn seed prompts or user logs into clean SFT and preference data.\n\n"
    "Every stage reads a file and writes a file of JSON Lines records "
    "(instruction, input, output, system, history, user_id, meta), so stages pipe with `-`.",
)

Format = Enum("Format", {name: name for name in FORMATS}, type=str)  # type: ignore[misc]
Pairs = Enum("Pairs", {name: name for name in PAIR_MODES}, type=str)  # type: ignore[misc]

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
                 "Written atomically: an error leaves no partial file.", show_default=False),
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


@app.command()
def export(
    input: Input,
    output: Output,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output layout; see above.")] = Format.alpaca,
    pairs: Annotated[Pairs, typer.Option(help="For ranked preferences (K > 2 responses): every "
                                         "better/worse pair, or only best against worst.")] = Pairs.all,
    dataset_info: Annotated[bool, typer.Option("--dataset-info", help="Also add an entry for the output "
                            "to dataset_info.json beside it (LLaMA-Factory's dataset registry).")] = False,
    dataset_name: Annotated[Optional[str], typer.Option(help="Entry name in dataset_info.json "
                            "(default: the output file's stem).", show_default=False)] = None,
    rejects: Rejects = None,
    map: Map = None,
    tokenizer: Annotated[Optional[str], typer.Option(help="text format: render through this tokenizer's chat "
                                                     "template instead of our plain one.", show_default=False)] = None,
) -> None:
    """Write records in a layout LLaMA-Factory or TRL loads unchanged.

    Formats:

    * **alpaca**: instruction, input, output, system, history
    * **sharegpt**: conversations of from/value (human, gpt), plus system
    * **messages**: OpenAI role/content messages
    * **preference**: instruction, input, chosen, rejected (preference records only)
    * **ranking**: responses plus a ranking of indices, best first (preference records only)
    * **trl**: conversational prompt/completion, or prompt/chosen/rejected for preferences
    * **text**: pre-training documents {"text": ...}, through --tokenizer's chat template or a plain one

    Examples without an output are dropped from SFT layouts (reason no_output).
    Preferences export to alpaca as their best response.
    """
    from curate.export import export as run_export

    ensure_distinct({"INPUT": input, "--output": output, "--rejects": rejects})
    summary = run_export(input, output, format.value, pairs.value, dataset_info, dataset_name,
                         rejects, parse_mapping(map), tokenizer)
    cli_support.show(summary)


@app.command()
def convert(input: Input, output: Output, map: Map = None) -> None:
    """Normalise any supported file into records.

    Reads Alpaca, ShareGPT, OpenAI messages, TRL or mapped columns from .jsonl, .json,
    .csv or .parquet, and writes records with their content-hash ids; columns that map
    to no field are kept in meta.extra.
    """
    from curate.runner import run_map

    cli_support.show(run_map("convert", input, output, lambda records: records, mapping=parse_mapping(map)))


@app.command()
def stats(
    input: Input,
    tokenizer: Annotated[Optional[str], typer.Option(help="Also count tokens with this tokenizer: a local "
                         "directory or a Hugging Face model id.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    map: Map = None,
) -> None:
    """Counts, and length percentiles of every text field (characters, and tokens with --tokenizer)."""
    from curate.io import display_name, read_records
    from curate.stats import collect_stats, stats_tables
    from curate.summary import track

    tok = None
    if tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer)
    result = collect_stats(track(read_records(input, parse_mapping(map)), "reading"), tok)
    if as_json:
        typer.echo(json.dumps({"file": display_name(input), **result}, ensure_ascii=False))
        return
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{display_name(input)}[/]")
    for table in stats_tables(result):
        console.print(table)


def _finish(summary, config) -> None:  # noqa: ANN001
    """Print the summary; a run that lost work (items failed for good, or it stopped before the
    job was done) exits 1, unless --allow-failures."""
    cli_support.show(summary)
    if config.allow_failures:
        return
    if summary.stopped:
        raise cli_support.StageFailed(f"stopped before the job was done: {summary.stopped} "
                                      "(--allow-failures to accept a partial output)")
    failures = summary.failures_left()
    if failures:
        reasons = ", ".join(f"{reason} x{count:,}" for reason, count in failures.most_common(3))
        raise cli_support.StageFailed(
            f"{sum(failures.values()):,} items failed for good ({reasons}); they are in the rejects journal as "
            "failed:*. Run the same command again to retry them (check --base-url, --model and the server's "
            "log), or pass --allow-failures to accept a partial output")


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


def _seed_file(input: Path | None, seeds: Path | None) -> Path:
    return _one_of(input, seeds, "INPUT", "--seeds", "the seed file (a JSON or JSONL list of instructions)")


def _folder(output: Path | None, older: Path | None, older_flag: str) -> Path:
    return _one_of(output, older, "-o", older_flag, "the folder to write into")


def _one_of(value: Path | None, older: Path | None, name: str, older_flag: str, what: str) -> Path:
    """An argument given by its name or by its older spelling: once, not twice, not never."""
    from curate.errors import UsageError

    if value is not None and older is not None:
        raise UsageError(f"give {what} once: as {name} (or the older {older_flag}), not both")
    if value is None and older is None:
        raise UsageError(f"missing {name}: {what}")
    return value or older  # type: ignore[return-value]
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


@config_command(app, EvolConfig, "evol")
def evol(config: EvolConfig, output: JournalOutput, input: SeedsInput = None, rejects: JournalRejects = None,
         seeds: SeedsAlias = None) -> None:
    """Evol-Instruct (WizardLM): evolve seed instructions in depth and breadth over --rounds rounds.

    Eliminated evolutions (equal to their parent, a short 'sorry' answer, an answer of only stop
    words, copied template words) go to --rejects with their rule; the output holds the seeds and
    every surviving evolution, answered, with meta.evol = {root, parent, round, operation}.

    Endpoint: --base-url (or OPENAI_BASE_URL) for vLLM's server, OpenAI or any compatible
    server; without one, the model runs in this process with transformers.
    """
    from curate.generate.evol_instruct import evol_instruct

    _finish(evol_instruct(_seed_file(input, seeds), output, config, rejects), config)


@config_command(app, SelfInstructConfig, "self-instruct")
def self_instruct(config: SelfInstructConfig, output: JournalOutput, input: SeedsInput = None,
                  rejects: JournalRejects = None, seeds: SeedsAlias = None) -> None:
    """Self-Instruct: grow a pool of new tasks from seeds, then write instances for each.

    Each request shows 6 seed and 2 machine-written tasks; new tasks pass word-count, blacklist,
    punctuation and ROUGE-L novelty filters (dropped ones go to --rejects with the reason).
    Classification tasks get instances output-first, others input-first.
    """
    from curate.generate.self_instruct import self_instruct as run_self_instruct

    _finish(run_self_instruct(_seed_file(input, seeds), output, config, rejects), config)


@config_command(app, RespondConfig, "respond")
def respond(config: RespondConfig, input: Input, output: JournalOutput, rejects: JournalRejects = None,
            map: Map = None) -> None:
    """Answer each instruction (the record's output); --n K keeps K candidates in meta.responses."""
    from curate.generate.respond import respond as run_respond

    _finish(run_respond(input, output, config, rejects, mapping=parse_mapping(map)), config)


@config_command(app, BacktranslateConfig, "backtranslate")
def backtranslate(config: BacktranslateConfig, input: Input, output: JournalOutput,
                  rejects: JournalRejects = None) -> None:
    """Instruction backtranslation (Humpback): the model writes, for each unlabeled document, the
    instruction it answers; the document (trimmed on a paragraph boundary) becomes the output.
    Self-curate the result with curate judge."""
    from curate.generate.backtranslate import backtranslate as run

    _finish(run(input, output, config, rejects), config)


@config_command(app, ReviseConfig, "revise")
def revise(config: ReviseConfig, input: Input, output: JournalOutput, rejects: JournalRejects = None,
           map: Map = None) -> None:
    """Teacher revision: a teacher model improves each answer; the revision becomes chosen and the
    original rejected, unless the judge scores the revision no higher (dropped: not_better)."""
    from curate.generate.revise import revise as run

    _finish(run(input, output, config, rejects, mapping=parse_mapping(map)), config)


@config_command(app, DedupConfig, "dedup")
def dedup(config: DedupConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Remove exact duplicates (after NFKC, case and whitespace normalisation) and MinHash LSH
    near duplicates (Jaccard of word 5-gram sets, or character 5-grams for Chinese/Japanese),
    keeping one record per cluster; cluster id and size go to meta.dedup."""
    from curate.filters.dedup import dedup as run_dedup

    cli_support.show(run_dedup(input, output, config, rejects, parse_mapping(map)))


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
    from curate.filters.judge import judge as run_judge

    _finish(run_judge(input, output, config, rejects, mapping=parse_mapping(map)), config)


@config_command(app, PiiConfig, "pii")
def pii(
    config: PiiConfig,
    input: Input,
    output: Output,
    report: Annotated[Optional[Path], typer.Option(help="Also write, per record with findings, the types and "
                                                   "positions found (never the values), as JSON Lines.",
                                                   show_default=False)] = None,
    map: Map = None,
) -> None:
    """Scrub personal data from every text field (history and preferences included): emails,
    phone numbers, Chinese ID numbers, payment cards (checksums validated), IP addresses, URL
    credentials, API keys and private keys, and person names (English and Chinese cues, jieba's
    person tags). Counts per type go to meta.pii."""
    from curate.pii import scrub

    cli_support.show(scrub(input, output, config, report, parse_mapping(map)))


@config_command(app, RankConfig, "rank")
def rank(config: RankConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Turn scored candidates (respond --n K, then train score) into SFT data (the best), preference
    pairs (best vs worst, with --min-gap) or K-wise rankings: Llama 3's rejection sampling."""
    from curate.rank import rank as run_rank

    cli_support.show(run_rank(input, output, config, rejects, parse_mapping(map)))


@config_command(app, SplitConfig, "split")
def split(
    config: SplitConfig,
    input: Input,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for one file per split "
                                                   "(train.jsonl, validation.jsonl, test.jsonl).",
                                                   show_default=False)] = None,
    suffix: Annotated[str, typer.Option(help="File type of the split files: .jsonl, .json, .csv or .parquet.")]
    = ".jsonl",
    rejects: Rejects = None,
    map: Map = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", hidden=True, help="The same as -o (older spelling).",
                                                    show_default=False)] = None,
) -> None:
    """Split by user (InstructGPT): at most --max-per-user records per user, every user in exactly
    one split (a stable salted hash of the key), and a report of prompts that leak from the
    evaluation splits into train (exact or near duplicates; --drop-leaks removes them)."""
    from curate.split import split as run_split

    result = run_split(input, _folder(output, out_dir, "--out-dir"), config, rejects, parse_mapping(map), suffix)
    stderr.print(result.table())
    cli_support.show(result.summary)


@app.command()
def mix(
    sources: Annotated[list[str], typer.Argument(help="Sources as FILE:WEIGHT, e.g. a.jsonl:0.7 b.jsonl:0.3 "
                                                 "(weights are normalised).", show_default=False)],
    output: Output,
    total: Annotated[int, typer.Option(min=1, help="Rows in the mixture.", show_default=False)],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same rows in the same order.")] = 0,
    replace: Annotated[bool, typer.Option("--replace", help="Sample with replacement where a source is smaller "
                                          "than its share (upsampling).")] = False,
) -> None:
    """Sample a mixture of record files by weight (e.g. instruction data into pre-training text for
    a decay phase); meta.source says where each row came from."""
    from curate.mix import mix as run_mix, parse_sources

    parsed = parse_sources(sources)
    for path, _ in parsed:  # a source may be named twice; only the output must be none of them
        ensure_distinct({"a source": path, "--output": output})
    summary, table = run_mix(parsed, output, total, seed, replace)
    stderr.print(table)
    cli_support.show(summary)


@app.command()
def report(
    input: Input,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for index.html and its PNG plots.",
                                                   show_default=False)] = None,
    rejects: Annotated[Optional[list[Path]], typer.Option("--rejects", help="Rejects files of earlier stages, "
                                                          "for the dropped-by-reason chart (repeatable).")] = None,
    splits: Annotated[Optional[Path], typer.Option(help="Folder of `curate split` output, for records per split.",
                                                   show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", hidden=True, help="The same as -o (older spelling).",
                                                show_default=False)] = None,
) -> None:
    """An HTML page with plots: instruction and output lengths, judge scores, drops by stage and
    reason, records per split, evolution rounds and operations. Opens from disk."""
    from curate.report import report as run_report

    folder = _folder(output, out, "--out")
    cli_support.show(run_report(input, folder, rejects or [], splits))
    stderr.print(f"open {folder / 'index.html'}")


def main(argv: list[str] | None = None) -> None:
    cli_support.run(app, "curate", argv)


if __name__ == "__main__":
    main()
