"""`train score`: reward-model scores written into meta.reward, for rejection sampling.

An example is scored on its output, and also on every candidate in meta.responses; a
preference on each of its responses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from curate.executors import ExecutorOptions
from curate.formats import prompt_messages
from curate.records import Example, Record
from curate.runner import Reject, each, run_map
from curate.summary import Summary
from train.rm import message_ids


class ScoreSettings(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), defer_build=True)

    model: str = Field(..., description="A reward model directory (from train rm).")
    max_length: int = Field(2048, ge=8, description="Longest sequence in tokens.")
    batch_size: int = Field(16, ge=1, description="Answers scored per forward pass.")
    workers: int = Field(1, ge=1, description="Processes (or Ray tasks) that score a large JSON Lines file in "
                         "parallel, each with its own copy of the model (output order is input order).")
    ray_gpus: float = Field(0, ge=0, description="With --executor ray: GPUs each scoring task asks for (1 puts one "
                            "model on each GPU of the cluster; 0 scores on CPUs).")

    @model_validator(mode="after")
    def _gpus_need_ray(self) -> ScoreSettings:
        if self.ray_gpus and self.executor != "ray":
            raise ValueError("--ray-gpus applies with --executor ray; add --executor ray, or leave it out")
        if self.ray_gpus > 1 and self.ray_gpus != int(self.ray_gpus):
            raise ValueError(f"--ray-gpus above 1 is a whole number of GPUs (Ray's rule), got {self.ray_gpus:g}")
        return self


def _answers(record: Record) -> list[str]:
    if isinstance(record, Example):
        return [record.output, *(record.meta.get("responses", {}).get("candidates") or [])]
    return record.responses or [record.chosen, record.rejected]


def load_reward_model(model_dir: str | Path) -> tuple[Any, Any]:
    """A reward model from train rm, on the GPU when there is one, and its tokenizer. A LoRA
    adapter (train rm --lora) is loaded onto its base model with the score head it trained."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if (Path(model_dir) / "adapter_config.json").exists():
        from peft import AutoPeftModelForSequenceClassification

        model = AutoPeftModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    # each process of a multi-GPU run (train rl under accelerate/torchrun) scores on its own GPU
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu"
    return model.eval().to(device), tokenizer


class Scorer:
    """Reward-model scores of (prompt messages, answer) pairs; the model loads on first use."""

    def __init__(self, model_dir: str | Path, max_length: int = 2048, batch_size: int = 16):
        self.model_dir, self.max_length, self.batch_size = str(model_dir), max_length, batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._made_in = os.getpid()

    def score_pairs(self, pairs: list[tuple[list[dict[str, str]], str]]) -> list[float]:
        import torch

        if self._model is None:
            if os.getpid() != self._made_in:
                # a worker process (or Ray task) of a parallel run: one thread each, as the workers
                # share the CPUs; and a forked worker's OpenMP pool is the parent's, whose threads
                # did not survive the fork: with more than one thread its first matmul waits forever
                torch.set_num_threads(1)
            self._model, self._tokenizer = load_reward_model(self.model_dir)
        sequences = [message_ids(self._tokenizer, prompt, answer, self.max_length) for prompt, answer in pairs]
        out: list[float] = []
        for start in range(0, len(sequences), self.batch_size):
            batch = self._tokenizer.pad({"input_ids": sequences[start : start + self.batch_size]}, return_tensors="pt")
            with torch.no_grad():
                logits = self._model(**batch.to(self._model.device)).logits.squeeze(-1)
            out += logits.float().reshape(-1).tolist()
        return out

    def scores(self, record: Record, answers: list[str]) -> list[float]:
        prompt = prompt_messages(record)
        return self.score_pairs([(prompt, answer) for answer in answers])

    def __call__(self, record: Record) -> Record | Reject:
        answers = _answers(record)
        if not any(answer.strip() for answer in answers):
            return Reject(record, "no_output")
        scores = self.scores(record, answers)
        reward: dict[str, Any] = {"model": self.model_dir}
        if isinstance(record, Example):
            reward["score"] = scores[0]
            if len(scores) > 1:
                reward["candidates"] = scores[1:]
        else:
            reward["responses"] = scores
        return record.model_copy(update={"meta": {**record.meta, "reward": reward}})


def score(data: str | Path, output: str | Path, config: ScoreSettings, rejects: str | Path | None = None,
          mapping: dict[str, str] | None = None) -> Summary:
    """meta.reward for every record with something to score; records without an output or
    candidates go to `rejects` (no_output). Memory: the model, and one record at a time (with
    --workers, a model in each worker, and 2 x workers chunks of the input). The scorer loads
    its model on first use, so each worker process or Ray task's process loads its own."""
    scorer = Scorer(config.model, config.max_length, config.batch_size)
    return run_map("score", data, output, each(scorer), rejects=rejects, mapping=mapping, step=scorer,
                   workers=config.workers, executor=config.executor, ray_address=config.ray_address,
                   gpus=config.ray_gpus)
