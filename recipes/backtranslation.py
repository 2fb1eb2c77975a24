"""Humpback: unlabeled documents -> instructions written for them -> self-curation (score 5
only, as in the paper's first iteration) -> Alpaca.

Run as:  python -m recipes.backtranslation --docs documents.jsonl --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.filters.judge import JudgeConfig, judge
from curate.generate.backtranslate import BacktranslateConfig, backtranslate
from recipes.common import llm_options, parser, run


def main(argv: list[str] | None = None) -> Path:
    cli = parser(__doc__)
    cli.add_argument("--docs", type=Path, required=True, help="documents, one per row")
    cli.add_argument("--field", default="text", help="the field holding each document")
    cli.add_argument("--max-output-chars", type=int, default=4000, help="trim documents to this")
    cli.add_argument("--min-score", type=int, default=5, help="keep pairs the model scores at least this")
    args = cli.parse_args(argv)
    w, llm = args.work, llm_options(args)
    backtranslate(args.docs, w / "backtranslated.jsonl",
                  BacktranslateConfig(field=args.field, max_output_chars=args.max_output_chars, **llm),
                  w / "backtranslate_rejects.jsonl")
    judge(w / "backtranslated.jsonl", w / "curated.jsonl", JudgeConfig(min_score=args.min_score, **llm),
          w / "judge_rejects.jsonl")
    export(w / "curated.jsonl", w / "alpaca.json", ExportConfig(format="alpaca", dataset_info=True))
    return w / "alpaca.json"


if __name__ == "__main__":
    run(main)
