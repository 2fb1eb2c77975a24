"""`curate export`: records -> files that LLaMA-Factory and TRL load unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions, local_only
from curate.errors import DataError, FieldError, UsageError
from curate.formats import FORMATS, PAIR_MODES, SFT_FORMATS, dataset_info_entry, export_rows
from curate.io import display_name, file_format
from curate.outputs import atomic_path
from curate.records import Example, Preference, Record
from curate.runner import Reject, each, run_map
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


def export(input: str | Path, output: str | Path, config: ExportConfig | None = None,
           rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Convert a record file to `config.format`; optionally register it in dataset_info.json.

    Memory: one record at a time, and the kinds of record seen."""
    config = config or ExportConfig()
    local_only(config, "export")
    _check_options(output, config.dataset_info, config.format, rejects)
    template = None
    if config.tokenizer:
        from transformers import AutoTokenizer

        template = AutoTokenizer.from_pretrained(config.tokenizer)
    exporter = Exporter(config.format, config.pairs, one_kind=config.dataset_info and config.format not in ("text", "kto"),
                        source=display_name(input), tokenizer=template)
    summary = run_map("export", input, output, each(exporter), rejects=rejects, mapping=mapping)
    if config.dataset_info:
        entry = dataset_info_entry(config.format, Preference in exporter.kinds, Path(output).name)
        write_dataset_info(Path(output).parent / "dataset_info.json", config.dataset_name or Path(output).stem,
                           entry)
    return summary


def _check_options(output: str | Path, dataset_info: bool, fmt: str, rejects: Any) -> None:
    """Fail on bad usage before any work is done."""
    file_format(output)
    if rejects:
        file_format(rejects)
    if dataset_info:
        if str(output) == "-":
            raise UsageError("--dataset-info needs an output file, not stdout")
        dataset_info_entry(fmt, False, "")  # raises for formats LLaMA-Factory cannot load


class Exporter:
    """A record in, its export rows out; an example with no output is dropped from SFT formats.
    Memory: the kinds of record seen (for dataset_info.json)."""

    def __init__(self, fmt: str, pairs: str = "all", one_kind: bool = False, source: str = "input",
                 tokenizer: Any = None):
        self.fmt, self.pairs, self.one_kind, self.source, self.tokenizer = fmt, pairs, one_kind, source, tokenizer
        self.kinds: set[type] = set()
        self.number = 0

    def __call__(self, record: Record) -> list[dict[str, Any]] | Reject:
        self.number += 1
        self._note_kind(record, self.number)
        if self.fmt in (*SFT_FORMATS, "kto") and isinstance(record, Example) and not record.output.strip():
            return Reject(record, "no_output")
        try:
            return export_rows(record, self.fmt, self.pairs, self.tokenizer)
        except FieldError as error:
            raise DataError(f"{self.source}: record {self.number} (id {record.id}): {error}") from None

    def _note_kind(self, record: Record, number: int) -> None:
        self.kinds.add(type(record))
        if self.one_kind and len(self.kinds) > 1:
            raise DataError(f"{self.source}: record {number} (id {record.id}): the file mixes examples and "
                            "preferences, but a dataset_info.json entry describes one kind")


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
