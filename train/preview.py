"""`train preview`: records as `train sft` trains on them, token by token.

The rows come from train/data.py, the very function `train sft` hands to TRL's SFTTrainer; a
token is shown as trained where SFTTrainer's label for it is not -100 (TRL makes its labels
from the same mask: tests/test_train_data.py checks one against the other).

Memory: the tokenizer and the records shown (--limit), read lazily from the start of the file.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from train.data import TrainOn


class PreviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    tokenizer: str = Field(..., description="Tokenizer with a chat template: a local directory or a Hugging Face "
                           "model id.")
    limit: int = Field(1, ge=1, description="How many records to show.",
                       json_schema_extra={"cli_flags": ["--limit", "-n"]})
    train_on: TrainOn = Field("all", description="As train sft --train-on: all assistant turns, or the last only.")


def preview(data: str | Path, config: PreviewSettings, mapping: dict[str, str] | None = None) -> None:
    """Print each record's tokens: context dim, trained tokens bold green."""
    from rich.console import Console
    from rich.text import Text
    from transformers import AutoTokenizer

    from curate.io import read_records
    from train.data import conversation, sft_row

    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    console = Console()
    for record in islice(read_records(data, mapping), config.limit):
        row = sft_row(tokenizer, conversation(record), config.train_on)
        text = Text()
        for token_id, trained in zip(row["input_ids"], row["assistant_masks"]):
            text.append(tokenizer.decode([token_id]), style="bold green" if trained else "dim")
        console.rule(f"{record.id}: {len(row['input_ids'])} tokens, {sum(row['assistant_masks'])} trained")
        console.print(text)
