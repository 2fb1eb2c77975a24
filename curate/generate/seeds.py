"""Seed files: a list of strings, records with `instruction`, or Self-Instruct's seed_tasks.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from curate.errors import DataError
from curate.formats import to_record
from curate.io import describe_validation, iter_values
from curate.records import Example


def load_seeds(path: str | Path) -> list[Example]:
    """Seeds as examples; Self-Instruct's layout keeps its first instance and its class flag."""
    seeds = []
    for where, value in iter_values(path):
        try:
            seeds.append(_seed(value))
        except ValidationError as error:
            raise DataError(f"{where}: {describe_validation(error)}") from None
        except (TypeError, ValueError) as error:
            raise DataError(f"{where}: {error}") from None
    if not seeds:
        raise DataError(f"{path}: no seed instructions")
    unique = list({seed.id: seed for seed in seeds}.values())
    return unique


def _seed(value: Any) -> Example:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a seed instruction is empty")
        return Example(instruction=value.strip())
    if not isinstance(value, dict):
        raise TypeError(f"a seed is a string or an object, got {type(value).__name__}")
    if "instances" in value:  # Self-Instruct: {"id", "name", "instruction", "instances", "is_classification"}
        instances = value.get("instances") or [{}]
        first = instances[0] if isinstance(instances[0], dict) else {}
        meta = {"seed": {key: value[key] for key in ("id", "name", "is_classification") if key in value}}
        return Example(instruction=value.get("instruction", ""), input=first.get("input", "") or "",
                       output=first.get("output", "") or "", meta=meta)
    record = to_record(value)
    if not isinstance(record, Example):
        raise TypeError("a seed is an instruction, not a preference")
    return record
