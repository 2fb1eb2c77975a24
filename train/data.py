"""Records -> SFT rows: token ids, and a mask of the tokens that carry loss.

This is the only place SFT data is tokenized: `train sft` hands these rows to TRL's SFTTrainer
(which turns `assistant_masks` into its labels, truncates and packs), and `train preview`
shows the same rows, so what the preview shows cannot drift from what trains.

The conversation is rendered with the tokenizer's chat template and cut at the boundaries of
its assistant turns: each turn runs from where the template's generation prompt ends to where
the turn's own rendering ends (its end-of-turn token included, so the model learns to stop).
Each piece is tokenized on its own, as TRL does for prompt/completion rows, so an answer's
tokens are the ones the model produces after a generation prompt.

`train_on`: "all" (every assistant turn, as LLaMA-Factory and Vicuna train multi-turn data)
or "last" (only the final answer; the history's answers are context).
"""

from __future__ import annotations

from typing import Any, Literal

from curate.errors import DataError
from curate.formats import prompt_messages
from curate.records import Example, Record

TrainOn = Literal["all", "last"]


def conversation(record: Record) -> list[dict[str, str]]:
    """The record as chat messages ending in its answer; a preference ends in its best response."""
    answer = record.output if isinstance(record, Example) else record.ranked_responses()[0]
    return [*prompt_messages(record), {"role": "assistant", "content": answer}]


def sft_row(tokenizer: Any, messages: list[dict[str, str]], train_on: TrainOn = "all") -> dict[str, list[int]]:
    """{"input_ids", "assistant_masks"} of one conversation; the mask is 1 on trained tokens."""
    if not getattr(tokenizer, "chat_template", None):
        raise DataError("the tokenizer has no chat template; pass --chat-template for a base model")
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    turns = [k for k, message in enumerate(messages) if message["role"] == "assistant"]
    if train_on == "last":  # only the final answer is located: earlier ones may render as the template likes
        turns = turns[-1:]
    trained = set(turns)
    cuts, spans = [0], []
    for k in turns:
        start = tokenizer.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True)
        end = tokenizer.apply_chat_template(messages[: k + 1], tokenize=False)
        if not (full.startswith(end) and end.startswith(start) and len(start) >= cuts[-1]):
            raise DataError(f"the chat template renders assistant turn {k} differently once more messages follow "
                            "(some templates rewrite earlier turns), so its tokens cannot be located; "
                            "use --train-on last or a template that renders turns as they are")
        cuts += [len(start), len(end)]
        spans.append(k in trained)
    cuts.append(len(full))
    input_ids: list[int] = []
    mask: list[int] = []
    for piece, (begin, finish) in enumerate(zip(cuts, cuts[1:])):
        ids = tokenizer(full[begin:finish], add_special_tokens=False)["input_ids"] if finish > begin else []
        carries_loss = piece % 2 == 1 and spans[piece // 2]  # odd pieces are assistant turns
        input_ids += ids
        mask += [int(carries_loss)] * len(ids)
    return {"input_ids": input_ids, "assistant_masks": mask}


def sft_rows(records: list[Record], tokenizer: Any, train_on: TrainOn = "all") -> list[dict[str, list[int]]]:
    return [sft_row(tokenizer, conversation(record), train_on) for record in records]
