"""`train score`: reward-model scores written into meta.reward, for rejection sampling.

An example is scored on its output, and also on every candidate in meta.responses; a
preference on each of its responses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions, local_only
from curate.records import Example, Record
from curate.summary import Summary
from curate.runner import Reject, each, run_map
from train.rm import conversation_ids


class ScoreSettings(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), defer_build=True)

    model: str = Field(..., description="A reward model directory (from train rm).")
    max_length: int = Field(2048, ge=8, description="Longest sequence in tokens.")
    batch_size: int = Field(16, ge=1, description="Answers scored per forward pass.")


def _answers(record: Record) -> list[str]:
    if isinstance(record, Example):
        return [record.output, *(record.meta.get("responses", {}).get("candidates") or [])]
    return record.responses or [record.chosen, record.rejected]


class Scorer:
    def __init__(self, model_dir: str | Path, max_length: int = 2048, batch_size: int = 16):
        self.model_dir, self.max_length, self.batch_size = str(model_dir), max_length, batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if (Path(self.model_dir) / "adapter_config.json").exists():  # trained with --lora: base + adapter
            from peft import AutoPeftModelForSequenceClassification

            model = AutoPeftModelForSequenceClassification.from_pretrained(self.model_dir, num_labels=1)
            model.config.pad_token_id = self._tokenizer.pad_token_id
        else:
            model = AutoModelForSequenceClassification.from_pretrained(self.model_dir)
        self._model = model.eval()
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model.to(device)

    def scores(self, record: Record, answers: list[str]) -> list[float]:
        if self._model is None:
            self._load()
        sequences = [conversation_ids(self._tokenizer, record, answer, self.max_length) for answer in answers]
        out = []
        for start in range(0, len(sequences), self.batch_size):
            batch = self._tokenizer.pad({"input_ids": sequences[start : start + self.batch_size]}, return_tensors="pt")
            import torch

            with torch.no_grad():
                logits = self._model(**batch.to(self._model.device)).logits.squeeze(-1)
            out += logits.float().tolist()
        return out

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
    candidates go to `rejects` (no_output). Memory: the model, and one record at a time."""
    local_only(config, "score")
    scorer = Scorer(config.model, config.max_length, config.batch_size)
    return run_map("score", data, output, each(scorer), rejects=rejects, mapping=mapping)
