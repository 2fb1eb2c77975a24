"""`train rm`: a reward model, a one-output sequence-classification head on a causal LM.

Pairwise data (chosen/rejected) goes through TRL's RewardTrainer. Rankings of K >= 3
responses go through InstructGPT's K-wise loss (train/losses.py): all C(K,2) pairs of a
prompt in one batch element, from K forward passes instead of 2 x C(K,2).

Memory: every pair or ranking, tokenized, and the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from curate.formats import prompt_messages
from curate.records import Preference, Record
if TYPE_CHECKING:  # torch loads when a model trains, not when `train --help` starts
    import torch

from train.common import TrainConfig, load_tokenizer, peft_config, read_training_records, train_and_save, trl_arguments


class RMSettings(TrainConfig):
    learning_rate: float = Field(1e-5, gt=0, description="Peak learning rate.")


def conversation_ids(tokenizer: Any, record: Record, response: str, max_length: int) -> list[int]:
    """Token ids of a record's prompt and one response: see message_ids."""
    return message_ids(tokenizer, prompt_messages(record), response, max_length)


def message_ids(tokenizer: Any, prompt: list[dict[str, str]], response: str, max_length: int) -> list[int]:
    """Token ids of a prompt's messages and one response, through the chat template, at most
    max_length. Training (train rm), scoring (train score) and RL rewards (train rl) all read
    conversations this way, so a reward model scores what it was trained on.

    The score head reads the last token, so the response's end is never cut. A conversation
    that is too long loses its oldest history turns first (the system message stays), then the
    start of what is left of the prompt, and only when the response alone is too long, the
    response's start."""
    system = prompt[:1] if prompt[0]["role"] == "system" else []
    turns = prompt[len(system):]
    while True:
        messages = [*system, *turns]
        head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": response}], tokenize=False)
        prompt_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(full[len(head):] if full.startswith(head) else full,
                                 add_special_tokens=False)["input_ids"]
        if not full.startswith(head):
            prompt_ids = []  # a template that renders the prompt differently once an answer follows
        if len(prompt_ids) + len(response_ids) <= max_length or len(turns) <= 1:
            break
        turns = turns[2:]  # the oldest exchange, a user turn and its answer
    room = max(max_length - len(response_ids), 0)
    return (prompt_ids[-room:] if room else []) + response_ids[-max_length:]


def ranking_rows(records: list[Preference], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """One row per prompt: the ids of each of its K responses, and each response's rank (0 = best;
    responses that curate rank scored the same share one)."""
    rows = []
    for record in records:
        responses = record.responses or [record.chosen, record.rejected]
        ranking = record.ranking or [0, 1]
        scores = (record.meta.get("rank") or {}).get("scores")  # curate rank's, best first
        if not (isinstance(scores, list) and len(scores) == len(ranking)):
            scores = None
        ranks = [0] * len(responses)
        for place, index in enumerate(ranking):
            # tied scores share the place of the first of them: no pair is made between them
            ranks[index] = scores.index(scores[place]) if scores else place
        rows.append({"responses": [conversation_ids(tokenizer, record, r, max_length) for r in responses],
                     "ranks": ranks})
    return rows


def pair_row(record: Preference, tokenizer: Any, max_length: int) -> dict[str, Any]:
    """RewardTrainer's tokenized row: chosen_ids, rejected_ids and the margin when there is one."""
    chosen, rejected = record.ranked_responses()
    row: dict[str, Any] = {"chosen_ids": conversation_ids(tokenizer, record, chosen, max_length),
                           "rejected_ids": conversation_ids(tokenizer, record, rejected, max_length)}
    if record.margin is not None:
        row["margin"] = record.margin
    return row


class RankingCollator:
    """Pads a batch of prompts' K responses into one [sum K, L] batch, with [B, K_max] ranks and mask."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        import torch

        sequences = [ids for row in rows for ids in row["responses"]]
        length = max(map(len, sequences))
        input_ids = torch.full((len(sequences), length), self.pad_token_id)
        attention = torch.zeros((len(sequences), length), dtype=torch.long)
        for i, ids in enumerate(sequences):  # right padding: the classifier reads the last real token
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
        most = max(len(row["ranks"]) for row in rows)
        ranks = torch.full((len(rows), most), most)
        mask = torch.zeros((len(rows), most), dtype=torch.bool)
        for b, row in enumerate(rows):
            ranks[b, : len(row["ranks"])] = torch.tensor(row["ranks"])
            mask[b, : len(row["ranks"])] = True
        return {"input_ids": input_ids, "attention_mask": attention, "ranks": ranks, "response_mask": mask}


def _ranking_trainer_class() -> type:
    import torch
    from transformers import Trainer

    from train.losses import ranking_loss

    class RankingRewardTrainer(Trainer):
        """Trainer whose loss is the K-wise ranking loss over each prompt's responses."""

        def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            mask = inputs["response_mask"]
            scores = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits.squeeze(-1)
            rewards = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device)
            rewards[mask] = scores  # rows were flattened prompt by prompt, response by response
            loss = ranking_loss(rewards, inputs["ranks"], mask)
            return (loss, {"rewards": rewards}) if return_outputs else loss

    return RankingRewardTrainer


def build_rm_trainer(data: str | Path, output: str | Path, config: RMSettings) -> tuple[Any, Any]:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, TrainingArguments
    from trl import RewardConfig, RewardTrainer

    records = read_training_records(data, Preference, "export preferences with curate export --format ranking")
    tokenizer = load_tokenizer(config)
    model = AutoModelForSequenceClassification.from_pretrained(config.model, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    lora = peft_config(config, "SEQ_CLS")
    if all(len(r.ranked_responses()) == 2 for r in records):
        # tokenized here, so that a long pair is cut from the left (TRL would drop it silently)
        rows = Dataset.from_list([pair_row(record, tokenizer, config.max_length) for record in records])
        args = RewardConfig(**trl_arguments(config, Path(output)), max_length=config.max_length)
        return RewardTrainer(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                             peft_config=lora), tokenizer
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)
    rows = Dataset.from_list(ranking_rows(records, tokenizer, config.max_length))
    args = TrainingArguments(**trl_arguments(config, Path(output)), remove_unused_columns=False)
    trainer = _ranking_trainer_class()(model=model, args=args, train_dataset=rows,
                                       data_collator=RankingCollator(tokenizer.pad_token_id))
    return trainer, tokenizer


def rm(data: str | Path, output: str | Path, config: RMSettings) -> Any:
    return train_and_save(build_rm_trainer, data, output, config, "rm")
