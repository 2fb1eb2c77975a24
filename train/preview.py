"""`train preview`: records as the SFT trainer sees them, token by token.

Memory: the tokenizer and the records shown (--limit), read lazily from the start of the file.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PreviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    tokenizer: str = Field(..., description="Tokenizer with a chat template: a local directory or a Hugging Face "
                           "model id.")
    limit: int = Field(1, ge=1, description="How many records to show.",
                       json_schema_extra={"cli_flags": ["--limit", "-n"]})


def preview(data: str | Path, config: PreviewSettings, mapping: dict[str, str] | None = None) -> None:
    """Print each record's tokens: prompt tokens dim, trained (response) tokens bold."""
    from rich.console import Console
    from rich.text import Text
    from transformers import AutoTokenizer

    from curate.io import read_records
    from train.data import to_prompt_completion, tokenize_prompt_completion

    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    console = Console()
    for record in islice(read_records(data, mapping), config.limit):
        row = to_prompt_completion(record)
        tokens = tokenize_prompt_completion(tokenizer, row["prompt"], row["completion"])
        text = Text()
        for token_id, trained in zip(tokens.input_ids, tokens.completion_mask):
            text.append(tokenizer.decode([token_id]), style="bold green" if trained else "dim")
        console.rule(f"{record.id}: {len(tokens.input_ids)} tokens, {sum(tokens.completion_mask)} trained")
        console.print(text)
