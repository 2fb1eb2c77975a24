"""`train sft`: supervised fine-tuning with TRL's SFTTrainer.

Which tokens carry loss (`--train-on`): by default every assistant turn of a conversation
(LLaMA-Factory's and Vicuna's way with multi-turn data); with `--train-on last`, only the final
answer, the history's answers being context. System, user and template tokens never do. Rows are
tokenized in train/data.py, the one tokenization that `train preview` shows too; `--packing`
packs rows best-fit-decreasing.

Memory: every training row, tokenized (a datasets.Dataset, memory-mapped by Arrow), and the
model; the records are read once to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from curate.records import Example
from train.common import TrainConfig, load_tokenizer, peft_config, read_training_records, train_and_save, trl_arguments
from train.data import TrainOn, sft_rows


class SFTSettings(TrainConfig):
    packing: bool = Field(False, description="Pack several examples into each sequence (best-fit decreasing, "
                          "padding-free); exact per-example attention needs a flash-attention model on GPU.")
    train_on: TrainOn = Field("all", description="Which answers carry loss: all (every assistant turn of a "
                              "multi-turn record) or last (the final answer only; earlier ones are context).")


def build_sft_trainer(data: str | Path, output: str | Path, config: SFTSettings) -> tuple[Any, Any]:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    records = read_training_records(data, Example, "export it with curate export --format trl")
    tokenizer = load_tokenizer(config)
    rows = Dataset.from_list(sft_rows(records, tokenizer, config.train_on))
    # pre-tokenized rows: TRL builds its labels from assistant_masks, then truncates and packs
    args = SFTConfig(**trl_arguments(config, Path(output)), max_length=config.max_length, packing=config.packing,
                     packing_strategy="bfd", completion_only_loss=False, dataset_num_proc=None)
    trainer = SFTTrainer(model=config.model, args=args, train_dataset=rows, processing_class=tokenizer,
                         peft_config=peft_config(config, "CAUSAL_LM"))
    return trainer, tokenizer


def sft(data: str | Path, output: str | Path, config: SFTSettings) -> Any:
    """Train and save; returns the trainer (its state holds the loss history)."""
    return train_and_save(build_sft_trainer, data, output, config, "sft")
