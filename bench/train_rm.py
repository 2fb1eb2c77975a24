"""Reward-model training throughput: InstructGPT's K-wise loss against the same rankings
expanded into C(K,2) pairs for TRL's RewardTrainer.

Run as:  python bench/train_rm.py [--prompts 48]

A tiny random Llama on the CPU, K = 4 and K = 9, same prompts and responses for both; prints
prompts/s from the start of training to its end, and the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.formats import export_rows  # noqa: E402
from curate.sinks import write_rows, write_records  # noqa: E402
from curate.records import Preference  # noqa: E402
from tests.tiny import save_tiny_model  # noqa: E402
from train.rm import RMSettings, build_rm_trainer  # noqa: E402

WORDS = "apple river stone cloud tiger lemon paper glass maple ocean piano candle violin desert".split()


def rankings(prompts: int, k: int, rng: random.Random) -> list[Preference]:
    records = []
    for i in range(prompts):
        responses = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24))) for _ in range(k)]
        ranking = list(range(k))
        rng.shuffle(ranking)
        records.append(Preference(instruction=f"Describe item {i} in a few words.", responses=responses,
                                  ranking=ranking))
    return records


def prompts_per_second(data: Path, output: Path, model: Path, prompts: int, batch: int) -> float:
    settings = RMSettings(model=str(model), batch_size=batch, max_length=256, epochs=1)
    trainer, _ = build_rm_trainer(data, output, settings)
    start = time.perf_counter()
    trainer.train()
    return prompts / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=48)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rm-"))
    save_tiny_model(work / "model")
    rng = random.Random(0)
    for k in (4, 9):
        records = rankings(args.prompts, k, rng)
        write_records(work / f"ranked{k}.jsonl", records)
        write_rows(work / f"pairs{k}.jsonl", [row for r in records for row in export_rows(r, "preference")])
        ours = prompts_per_second(work / f"ranked{k}.jsonl", work / "out", work / "model", args.prompts, batch=4)
        # the same number of sequences per step: 4 prompts x K responses = 2 x (2K) pair members
        pairs = prompts_per_second(work / f"pairs{k}.jsonl", work / "out", work / "model", args.prompts, batch=2 * k)
        print(f"K={k}: K-wise loss {ours:7.1f} prompts/s   pairs through RewardTrainer {pairs:7.1f} prompts/s   "
              f"ratio {ours / pairs:.1f}x")


if __name__ == "__main__":
    main()
