"""`curate export`: records -> files that LLaMA-Factory and TRL load unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions
from curate.errors import DataError, FieldError, RecordError, UsageError
from curate.formats import FORMATS, PAIR_MODES, SFT_FORMATS, dataset_info_entry, export_rows
from curate.io import display_name, sink_format
from curate.outputs import atomic_path
from curate.records import Example, Record
from curate.runner import Noted, Reject, each, run_map
from curate.summary import Summary


class ExportConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    # Literal of the tuples, so that the choices are said once (formats.py) and listed in --help
    format: Literal[FORMATS] = Field(  # type: ignore[valid-type]
        "alpaca", description="Output layout; see above.", json_schema_extra={"cli_flags": ["--format", "-f"]})
    pairs: Literal[PAIR_MODES] = Field(  # type: ignore[valid-type]
        "all", description="For ranked preferences (K > 2 responses): every better/worse pair, or only best "
        "against worst.")
    dataset_info: bool = Field(False, description="Also add an entry for the output to dataset_info.json "
                               "beside it (LLaMA-Factory's dataset registry).")
    dataset_name: str | None = Field(None, description="Entry name in dataset_info.json (default: the output "
                                     "file's stem).")
    tokenizer: str | None = Field(None, description="text format: render through this tokenizer's chat "
                                  "template instead of our plain one.")
    workers: int = Field(1, ge=1, description="Processes (or Ray tasks) that read, check and export a large JSON "
                         "Lines file in parallel (output order is input order).")


def export(input: str | Path, output: str | Path, config: ExportConfig | None = None,
           rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Convert a record file to `config.format`; optionally register it in dataset_info.json.

    Memory: one record at a time (with --workers, 2 x workers chunks of the input)."""
    config = config or ExportConfig()
    _check_options(output, config.dataset_info, config.format, rejects)
    template = None
    if config.tokenizer:
        from transformers import AutoTokenizer

        template = AutoTokenizer.from_pretrained(config.tokenizer)
    exporter = Exporter(config.format, config.pairs, tokenizer=template)
    one_kind = config.dataset_info and config.format not in ("text", "kto")
    summary = run_map("export", input, output, each(exporter), rejects=rejects, mapping=mapping, step=exporter,
                      workers=config.workers, executor=config.executor, ray_address=config.ray_address,
                      finish=_one_kind(display_name(input)) if one_kind else None)
    if config.dataset_info:
        entry = dataset_info_entry(config.format, summary.counts.get(PREFERENCES, 0) > 0, Path(output).name)
        write_dataset_info(Path(output).parent / "dataset_info.json", config.dataset_name or Path(output).stem,
                           entry)
    return summary


def _check_options(output: str | Path, dataset_info: bool, fmt: str, rejects: Any) -> None:
    """Fail on bad usage before any work is done."""
    sink_format(output)  # a file, or a directory of parts
    if rejects:
        sink_format(rejects)
    if dataset_info:
        if str(output) == "-":
            raise UsageError("--dataset-info needs an output file, not stdout")
        dataset_info_entry(fmt, False, "")  # raises for formats LLaMA-Factory cannot load


EXAMPLES, PREFERENCES = "examples", "preferences"  # each record counts as one kind in the summary


class Exporter:
    """A record in, its export rows out; an example with no output is dropped from SFT formats.
    A pure step (it runs in worker processes and Ray tasks too): each result counts its
    record's kind, and the run's counts say what dataset_info.json's entry describes."""

    def __init__(self, fmt: str, pairs: str = "all", tokenizer: Any = None):
        self.fmt, self.pairs, self.tokenizer = fmt, pairs, tokenizer

    def __call__(self, record: Record) -> Noted:
        kind = (EXAMPLES if isinstance(record, Example) else PREFERENCES,)
        if self.fmt in (*SFT_FORMATS, "kto") and isinstance(record, Example) and not record.output.strip():
            return Noted(Reject(record, "no_output"), counts=kind)
        try:
            return Noted(export_rows(record, self.fmt, self.pairs, self.tokenizer), counts=kind)
        except FieldError as error:
            raise RecordError(record.id, str(error)) from None


def _one_kind(source: str) -> Callable[[Summary], None]:
    """The check, before the files appear, that a run's records are all of one kind."""

    def check(summary: Summary) -> None:
        examples, preferences = summary.counts.get(EXAMPLES, 0), summary.counts.get(PREFERENCES, 0)
        if examples and preferences:
            raise DataError(f"{source}: the file mixes {examples:,} examples and {preferences:,} preferences, but "
                            "a dataset_info.json entry describes one kind; export each kind to its own file, or "
                            "leave out --dataset-info")
    return check


def write_dataset_info(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Add or replace one entry, keeping every other dataset already registered there."""
    registry: dict[str, Any] = {}
    if path.exists():
        try:
            registry = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: existing dataset_info.json is not valid JSON ({error})") from None
        if not isinstance(registry, dict):
            raise DataError(f"{path}: existing dataset_info.json is not a JSON object")
    registry[name] = entry
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(registry, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
