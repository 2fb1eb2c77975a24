"""Self-Instruct: seed tasks -> new tasks and their instances -> heuristic filters -> Alpaca.

Run as:  python -m recipes.self_instruct --seeds seed_tasks.jsonl --num-instructions 1000 --base-url http://localhost:8000/v1
"""

from __future__ import annotations

from pathlib import Path

from curate.export import ExportConfig, export
from curate.filters.quality import FilterConfig, filter_records
from curate.generate.self_instruct import SelfInstructConfig, self_instruct
from recipes.common import llm_options, parser, run


def main(argv: list[str] | None = None) -> Path:
    cli = parser(__doc__)
    cli.add_argument("--seeds", type=Path, required=True, help="seed tasks (strings, records or seed_tasks.jsonl)")
    cli.add_argument("--num-instructions", type=int, default=100, help="new tasks to grow the pool by")
    args = cli.parse_args(argv)
    w = args.work
    config = SelfInstructConfig(num_instructions=args.num_instructions, **llm_options(args))
    self_instruct(args.seeds, w / "instances.jsonl", config, w / "self_instruct_rejects.jsonl")
    filter_records(w / "instances.jsonl", w / "filtered.jsonl", FilterConfig(min_output_words=1),
                   w / "filter_rejects.jsonl")
    export(w / "filtered.jsonl", w / "alpaca.json", ExportConfig(format="alpaca", dataset_info=True))
    return w / "alpaca.json"


if __name__ == "__main__":
    run(main)
