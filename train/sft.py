"""`train sft`: supervised fine-tuning with TRL's SFTTrainer, loss on the responses only.

Records become conversational prompt/completion rows (system and history in the prompt), so
SFTTrainer masks everything but the final answer; `--packing` packs rows best-fit-decreasing.

Memory: every training row, tokenized (a datasets.Dataset, memory-mapped by Arrow), and the
model; the records are read once to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from curate.records import Example
from train.common import TrainConfig, load_tokenizer, peft_config, read_training_records, train_and_save, trl_arguments
from train.data import to_prompt_completion


class SFTSettings(TrainConfig):
    packing: bool = Field(False, description="Pack several examples into each sequence (best-fit decreasing, "
                          "padding-free); exact per-example attention needs a flash-attention model on GPU.")


def build_sft_trainer(data: str | Path, output: str | Path, config: SFTSettings) -> tuple[Any, Any]:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    records = read_training_records(data, Example, "export it with curate export --format trl")
    rows = Dataset.from_list([to_prompt_completion(record) for record in records])
    tokenizer = load_tokenizer(config)
    args = SFTConfig(**trl_arguments(config, Path(output)), max_length=config.max_length, packing=config.packing,
                     packing_strategy="bfd", completion_only_loss=True, dataset_num_proc=None)
    trainer = SFTTrainer(model=config.model, args=args, train_dataset=rows, processing_class=tokenizer,
                         peft_config=peft_config(config, "CAUSAL_LM"))
    return trainer, tokenizer


def sft(data: str | Path, output: str | Path, config: SFTSettings) -> Any:
    """Train and save; returns the trainer (its state holds the loss history)."""
    return train_and_save(build_sft_trainer, data, output, config, "sft")
