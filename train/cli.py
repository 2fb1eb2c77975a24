"""The `train` command: sft, rm, dpo and score, each a thin shell over a Python function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate import cli_support
from curate.cli_config import config_command
from curate.summary import stderr
from train.dpo import DPOSettings
from train.rm import RMSettings
from train.sft import SFTSettings

app = cli_support.make_app("train", "Fine-tune on curate's exports: SFT, reward models, DPO; score with a reward model.")

Data = Annotated[Path, typer.Option("--data", help="Training records: any file curate reads (our records, "
                                    "Alpaca, ShareGPT, messages, TRL rows).", show_default=False)]
Output = Annotated[Path, typer.Option("--output", "-o", help="Directory for the trained model, its tokenizer "
                                      "and training_args.json.", show_default=False)]


def _report(trainer: object, output: Path) -> None:
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]  # type: ignore[attr-defined]
    if losses:
        stderr.print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} steps; saved to {output}")


@config_command(app, SFTSettings, "sft")
def sft(config: SFTSettings, data: Data, output: Output) -> None:
    """Supervised fine-tuning (TRL SFTTrainer) on conversational prompt/completion: the loss
    falls on the final response only; --packing packs examples best-fit-decreasing."""
    from train.sft import sft as run

    _report(run(data, output, config), output)


@config_command(app, RMSettings, "rm")
def rm(config: RMSettings, data: Data, output: Output) -> None:
    """Reward model: pairwise chosen/rejected through TRL's RewardTrainer, or rankings of K >= 3
    responses through InstructGPT's K-wise loss (all pairs of a prompt from K forward passes)."""
    from train.rm import rm as run

    _report(run(data, output, config), output)


@config_command(app, DPOSettings, "dpo")
def dpo(config: DPOSettings, data: Data, output: Output) -> None:
    """Direct preference optimisation (TRL DPOTrainer); the reference is the starting checkpoint."""
    from train.dpo import dpo as run

    _report(run(data, output, config), output)


@app.command()
def score(
    model: Annotated[Path, typer.Option(help="A reward model directory (from train rm).", show_default=False)],
    data: Data,
    output: Annotated[Path, typer.Option("--output", "-o", help="Records with meta.reward added.",
                                         show_default=False)],
    max_length: Annotated[int, typer.Option(help="Longest sequence in tokens.")] = 2048,
) -> None:
    """Reward scores for each record's output (and each candidate in meta.responses), or for each
    response of a preference, written into meta.reward."""
    from train.score import score as run

    stderr.print(run(model, data, output, max_length).table())


@app.command()
def preview(
    data: Data,
    tokenizer: Annotated[str, typer.Option(help="Tokenizer with a chat template: a local directory "
                                           "or a Hugging Face model id.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many records to show.")] = 1,
) -> None:
    """Show records as the SFT trainer sees them: prompt tokens dim, trained (response) tokens bold."""
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
        console.rule(f"{record.id}: {len(tokens.input_ids)} tokens, {sum(tokens.completion_mask)} trained")
        console.print(text)


def main(argv: list[str] | None = None) -> None:
    cli_support.run(app, "train", argv)


if __name__ == "__main__":
    main()
