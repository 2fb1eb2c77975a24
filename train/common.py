"""What every trainer shares: its base config, device settings, data loading and saving."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from curate.errors import DataError, UsageError
from curate.io import read_records
from curate.records import Example, Preference, Record


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), defer_build=True)

    model: str = Field(..., description="Starting model: a local directory or a Hugging Face model id.")
    overwrite: bool = Field(False, description="Replace -o if it already holds files (the new model is written "
                            "beside it and swapped in only when training has finished).")
    epochs: float = Field(1.0, gt=0, description="Passes over the data.")
    learning_rate: float = Field(2e-5, gt=0, description="Peak learning rate.")
    batch_size: int = Field(8, ge=1, description="Examples per device per step.")
    gradient_accumulation: int = Field(1, ge=1, description="Steps whose gradients are summed before an update.")
    max_length: int = Field(2048, ge=8, description="Longest sequence in tokens; longer ones are cut.")
    max_steps: int = Field(-1, description="Stop after this many updates (-1: run the epochs).")
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout.")
    chat_template: str | None = Field(None, description="A Jinja chat template (file or text) for base models "
                                      "whose tokenizer has none.")
    lora: bool = Field(False, description="Train a LoRA adapter instead of all weights (peft).")
    lora_rank: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling alpha.")
    lora_target_modules: str = Field("all-linear", description="Modules LoRA adapts: all-linear, or a "
                                     "comma-separated list such as q_proj,v_proj.")


    @field_validator("model")
    @classmethod
    def _local_models_by_absolute_path(cls, value: str) -> str:
        # a LoRA adapter records its base model as given: a relative path would only reload from here
        path = Path(value).expanduser()
        if path.exists():
            return str(path.resolve())
        if value.startswith(("/", "./", "../", "~")):
            raise ValueError(f"{value}: no such directory")
        return value


def trl_arguments(config: TrainConfig, output: Path) -> dict[str, Any]:
    """TrainingArguments fields: bf16 and gradient checkpointing only on CUDA, no reporting."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "output_dir": str(output), "num_train_epochs": config.epochs, "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.batch_size, "gradient_accumulation_steps": config.gradient_accumulation,
        "max_steps": config.max_steps, "seed": config.seed, "bf16": cuda, "gradient_checkpointing": cuda,
        "report_to": "none", "logging_steps": 1, "save_strategy": "no", "disable_tqdm": True,
    }


def peft_config(config: TrainConfig, task_type: str) -> Any:
    if not config.lora:
        return None
    from peft import LoraConfig

    targets = config.lora_target_modules
    modules = targets if targets == "all-linear" else [m.strip() for m in targets.split(",") if m.strip()]
    return LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=modules, task_type=task_type)


def load_tokenizer(config: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model)
    if config.chat_template:
        path = Path(config.chat_template)
        tokenizer.chat_template = path.read_text(encoding="utf-8") if path.is_file() else config.chat_template
    if not tokenizer.chat_template:
        raise DataError(f"{config.model}: the tokenizer has no chat template; pass --chat-template")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def read_training_records(path: str | Path, wanted: type, fix: str) -> list[Record]:
    """Records of one kind, or a DataError that names what is missing and the export that fits."""
    records = list(read_records(path))
    if not records:
        raise DataError(f"{path}: no records to train on")
    wrong = next(((i, r) for i, r in enumerate(records, 1) if not isinstance(r, wanted)), None)
    if wrong is not None:
        number, record = wrong
        need = "chosen/rejected or responses with a ranking" if wanted is Preference else "an output"
        raise DataError(f"{path}: record {number} (id {record.id}) is a {type(record).__name__.lower()}, "
                        f"but this trainer needs {need}; {fix}")
    if wanted is Example:
        empty = next((i for i, r in enumerate(records, 1) if not r.output.strip()), None)
        if empty is not None:
            raise DataError(f"{path}: record {empty} has no output; answer it first (curate respond)")
    return records


def save(trainer: Any, tokenizer: Any, config: TrainConfig, output: Path, kind: str) -> None:
    """The model (or adapter), the tokenizer, and what it was trained with."""
    trainer.save_model(str(output))
    tokenizer.save_pretrained(str(output))
    record = {"trainer": kind, "config": config.model_dump(), "log": trainer.state.log_history}
    (output / "training_args.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


def check_output(output: Path, overwrite: bool) -> None:
    """-o must be a new or empty directory, or --overwrite given: two runs never mix their files."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: is a file; a trainer writes a directory")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise UsageError(f"-o {output}: already holds files (a model from an earlier run?); give a new "
                         "directory, or --overwrite to replace it")


def train_and_save(build: Any, data: str | Path, output: str | Path, config: TrainConfig, kind: str) -> Any:
    """Build a trainer with `build(data, work, config)`, train it and save it; returns the trainer.

    Everything is written into a work directory beside `output` and renamed into place at the
    end, so a run that fails or is stopped leaves no output, and --overwrite replaces an old
    model only with a finished one."""
    final = Path(output).resolve()
    check_output(final, config.overwrite)
    work = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        trainer, tokenizer = build(data, work, config)
        trainer.train()
        save(trainer, tokenizer, config, work, kind)
        _swap_in(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return trainer


def _swap_in(work: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
