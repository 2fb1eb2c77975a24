"""WizardLM: seeds -> Evol-Instruct (4 rounds) -> answers -> dedup -> self-curation -> Alpaca.

Run as:  python -m recipes.wizardlm_evol --seeds examples/seeds.json --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.filters.dedup import DedupConfig, dedup
from curate.filters.judge import JudgeConfig, judge
from curate.generate.evol_instruct import EvolConfig, evol_instruct
from curate.generate.respond import RespondConfig, respond
from recipes.common import llm_options, parser, run


def main(argv: list[str] | None = None) -> Path:
    cli = parser(__doc__)
    cli.add_argument("--seeds", type=Path, required=True, help="seed instructions")
    cli.add_argument("--rounds", type=int, default=4, help="evolution rounds")
    cli.add_argument("--min-score", type=int, default=4, help="judge threshold (1-5)")
    args = cli.parse_args(argv)
    w, llm = args.work, llm_options(args)
    evol_instruct(args.seeds, w / "evol.jsonl", EvolConfig(rounds=args.rounds, **llm), w / "evol_rejects.jsonl")
    respond(w / "evol.jsonl", w / "answered.jsonl", RespondConfig(**llm), w / "respond_rejects.jsonl")
    dedup(w / "answered.jsonl", w / "deduped.jsonl", DedupConfig(), w / "dedup_rejects.jsonl")
    judge(w / "deduped.jsonl", w / "judged.jsonl", JudgeConfig(min_score=args.min_score, **llm),
          w / "judge_rejects.jsonl")
    export(w / "judged.jsonl", w / "alpaca.json", ExportConfig(format="alpaca", dataset_info=True))
    return w / "alpaca.json"


if __name__ == "__main__":
    run(main)
