"""The `curate` command: one subcommand per stage, each a thin shell over a Python function.

The commands live in curate/commands/, a module per kind of work. This module only names
them with their one-line help, so that `curate --help` lists every stage without importing
any, and `curate STAGE` imports the one module that holds STAGE (start-up stays well under
half a second; tests/test_cli.py checks that each line here is its command's own first line).
"""

from __future__ import annotations

import time

_IMPORTED_AT: float | None = time.perf_counter()  # before typer and the rest load: start-up counts in the summary

import difflib
import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from curate import cli_support

GENERATE, CURATE, FILES = "Generate", "Curate", "Files"

# name: (module under curate.commands, help panel, the first paragraph of its help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "self-instruct": ("generate", GENERATE, "Self-Instruct: grow a pool of new tasks from seeds, then write "
                      "instances for each."),
    "evol": ("generate", GENERATE, "Evol-Instruct (WizardLM): evolve seed instructions in depth and breadth over "
             "--rounds rounds."),
    "respond": ("generate", GENERATE, "Answer each instruction (the record's output); --n K keeps K candidates in "
                "meta.responses."),
    "backtranslate": ("generate", GENERATE, "Instruction backtranslation (Humpback): the model writes, for each "
                      "unlabeled document, the instruction it answers; the document (trimmed on a paragraph "
                      "boundary) becomes the output. Self-curate the result with curate judge."),
    "revise": ("generate", GENERATE, "Teacher revision: a teacher model improves each answer; the revision becomes "
               "chosen and the original rejected, unless the judge scores the revision no higher (dropped: "
               "not_better)."),
    "dedup": ("dedup", CURATE, "Remove exact duplicates (after NFKC, case and whitespace normalisation) and "
              "MinHash LSH near duplicates (Jaccard of word 5-gram sets, or character 5-grams for "
              "Chinese/Japanese), keeping one record per cluster; cluster id and size go to meta.dedup."),
    "filter": ("curation", CURATE, "Drop records that fail a heuristic: empty/short/long instruction or output, "
               "output inside the instruction, refusals, blacklisted words, symbol-heavy text, repetitive output."),
    "judge": ("curation", CURATE, "Self-curation (Humpback): the model rates each example 1-5 and records at or "
              "above --min-score are kept, with score and reason in meta.judge."),
    "pii": ("curation", CURATE, "Scrub personal data from every text field (history and preferences included): "
            "emails, phones, SSNs, IBANs, Chinese ID numbers, payment cards (checksums validated), passports and "
            "dates of birth after a cue, US and Chinese addresses, QQ and WeChat ids, IP addresses, URL "
            "credentials, API keys and private keys, and person names. Counts per type go to meta.pii."),
    "rank": ("curation", CURATE, "Turn scored candidates (respond --n K, then train score, or judge --candidates "
             "with --scores judge) into SFT data (the best), preference pairs (best vs worst, with --min-gap) or "
             "K-wise rankings: Llama 3's rejection sampling."),
    "split": ("curation", CURATE, "Split by user (InstructGPT): at most --max-per-user records per user, every "
              "user in exactly one split (a stable salted hash of the key), and a report of prompts that leak "
              "from the evaluation splits into train (exact or near duplicates; --drop-leaks removes them)."),
    "convert": ("files", FILES, "Normalise any supported file into records."),
    "export": ("files", FILES, "Write records in a layout LLaMA-Factory or TRL loads unchanged."),
    "mix": ("files", FILES, "Sample a mixture of record files by weight (e.g. instruction data into pre-training "
            "text for a decay phase); meta.source says where each row came from."),
    "stats": ("files", FILES, "Counts, and length percentiles of every text field (characters, and tokens with "
              "--tokenizer); with --rejects, what earlier stages dropped, by stage and reason."),
    "report": ("files", FILES, "One self-contained HTML page of a run: the funnel of every stage with examples "
               "of each reject reason, distributions, evolution lineage, preference pairs and run facts; PNG "
               "charts too."),
}


class StageCommands(TyperGroup):
    """The subcommands, loaded a module at a time when one runs or shows its own help."""

    _listing = False  # while the root help is drawn: every command is only its name and line

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS:
            return None
        module, panel, line = COMMANDS[name]
        if self._listing:
            return TyperCommand(name, help=line, short_help=line, rich_help_panel=panel)
        return load_module(module).get_command(ctx, name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            close = difflib.get_close_matches(args[0], COMMANDS)
            ctx.fail(f"No such command {args[0]!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        return super().resolve_command(ctx, args)


_loaded: dict[str, Any] = {}


def load_module(name: str) -> Any:
    """The click group of one module of commands, built once."""
    if name not in _loaded:
        module = importlib.import_module(f"curate.commands.{name}")
        _loaded[name] = typer.main.get_group(module.app)
    return _loaded[name]


app = cli_support.make_app(
    "curate",
    "Turn seed prompts or user logs into clean SFT and preference data.\n\n"
    "Every stage reads a file and writes a file of JSON Lines records "
    "(instruction, input, output, system, history, user_id, meta), so stages pipe with `-`. "
    "Every command has one shape: `curate STAGE INPUT -o OUTPUT [--rejects FILE] [--config FILE.yaml]`.",
    group=StageCommands,
)


def main(argv: list[str] | None = None) -> None:
    global _IMPORTED_AT
    started, _IMPORTED_AT = _IMPORTED_AT or time.perf_counter(), None  # later calls (tests) start at the call
    cli_support.run(app, "curate", argv, started)


if __name__ == "__main__":
    main()
