"""train rl on the CPU with the tiny policy: how far the reward rises in 20 steps, and the KL it costs.

Run as:  python bench/train_rl.py

The reward model is the tests' hand-built one (tests/tiny.py save_token_reward_model): it scores
a conversation by its share of the token " sleep", which the random policy emits about once in
600 tokens. The settings are tests/test_rl.py's: 16 prompts, 16 samples of 16 tokens each, a
learning rate of 1e-2, 20 steps. Prints, for GRPO, RLOO and GRPO with ptx, the mean reward of
the first and the last five steps, the last KL, the ptx loss where there is one, and the time.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.sinks import write_records  # noqa: E402
from curate.records import Example  # noqa: E402
from tests.tiny import build_tokenizer, save_tiny_model, save_token_reward_model  # noqa: E402
from train.rl import RLSettings, rl  # noqa: E402

RUNS = (("grpo beta 0.05", {"method": "grpo", "beta": 0.05}),
        ("rloo beta 0.005", {"method": "rloo", "beta": 0.005}),
        ("grpo beta 0.05 + ptx 0.5", {"method": "grpo", "beta": 0.05, "ptx_coef": 0.5}))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-rl-"))
    save_tiny_model(work / "policy")
    save_token_reward_model(work / "rm", build_tokenizer(), " sleep")
    write_records(work / "prompts.jsonl", [Example(instruction=f"Give three tips {i}",
                                                   system="Be brief." if i % 2 else "") for i in range(16)])
    (work / "text.jsonl").write_text("".join(json.dumps({"text": f"The weather is nice in the capital, number {i}."})
                                             + "\n" for i in range(8)))
    base = {"model": str(work / "policy"), "reward_model": [str(work / "rm")], "batch_size": 16, "num_generations": 16,
            "max_completion_length": 16, "max_length": 128, "learning_rate": 1e-2, "max_steps": 20}
    for name, settings in RUNS:
        if "ptx_coef" in settings:
            settings = {**settings, "ptx_data": work / "text.jsonl"}
        started = time.perf_counter()
        trainer = rl(work / "prompts.jsonl", work / name.replace(" ", "_"), RLSettings(**base, **settings))
        log = [entry for entry in trainer.state.log_history if "reward" in entry]
        rewards = [entry["rewards/rm_rm/mean"] for entry in log]
        ptx = [entry["ptx_loss"] for entry in log if entry.get("ptx_loss") is not None]
        said = f"; ptx {ptx[0]:.2f} -> {ptx[-1]:.2f}" if ptx else ""
        print(f"{name}: reward mean of steps 1-5 {mean(rewards[:5]):.3f} -> steps 16-20 {mean(rewards[-5:]):.3f}; "
              f"kl last {log[-1]['kl']:.3f}{said}; {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
