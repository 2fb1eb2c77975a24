"""The `train` command: sft, rm, dpo, rl, score and preview, each a thin shell over a Python function.

Every command is `train COMMAND INPUT -o OUTPUT [--config FILE.yaml] [options]`, its options
derived from the settings model of its module (curate/cli_config.py).
"""

from __future__ import annotations

import time

_IMPORTED_AT: float | None = time.perf_counter()  # before typer and the rest load: start-up counts in the summary

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from curate import cli_support
from curate.cli_config import config_command
from curate.summary import stderr
from train.dpo import DPOSettings
from train.preview import PreviewSettings
from train.rl import RLSettings
from train.rm import RMSettings
from train.score import ScoreSettings
from train.sft import SFTSettings

app = cli_support.make_app("train", "Fine-tune on curate's exports: SFT, reward models, DPO, RL against a reward model; score with a "
                              "reward model.")

Data = Annotated[Optional[Path], typer.Argument(
    help="Training records: any file curate reads (our records, Alpaca, ShareGPT, messages, TRL rows).",
    show_default=False, metavar="INPUT")]
DataAlias = Annotated[Optional[Path], typer.Option("--data", hidden=True, help="INPUT, by its older name.",
                                                   show_default=False)]
Output = Annotated[Path, typer.Option("--output", "-o", help="Directory for the trained model, its tokenizer "
                                      "and training_args.json.", show_default=False)]


def _data(input: Path | None, data: Path | None) -> Path:
    return cli_support.one_of(input, data, "INPUT", "--data", "the training records")


def _report(trainer: Any, output: Path, kind: str, keys: tuple[str, ...] = ("loss",)) -> None:
    """One line of how the logged values moved, and with --summary-json the same as data."""
    from curate.summary import Summary

    log = trainer.state.log_history
    summary = Summary(kind)
    summary.counts["steps"] = trainer.state.global_step
    summary.files["output"] = str(output.resolve())
    said = []
    for key in keys:
        values = [entry[key] for entry in log if entry.get(key) is not None]
        if values:
            said.append(f"{key} {values[0]:.4f} -> {values[-1]:.4f}")
            summary.facts |= {f"{key}_first": values[0], f"{key}_last": values[-1]}
    stderr.print(f"{'; '.join(said) or 'trained'} over {trainer.state.global_step} steps; saved to {output}",
                 soft_wrap=True)  # one line, whatever the terminal's width: logs are grepped
    cli_support.write_summary(summary)


@config_command(app, SFTSettings, "sft")
def sft(config: SFTSettings, output: Output, input: Data = None, data: DataAlias = None) -> None:
    """Supervised fine-tuning (TRL SFTTrainer): the loss falls on every assistant turn (--train-on
    last: the final answer only), never on system, user or template tokens; --packing packs
    examples best-fit-decreasing."""
    from train.sft import sft as run

    _report(run(_data(input, data), output, config), output, "sft")


@config_command(app, RMSettings, "rm")
def rm(config: RMSettings, output: Output, input: Data = None, data: DataAlias = None) -> None:
    """Reward model: pairwise chosen/rejected through TRL's RewardTrainer, or rankings of K >= 3
    responses through InstructGPT's K-wise loss (all pairs of a prompt from K forward passes)."""
    from train.rm import rm as run

    _report(run(_data(input, data), output, config), output, "rm")


@config_command(app, DPOSettings, "dpo")
def dpo(config: DPOSettings, output: Output, input: Data = None, data: DataAlias = None) -> None:
    """Direct preference optimisation (TRL DPOTrainer); the reference is the starting checkpoint."""
    from train.dpo import dpo as run

    _report(run(_data(input, data), output, config), output, "dpo")


@config_command(app, RLSettings, "rl")
def rl(config: RLSettings, output: Output, input: Data = None, data: DataAlias = None) -> None:
    """Reinforcement learning from a reward model, InstructGPT's third step: the policy (the SFT
    checkpoint) samples --num-generations answers per prompt, the reward models and rule rewards
    score them, and TRL's GRPO (or --method rloo) updates it with a KL pull to the SFT model;
    --ptx-data/--ptx-coef add the pre-training loss (PPO-ptx). INPUT: prompts, any record file."""
    from train.rl import rl as run

    _report(run(_data(input, data), output, config), output, "rl", ("reward", "kl", "ptx_loss"))


@config_command(app, ScoreSettings, "score")
def score(
    config: ScoreSettings,
    output: Annotated[Path, typer.Option("--output", "-o", help="Records with meta.reward added.",
                                         show_default=False)],
    input: Data = None,
    rejects: Annotated[Optional[Path], typer.Option("--rejects", help="Also write the records with nothing to "
                                                    "score (no output, no candidates), with meta.rejected.",
                                                    show_default=False)] = None,
    data: DataAlias = None,
) -> None:
    """Reward scores for each record's output (and each candidate in meta.responses), or for each
    response of a preference, written into meta.reward."""
    from train.score import score as run

    cli_support.show(run(_data(input, data), output, config, rejects))


@config_command(app, PreviewSettings, "preview")
def preview(config: PreviewSettings, input: Data = None, data: DataAlias = None) -> None:
    """Show records as train sft trains on them: context tokens dim, trained tokens bold."""
    from train.preview import preview as run

    run(_data(input, data), config)


def main(argv: list[str] | None = None) -> None:
    global _IMPORTED_AT
    started, _IMPORTED_AT = _IMPORTED_AT or time.perf_counter(), None  # later calls (tests) start at the call
    cli_support.run(app, "train", argv, started)


if __name__ == "__main__":
    main()
