"""InstructGPT from seeds: SFT, a reward model trained on rankings, then RL against it with ptx.

seeds -> evol (more and harder prompts) -> respond --n K (K candidates per prompt) -> judge
--candidates (a 1-5 rating of each) -> rank: the best candidate is SFT data, the whole ordering
K-wise reward-model data -> train sft -> train rm (InstructGPT's K-wise loss, starting from
the SFT model) -> train rl (GRPO with a KL pull to the SFT model, plus the ptx term).

The RL prompts are the evolved prompts. ptx wants pre-training text: pass your own corpus
with --ptx-data (curate export --format text makes one from any record file); without it the
SFT data, exported as text, stands in, which only keeps the policy close to its SFT answers.

Run as:  python -m recipes.instructgpt --seeds examples/seeds.json --base-model Qwen/Qwen2.5-0.5B-Instruct --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.filters.judge import JudgeConfig, judge
from curate.generate.evol_instruct import EvolConfig, evol_instruct
from curate.generate.respond import RespondConfig, respond
from curate.rank import RankConfig, rank
from recipes.common import llm_options, parser, run
from train.rl import RLSettings, rl
from train.rm import RMSettings, rm
from train.sft import SFTSettings, sft


def main(argv: list[str] | None = None) -> dict[str, Path]:
    cli = parser(__doc__)
    cli.add_argument("--seeds", type=Path, required=True, help="seed instructions")
    cli.add_argument("--base-model", required=True, help="the model SFT starts from (a directory or Hub id)")
    cli.add_argument("--rounds", type=int, default=2, help="evolution rounds")
    cli.add_argument("--k", type=int, default=4, help="candidates per prompt for the rankings")
    cli.add_argument("--ptx-data", type=Path, help="pre-training text for ptx (default: the SFT data as text)")
    cli.add_argument("--ptx-coef", type=float, default=0.1, help="weight of the ptx loss (InstructGPT's gamma)")
    cli.add_argument("--beta", type=float, default=0.05, help="weight of the KL to the SFT model")
    cli.add_argument("--num-generations", type=int, default=4, help="RL samples per prompt")
    cli.add_argument("--max-completion-length", type=int, default=256, help="longest RL sample in tokens")
    cli.add_argument("--steps", type=int, default=-1, help="stop each trainer after this many steps (-1: one epoch)")
    args = cli.parse_args(argv)
    w, llm = args.work, llm_options(args)

    evol_instruct(args.seeds, w / "evol.jsonl", EvolConfig(rounds=args.rounds, **llm), w / "evol_rejects.jsonl")
    respond(w / "evol.jsonl", w / "candidates.jsonl", RespondConfig(n=args.k, temperature=1.0, **llm),
            w / "respond_rejects.jsonl")
    # every record is kept (min score 1): rank decides what each one is good for
    judge(w / "candidates.jsonl", w / "judged.jsonl", JudgeConfig(candidates=True, min_score=1, **llm),
          w / "judge_rejects.jsonl")
    for kind in ("best", "ranking"):
        rank(w / "judged.jsonl", w / f"{kind}.jsonl", RankConfig(kind=kind, scores="judge"),
             w / f"rank_{kind}_rejects.jsonl")

    steps = {"max_steps": args.steps, "overwrite": True}  # the work folder is the recipe's: a re-run retrains
    sft(w / "best.jsonl", w / "sft", SFTSettings(model=args.base_model, **steps))
    rm(w / "ranking.jsonl", w / "rm", RMSettings(model=str(w / "sft"), **steps))
    ptx = args.ptx_data
    if ptx is None:
        ptx = w / "ptx.jsonl"
        export(w / "best.jsonl", ptx, ExportConfig(format="text"))
    batch = args.num_generations * max(1, 8 // args.num_generations)
    rl(w / "evol.jsonl", w / "rl", RLSettings(model=str(w / "sft"), reward_model=[str(w / "rm")], beta=args.beta,
                                              num_generations=args.num_generations, batch_size=batch,
                                              max_completion_length=args.max_completion_length, ptx_data=ptx,
                                              ptx_coef=args.ptx_coef, **steps))
    return {"sft_data": w / "best.jsonl", "rm_data": w / "ranking.jsonl", "sft": w / "sft", "rm": w / "rm",
            "rl": w / "rl"}


if __name__ == "__main__":
    run(main)
