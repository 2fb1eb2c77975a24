"""From complex to simple: a student answers, a teacher revises, the (revision, original) pairs
train the student with DPO.

Run as:  python -m recipes.teacher_revision --instructions prompts.jsonl --base-url http://localhost:8000/v1 --model student --teacher-base-url https://api.openai.com/v1 --teacher-model gpt-4o --policy models/student
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.generate.respond import RespondConfig, respond
from curate.generate.revise import ReviseConfig, revise
from recipes.common import llm_options, parser, run
from train.dpo import DPOSettings, dpo


def main(argv: list[str] | None = None) -> dict[str, Path]:
    cli = parser(__doc__)
    cli.add_argument("--instructions", type=Path, required=True, help="instructions for the student")
    cli.add_argument("--teacher-base-url", help="the teacher's server (default: the student's)")
    cli.add_argument("--teacher-model", help="the teacher's model (default: the student's)")
    cli.add_argument("--policy", required=True, help="the student's weights, which DPO starts from")
    cli.add_argument("--dpo-steps", type=int, default=-1, help="stop DPO after this many steps (-1: one epoch)")
    args = cli.parse_args(argv)
    w, llm = args.work, llm_options(args)
    respond(args.instructions, w / "student.jsonl", RespondConfig(**llm), w / "respond_rejects.jsonl")
    revise(w / "student.jsonl", w / "pairs.jsonl",
           ReviseConfig(teacher_base_url=args.teacher_base_url, teacher_model=args.teacher_model, **llm),
           w / "revise_rejects.jsonl")
    export(w / "pairs.jsonl", w / "dpo.jsonl", ExportConfig(format="trl"))
    dpo(w / "dpo.jsonl", w / "dpo_model", DPOSettings(model=args.policy, max_steps=args.dpo_steps, overwrite=True))
    return {"pairs": w / "pairs.jsonl", "dpo": w / "dpo_model"}


if __name__ == "__main__":
    run(main)
