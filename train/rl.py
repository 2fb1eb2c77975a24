"""`train rl`: the third step of InstructGPT's recipe, reinforcement learning against our reward model.

The policy starts from the SFT checkpoint and samples --num-generations completions of each
prompt; the reward sources (train/rewards.py) score them; TRL's GRPO (the default) or RLOO
turns the scores into advantages within each prompt's group and updates the policy. The
SFT checkpoint is also the reference: --beta weighs the per-token KL to it (GRPO adds it to
the loss, RLOO subtracts it from the reward, as InstructGPT does). TRL 1.16 has no PPO
trainer with a value model, so neither do we.

PPO-ptx: with --ptx-data and --ptx-coef GAMMA, every optimisation step also adds GAMMA times
the language-model loss of a batch of pre-training text (train/losses.py lm_loss), which keeps
the policy's skills on ordinary text while RL moves it (Ouyang et al. 2022, eq. 2).

Rewards (each source and their weighted sum), KL and the ptx loss are logged at every step and
saved in training_args.json.

Memory: the prompts (rendered, as a datasets.Dataset), the pre-training text tokenized, the
policy, its reference (unless --beta 0 or LoRA, where the adapter-free model is the
reference) and every reward model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from curate.errors import DataError
from curate.formats import prompt_messages
from curate.io import iter_rows, read_records
from curate.records import Record
from train.common import (
    TrainConfig,
    load_tokenizer,
    peft_config,
    train_and_save,
    trl_arguments,
)


class RLSettings(TrainConfig):
    model: str = Field(..., description="The policy to start from: the SFT checkpoint (also the KL reference).")
    learning_rate: float = Field(1e-6, gt=0, description="Peak learning rate (RL wants it small).")
    batch_size: int = Field(8, ge=1, description="Completions per device per step (prompts x --num-generations).")
    method: Literal["grpo", "rloo"] = Field("grpo", description="grpo: TRL's GRPOTrainer (group-normalised "
                                            "advantages); rloo: RLOOTrainer (leave-one-out baseline).")
    reward_model: list[str] = Field(default_factory=list, description="A reward model directory from train rm "
                                    "(full or LoRA), optionally DIR:WEIGHT; repeat the flag to sum several.",
                                    json_schema_extra={"cli_repeat": True, "cli_metavar": "DIR[:WEIGHT]"})
    reward: list[str] = Field(default_factory=list, description="A rule reward, NAME or NAME:WEIGHT: format (1 when "
                              "the answer stays in its own turn) or length (a penalty past --length-target tokens); "
                              "repeatable.", json_schema_extra={"cli_repeat": True, "cli_metavar": "NAME[:WEIGHT]"})
    length_target: int = Field(256, ge=1, description="Completion tokens the length reward allows before it "
                               "penalises.")
    num_generations: int = Field(4, ge=2, description="Completions sampled per prompt (the group the advantages "
                                 "compare).")
    max_completion_length: int = Field(256, ge=1, description="Longest completion in tokens.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the completions.")
    beta: float = Field(0.05, ge=0, description="Weight of the KL to the SFT reference (0: no reference is loaded).")
    ptx_data: Path | None = Field(None, description="Pre-training text (JSON Lines with a 'text' field, as curate "
                                  "export --format text writes) for the ptx term.")
    ptx_coef: float = Field(0.0, ge=0, description="Weight of the ptx language-model loss (InstructGPT's gamma); "
                            "needs --ptx-data.")
    ptx_batch_size: int = Field(4, ge=1, description="Pre-training sequences per ptx batch.")

    @field_validator("reward_model", "reward", mode="before")
    @classmethod
    def _one_is_a_list_of_one(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # `reward_model: models/rm` in a --config file

    @model_validator(mode="after")
    def _check(self) -> RLSettings:
        processes = int(os.environ.get("WORLD_SIZE", "1"))  # under accelerate/torchrun, every GPU's batch counts
        if (self.batch_size * self.gradient_accumulation * processes) % self.num_generations:
            raise ValueError(f"--batch-size x --gradient-accumulation x processes ({self.batch_size} x "
                             f"{self.gradient_accumulation} x {processes}) must be a multiple of --num-generations "
                             f"({self.num_generations}): each step takes whole groups of completions")
        if self.ptx_coef > 0 and self.ptx_data is None:
            raise ValueError("--ptx-coef needs --ptx-data (pre-training text: curate export --format text)")
        if self.ptx_data is not None and not self.ptx_coef:
            raise ValueError("--ptx-data needs --ptx-coef above 0 (InstructGPT's gamma), or the text is not used")
        if self.ptx_data is not None and not self.ptx_data.is_file():
            raise ValueError(f"--ptx-data {self.ptx_data}: no such file")
        if self.max_completion_length >= self.max_length:
            raise ValueError(f"--max-completion-length ({self.max_completion_length}) must be below --max-length "
                             f"({self.max_length}): the prompt needs room too")
        return self


def prompt_row(tokenizer: Any, record: Record, budget: int, where: str = "") -> dict[str, Any]:
    """The record's conversation up to its answer, as chat messages of at most `budget` tokens:
    the oldest history exchanges go first (the system message stays)."""
    messages = prompt_messages(record)
    system = messages[:1] if messages[0]["role"] == "system" else []
    turns = messages[len(system):]
    while True:
        rendered = tokenizer.apply_chat_template([*system, *turns], tokenize=False, add_generation_prompt=True)
        size = len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
        if size <= budget:
            return {"prompt": [*system, *turns]}
        if len(turns) <= 1:
            raise DataError(f"{where or 'record'} (id {record.id}): its prompt is {size} tokens, more than --max-length minus "
                            f"--max-completion-length ({budget}); raise --max-length or shorten the prompt")
        turns = turns[2:]


def prompt_rows(path: str | Path, tokenizer: Any, budget: int) -> list[dict[str, Any]]:
    records = list(read_records(path))
    if not records:
        raise DataError(f"{path}: no prompts to train on")
    return [prompt_row(tokenizer, record, budget, f"{path}: record {number}")
            for number, record in enumerate(records, 1)]


def ptx_sequences(path: str | Path, tokenizer: Any, max_length: int) -> list[Any]:
    """Each text's token ids (end-of-text token added), cut into pieces of at most max_length,
    as int32 arrays (4 bytes a token, not a Python int's 28 and more)."""
    import numpy as np

    pieces = []
    for where, row in iter_rows(path):
        text = row.get("text")
        if not isinstance(text, str):
            raise DataError(f"{where}: field 'text' is missing or not a string; --ptx-data takes pre-training "
                            "text, as curate export --format text writes it")
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
        pieces += [np.asarray(ids[start : start + max_length], dtype=np.int32) for start in
                   range(0, len(ids), max_length) if len(ids[start : start + max_length]) > 1]  # one predicts nothing
    if not pieces:
        raise DataError(f"{path}: no pre-training text for --ptx-data")
    return pieces


def ptx_batches(sequences: list[Any], batch_size: int, pad_id: int, seed: int) -> Iterator[dict[str, Any]]:
    """Padded batches of the sequences, reshuffled (seeded) on each pass, without end. Each
    process (GPU) of a distributed run draws its own order."""
    import torch

    generator = torch.Generator().manual_seed(seed + int(os.environ.get("RANK", "0")))
    while True:
        order = torch.randperm(len(sequences), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            chosen = [sequences[i] for i in order[start : start + batch_size]]
            length = max(map(len, chosen))
            ids = torch.full((len(chosen), length), pad_id)
            mask = torch.zeros((len(chosen), length), dtype=torch.long)
            for row, sequence in enumerate(chosen):
                ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
                mask[row, : len(sequence)] = 1
            yield {"input_ids": ids, "attention_mask": mask}


def _trainer_class(method: str) -> type:
    """TRL's online trainer with the ptx term added to each step's loss."""
    from trl import GRPOTrainer, RLOOTrainer

    from train.losses import lm_loss

    base = GRPOTrainer if method == "grpo" else RLOOTrainer

    class PtxTrainer(base):  # type: ignore[valid-type, misc]
        ptx_coef: float = 0.0
        ptx: Iterator[dict[str, Any]] | None = None

        def compute_loss(self, model: Any, inputs: Any, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.ptx is None or not self.ptx_coef:
                return loss
            batch = {key: value.to(self.accelerator.device) for key, value in next(self.ptx).items()}
            ptx = lm_loss(model(**batch).logits, batch["input_ids"], batch["attention_mask"])
            self._metrics["train"]["ptx_loss"].append(ptx.item())
            # GRPO's loss arrives already divided by the accumulation steps, RLOO's is divided later
            scale = self.current_gradient_accumulation_steps if self.loss_is_scaled_for_ga else 1
            return loss + self.ptx_coef * ptx / scale

    PtxTrainer.__name__ = f"Ptx{base.__name__}"
    return PtxTrainer


def build_rl_trainer(data: str | Path, output: str | Path, config: RLSettings) -> tuple[Any, Any]:
    from datasets import Dataset
    from trl import GRPOConfig, RLOOConfig

    from train.rewards import reward_functions

    tokenizer = load_tokenizer(config)
    rows = Dataset.from_list(prompt_rows(data, tokenizer, config.max_length - config.max_completion_length))
    functions, weights = reward_functions(config.reward_model, config.reward, config.max_length, config.length_target)
    ptx = None
    if config.ptx_data is not None:  # read before any model loads: a bad file fails in seconds
        ptx = ptx_batches(ptx_sequences(config.ptx_data, tokenizer, config.max_length), config.ptx_batch_size,
                          tokenizer.pad_token_id, config.seed)
    settings = GRPOConfig if config.method == "grpo" else RLOOConfig
    args = settings(**trl_arguments(config, Path(output)), num_generations=config.num_generations,
                    max_completion_length=config.max_completion_length, temperature=config.temperature,
                    beta=config.beta, reward_weights=weights)
    trainer = _trainer_class(config.method)(model=config.model, reward_funcs=functions, args=args,
                                            train_dataset=rows, processing_class=tokenizer,
                                            peft_config=peft_config(config, "CAUSAL_LM"))
    trainer.ptx, trainer.ptx_coef = ptx, config.ptx_coef
    return trainer, tokenizer


def rl(data: str | Path, output: str | Path, config: RLSettings) -> Any:
    return train_and_save(build_rl_trainer, data, output, config, "rl")
