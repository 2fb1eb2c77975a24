"""Chinese person names on written prompts: the set the rules were tuned on, and a held-out one.

Run as:  python bench/pii_names_zh.py [--show]

tests/data/zh_prompts_labelled.jsonl (240 messages) is what tests/test_pii_names.py checks and
what the rules of curate/pii_names_zh.py were tuned against. tests/data/zh_prompts_heldout.jsonl
(240 more, 100 with names) was written later by a helper who never saw the detector, asked for
the same kinds of messages and, on purpose, for many hard negatives (毛巾, 石家庄, 康师傅...). It is
for measuring, not for tuning: a rule fitted to it would make its figures as optimistic as the
first set's. Printed for each: the share of labelled names found whole, PERSON spans that touch
no labelled name, and name-free messages that would be changed. --show lists every miss and
stray, with its message.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETS = {"tuned on": ROOT / "tests" / "data" / "zh_prompts_labelled.jsonl",
        "held out": ROOT / "tests" / "data" / "zh_prompts_heldout.jsonl"}


def evaluate(path: Path, show: bool) -> str:
    from curate.pii import find_pii
    from tests.pii_corpus import name_scores

    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    scores = name_scores(rows, lambda text: [(span.start, span.end) for span in find_pii(text)
                                             if span.type == "PERSON"])
    if show:
        for missed, found, text in scores.misses:
            print(f"  missed {missed} found {found}: {text!r}")
    return (f"{len(rows)} messages: names found whole {scores.whole}/{scores.total} = "
            f"{scores.whole / scores.total:.3f}; stray spans {scores.stray}; name-free messages changed "
            f"{scores.changed}/{scores.free}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="list every miss and stray span")
    args = parser.parse_args()
    for label, path in SETS.items():
        print(f"{label:9s} {path.name}")
        print(f"          {evaluate(path, args.show)}")


if __name__ == "__main__":
    main()
