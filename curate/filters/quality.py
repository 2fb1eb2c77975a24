"""`curate filter`: heuristic quality filters, each dropping with its own reason.

A filter answers `None` (keep) or a reason; the first reason found is the one recorded.
Lengths are in words, with each CJK character counted as one (curate.text).
"""

from __future__ import annotations

from collections.abc import Callable
import re
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from curate.text import has_blacklisted_word, word_count
from curate.records import Example, Record
from curate.summary import Summary
from curate.runner import Reject, each, run_map

REFUSALS = (
    "as an ai language model", "as an ai assistant", "as a language model", "i'm sorry, but", "i am sorry, but",
    "i'm sorry, i can", "i cannot fulfill", "i can't fulfill", "i can't assist", "i cannot assist",
    "i cannot help with", "i can't help with", "i'm not able to", "i am unable to",
    "作为一个人工智能", "作为一名人工智能", "作为人工智能", "作为ai", "作为一个ai", "作为 ai", "作为一个语言模型",
    "抱歉，我无法", "抱歉，我不能", "对不起，我无法", "对不起，我不能", "很抱歉，我", "我无法提供", "我不能提供",
)
_WORD = re.compile(r"[^\W\d_]+|\d+")


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_instruction_words: int = Field(3, ge=0, description="Drop instructions shorter than this.")
    max_instruction_words: int = Field(2000, ge=1, description="Drop instructions longer than this.")
    min_output_words: int = Field(1, ge=0, description="Drop outputs shorter than this (0 keeps empty outputs).")
    max_output_words: int = Field(8000, ge=1, description="Drop outputs longer than this.")
    refusal_words: int = Field(60, ge=0, description="A refusal phrase ('As an AI language model', "
                               "'I'm sorry, but', 抱歉，我无法...) drops an output shorter than this.")
    blacklist: bool = Field(True, description="Drop instructions with Self-Instruct's blacklisted words "
                            "(image, file, map, draw, plot, go to, video, audio, ...).")
    max_symbol_ratio: float = Field(0.4, ge=0, le=1, description="Drop text whose share of characters that are "
                                    "neither letters, digits, spaces nor punctuation exceeds this.")
    max_repeated_ngrams: float = Field(0.5, ge=0, le=1, description="Drop outputs in which more than this share "
                                       "of word 3-grams are repeats (degenerate loops).")


def _answer(record: Record) -> str:
    return record.output if isinstance(record, Example) else record.ranked_responses()[0]


def symbol_ratio(text: str) -> float:
    if not text:
        return 0.0
    symbols = sum(1 for c in text if not (c.isalnum() or c.isspace() or c in ".,;:!?'\"()-，。；：！？、（）“”‘’"))
    return symbols / len(text)


def repeated_ngrams(text: str, n: int = 3) -> float:
    words = _WORD.findall(text.lower())
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if len(grams) < 10:  # too short to call repetitive
        return 0.0
    counts = Counter(grams)
    return sum(c - 1 for c in counts.values()) / len(grams)


class QualityFilter:
    """`filter(record)` -> None to keep, or the reason to drop."""

    def __init__(self, config: FilterConfig | None = None):
        self.config = config or FilterConfig()

    @staticmethod
    def _copied(answer: str, instruction: str, answer_words: int) -> bool:
        """The output repeats the instruction, or a passage of it; a one- or two-word output
        inside the instruction is usually a class label the instruction names, not a copy."""
        answer, instruction = answer.strip().lower(), instruction.strip().lower()
        return bool(answer) and (answer == instruction or (answer_words >= 3 and answer in instruction))

    def __call__(self, record: Record) -> str | None:
        c = self.config
        instruction, answer = record.user_message(), _answer(record)
        words, answer_words = word_count(instruction), word_count(answer)
        lowered = answer.lower()
        checks = (
            (not instruction.strip(), "empty_instruction"),
            (words < c.min_instruction_words, "short_instruction"),
            (words > c.max_instruction_words, "long_instruction"),
            (c.min_output_words > 0 and not answer.strip(), "empty_output"),
            (answer_words < c.min_output_words, "short_output"),
            (answer_words > c.max_output_words, "long_output"),
            (self._copied(answer, instruction, answer_words), "output_in_instruction"),
            (answer_words < c.refusal_words and any(p in lowered for p in REFUSALS), "refusal"),
            (c.blacklist and has_blacklisted_word(record.instruction), "blacklisted_word"),
            (max(symbol_ratio(instruction), symbol_ratio(answer)) > c.max_symbol_ratio, "non_text"),
            (repeated_ngrams(answer) > c.max_repeated_ngrams, "repetitive"),
        )
        return next((reason for failed, reason in checks if failed), None)


def filter_step(config: FilterConfig | None = None) -> Callable[[Record], Record | Reject]:
    """The map step: the record, or a Reject with the first heuristic it fails."""
    check = QualityFilter(config)

    def step(record: Record) -> Record | Reject:
        reason = check(record)
        return record if reason is None else Reject(record, reason)

    return step


def filter_records(input: str | Path, output: str | Path, config: FilterConfig | None = None,
                   rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Keep the records that pass every heuristic; the rest go to `rejects` with their reason.

    Memory: one record at a time."""
    return run_map("filter", input, output, each(filter_step(config)), rejects=rejects, mapping=mapping)
