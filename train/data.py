"""Records -> token ids with a loss mask: the loss falls only on response tokens.

The prompt is rendered with the tokenizer's chat template and a generation prompt; the
completion is whatever the full conversation adds after it. This is the split TRL's
SFTTrainer uses for conversational prompt/completion data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.errors import DataError
from curate.formats import export_rows
from curate.records import Example, Record


@dataclass
class Tokenized:
    input_ids: list[int]
    completion_mask: list[int]  # 1 where the loss is computed


def to_prompt_completion(record: Record) -> dict[str, Any]:
    """Conversational prompt/completion for SFT; a preference trains on its best response."""
    if not isinstance(record, Example):
        best = record.ranked_responses()[0]
        record = Example(**record.model_dump(include={"instruction", "input", "system", "history"}), output=best)
    return export_rows(record, "trl")[0]


def tokenize_prompt_completion(tokenizer: Any, prompt: list[dict], completion: list[dict]) -> Tokenized:
    """Token ids of the whole conversation and a mask over the completion's tokens."""
    if not getattr(tokenizer, "chat_template", None):
        raise DataError("the tokenizer has no chat template; pass --chat-template for a base model")
    prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise DataError("the chat template renders the prompt differently once a reply follows; "
                        "the response tokens cannot be located")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(full_text[len(prompt_text):], add_special_tokens=False)["input_ids"]
    return Tokenized(prompt_ids + completion_ids, [0] * len(prompt_ids) + [1] * len(completion_ids))
