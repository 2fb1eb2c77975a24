"""InstructGPT's data practice on real prompts: scrub PII, dedup, answer, cap 200 prompts per
user, split by user so no user is in two splits, and export each split.

Run as:  python -m recipes.user_logs --log prompts.jsonl --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.filters.dedup import DedupConfig, dedup
from curate.generate.respond import RespondConfig, respond
from curate.pii import PiiConfig, scrub
from curate.split import SplitConfig, split
from recipes.common import llm_options, parser, run


def main(argv: list[str] | None = None) -> dict[str, Path]:
    cli = parser(__doc__)
    cli.add_argument("--log", type=Path, required=True, help="prompts with a user_id (any format curate reads)")
    cli.add_argument("--max-per-user", type=int, default=200, help="InstructGPT's cap")
    cli.add_argument("--map", default=None, help="column mapping for the log, e.g. text=instruction,uid=user_id")
    args = cli.parse_args(argv)
    w = args.work
    from curate.formats import parse_mapping

    scrub(args.log, w / "scrubbed.jsonl", PiiConfig(mode="numbered", workers=1), w / "pii_report.jsonl",
          parse_mapping(args.map))
    dedup(w / "scrubbed.jsonl", w / "deduped.jsonl", DedupConfig(), w / "dedup_rejects.jsonl")
    respond(w / "deduped.jsonl", w / "answered.jsonl", RespondConfig(**llm_options(args)), w / "respond_rejects.jsonl")
    result = split(w / "answered.jsonl", w / "splits", SplitConfig(max_per_user=args.max_per_user),
                   w / "split_rejects.jsonl")
    exported = {}
    for name, path in result.files.items():
        if path.stat().st_size > 3:  # a split with no users stays unexported
            exported[name] = w / "export" / f"{name}.json"
            export(path, exported[name],
                   ExportConfig(format="messages", dataset_info=True, dataset_name=f"user_logs_{name}"))
    return exported


if __name__ == "__main__":
    run(main)
