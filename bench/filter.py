"""`curate filter` end to end (read, validate, check, write), one process against several.

Run as:  python bench/filter.py [--records 200000] [--workers 2] [--repeat 2]

Two inputs, each --records long: the real T0 prompts of ../shared/data/t0_prompts.jsonl
(about 1.2 KB a record, repeated with a copy number appended to the instruction), and
Alpaca-like records of about 540 characters (15-word instruction, 70-word output, one in
twenty with a one-word output). Each runs as its own `curate filter` process, --repeat times;
the best time counts. The baseline is `curate convert` on the same file in the same run:
reading and writing records with no checks, in one process.

It also times reading and validating alone (`curate.io.read_records`, in this process, on the
Alpaca-like file) against `json.loads` of the same lines: the floor any reader has. Bound:
50,000 records/s.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
T0 = ROOT.parent / "shared" / "data" / "t0_prompts.jsonl"


def t0_records(path: Path, count: int) -> None:
    rows = [json.loads(line) for line in T0.open(encoding="utf-8")]
    with path.open("w", encoding="utf-8") as stream:
        for number in range(count):
            row = rows[number % len(rows)]
            stream.write(json.dumps({"instruction": f"{row['instruction']} (copy {number // len(rows)})",
                                     "output": row["output"]}, ensure_ascii=False) + "\n")


def alpaca_like(path: Path, count: int) -> None:
    rng = random.Random(1)
    words = "the of and to in is for on that with as by this be are from or an at it not have which you".split()
    words += [f"w{i}" for i in range(3000)]
    with path.open("w", encoding="utf-8") as stream:
        for i in range(count):
            output = " ".join(rng.choice(words) for _ in range(70)) if i % 20 else "ok"
            stream.write(json.dumps({"instruction": " ".join(rng.choice(words) for _ in range(15)),
                                     "output": output}) + "\n")


def best_rate(argv: list[str], records: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return records / best


def read_rates(path: Path, repeat: int) -> tuple[float, float]:
    """Records/s of read_records and of bare json.loads over the same file; best of `repeat`."""
    from curate.io import read_records

    def best(count_rows) -> float:
        fastest = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            count = count_rows()
            fastest = min(fastest, time.perf_counter() - start)
        return count / fastest

    def loads() -> int:
        with path.open("rb") as stream:
            return sum(1 for line in stream if json.loads(line))

    return best(lambda: sum(1 for _ in read_records(path))), best(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-filter-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    inputs = {"alpaca-like, ~540 chars": alpaca_like}
    if T0.exists():
        inputs = {"T0 prompts, ~1.2 KB": t0_records, **inputs}
    curate = [sys.executable, "-m", "curate.cli"]
    print(f"{'input':26s} {'convert (baseline)':>20s} {'filter, 1 process':>18s} "
          f"{f'filter, {args.workers} processes':>22s}   (records/s, whole command)")
    for name, make in inputs.items():
        src = args.work / f"{make.__name__}.jsonl"
        make(src, args.records)
        out = str(args.work / "out.jsonl")
        convert = best_rate([*curate, "convert", str(src), "-o", out], args.records, args.repeat)
        one = best_rate([*curate, "filter", str(src), "-o", out, "--workers", "1"], args.records, args.repeat)
        many = best_rate([*curate, "filter", str(src), "-o", out, "--workers", str(args.workers)], args.records,
                         args.repeat)
        print(f"{name:26s} {convert:20,.0f} {one:18,.0f} {many:22,.0f}   "
              f"{many / convert:.2f}x convert, {many / one:.2f}x one process")
    records, loads = read_rates(args.work / "alpaca_like.jsonl", args.repeat)
    verdict = "ok" if records >= 50_000 else "UNDER"
    print(f"reading and validating (alpaca-like): {records:,.0f} records/s, bound 50,000  {verdict}; "
          f"json.loads alone {loads:,.0f}/s ({records / loads:.2f}x)")


if __name__ == "__main__":
    main()
