"""Llama 3's rejection sampling: K answers per prompt, scored by a reward model; the best becomes
SFT data, best vs worst (with a minimum score gap) preference pairs, the full orderings K-wise
reward-model data; then DPO on the pairs.

Run as:  python -m recipes.rejection_sampling --prompts prompts.jsonl --reward-model models/rm --policy models/sft --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.generate.respond import RespondConfig, respond
from curate.rank import RankConfig, rank
from recipes.common import llm_options, parser, run
from train.dpo import DPOSettings, dpo
from train.score import ScoreSettings, score


def main(argv: list[str] | None = None) -> dict[str, Path]:
    cli = parser(__doc__)
    cli.add_argument("--prompts", type=Path, required=True, help="instructions to sample answers for")
    cli.add_argument("--reward-model", type=Path, required=True, help="a reward model directory (train rm)")
    cli.add_argument("--policy", required=True, help="the model DPO starts from (and compares against)")
    cli.add_argument("--k", type=int, default=4, help="answers per prompt")
    cli.add_argument("--min-gap", type=float, default=0.0, help="smallest best-worst score gap for a pair")
    cli.add_argument("--dpo-steps", type=int, default=-1, help="stop DPO after this many steps (-1: one epoch)")
    args = cli.parse_args(argv)
    w = args.work
    respond(args.prompts, w / "candidates.jsonl", RespondConfig(n=args.k, temperature=1.0, **llm_options(args)),
            w / "respond_rejects.jsonl")
    score(w / "candidates.jsonl", w / "scored.jsonl", ScoreSettings(model=str(args.reward_model)))
    outputs = {kind: w / f"{kind}.jsonl" for kind in ("best", "pairs", "ranking")}
    for kind, path in outputs.items():
        rank(w / "scored.jsonl", path, RankConfig(kind=kind, min_gap=args.min_gap), w / f"rank_{kind}_rejects.jsonl")
    dpo(outputs["pairs"], w / "dpo", DPOSettings(model=args.policy, max_steps=args.dpo_steps, overwrite=True))
    return {**outputs, "dpo": w / "dpo"}


if __name__ == "__main__":
    run(main)
