"""Padding in SFT batches with and without packing, on Alpaca-like lengths.

Run as:  python bench/train_sft.py [--records 2000]

Builds records whose instruction and output lengths follow a long-tailed (log-normal)
distribution like Alpaca's, tokenises them through `train sft`'s own trainer set-up, and
counts, over every batch the trainer's data loader yields, the share of token slots that are
padding, without packing and with best-fit-decreasing packing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.sinks import write_records  # noqa: E402
from curate.records import Example  # noqa: E402
from tests.tiny import _WORDS, save_tiny_model  # noqa: E402
from train.sft import SFTSettings, build_sft_trainer  # noqa: E402


def alpaca_like(count: int, rng: random.Random) -> list[Example]:
    def words(median: float) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(max(1, int(rng.lognormvariate(0, 0.8) * median))))

    return [Example(instruction=words(12), input=words(8) if rng.random() < 0.4 else "", output=words(45))
            for _ in range(count)]


def padding_share(data: Path, model: Path, packing: bool) -> tuple[float, int]:
    settings = SFTSettings(model=str(model), batch_size=8, max_length=1024, packing=packing, max_steps=1)
    trainer, tokenizer = build_sft_trainer(data, Path(tempfile.mkdtemp()), settings)
    pad = total = 0
    for batch in trainer.get_train_dataloader():
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        padding = (mask == 0).sum() if mask is not None else (ids == tokenizer.pad_token_id).sum()
        pad += int(padding)
        total += ids.numel()
    return pad / total, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sft-"))
    save_tiny_model(work / "model")
    write_records(work / "sft.jsonl", alpaca_like(args.records, random.Random(0)))
    for packing in (False, True):
        share, slots = padding_share(work / "sft.jsonl", work / "model", packing)
        print(f"packing={'on ' if packing else 'off'}: {share:6.1%} of {slots:,} token slots are padding")


if __name__ == "__main__":
    main()
