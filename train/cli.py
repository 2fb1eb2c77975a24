"""The `train` command. The trainers themselves (sft, rm, dpo, score) build on train/data.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate import cli_support

app = cli_support.make_app("train", "Fine-tune on curate's exports: preview how records become training tokens.")


@app.command()
def preview(
    data: Annotated[Path, typer.Option(help="Records or any export curate reads (Alpaca, ShareGPT, "
                                       "messages, TRL).", show_default=False)],
    tokenizer: Annotated[str, typer.Option(help="Tokenizer with a chat template: a local directory "
                                           "or a Hugging Face model id.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many records to show.")] = 1,
) -> None:
    """Show records as the trainer sees them: prompt tokens dim, trained (response) tokens bold."""
    from itertools import islice

    from rich.console import Console
    from rich.text import Text
    from transformers import AutoTokenizer

    from curate.io import read_records
    from train.data import to_prompt_completion, tokenize_prompt_completion

    tok = AutoTokenizer.from_pretrained(tokenizer)
    console = Console()
    for record in islice(read_records(data), limit):
        row = to_prompt_completion(record)
        tokens = tokenize_prompt_completion(tok, row["prompt"], row["completion"])
        text = Text()
        for token_id, trained in zip(tokens.input_ids, tokens.completion_mask):
            text.append(tok.decode([token_id]), style="bold green" if trained else "dim")
        trained = sum(tokens.completion_mask)
        console.rule(f"{record.id}: {len(tokens.input_ids)} tokens, {trained} trained")
        console.print(text)


def main(argv: list[str] | None = None) -> None:
    cli_support.run(app, "train", argv)


if __name__ == "__main__":
    main()
