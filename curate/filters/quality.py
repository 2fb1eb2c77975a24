"""`curate filter`: heuristic quality filters, each dropping with its own reason.

A filter answers `None` (keep) or a reason; the first reason found is the one recorded.
Lengths are in words, with each CJK character counted as one (curate.text).
"""

from __future__ import annotations

from collections.abc import Callable
import re
from pathlib import Path

from pydantic import ConfigDict, Field, model_validator

from curate.executors import ExecutorOptions
from curate.text import has_blacklisted_word, word_count, words_of
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
_REFUSAL = re.compile("|".join(re.escape(phrase) for phrase in REFUSALS))


class FilterConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    min_instruction_words: int = Field(3, ge=0, description="Drop instructions shorter than this.")
    max_instruction_words: int = Field(2000, ge=1, description="Drop instructions longer than this.")
    min_output_words: int = Field(1, ge=0, description="Drop outputs shorter than this (0 keeps empty outputs).")
    max_output_words: int = Field(8000, ge=1, description="Drop outputs longer than this.")
    refusal_words: int = Field(60, ge=0, description="A refusal phrase ('As an AI language model', "
                               "'I'm sorry, but', 抱歉，我无法...) drops an output shorter than this.")
    # Off by default: the list is for tasks a model wrote (self-instruct applies it already); on
    # real prompts it drops what a text model can do: 25% of T0, 4,179 of them for "Movie plot:"
    blacklist: bool = Field(False, description="Drop instructions with Self-Instruct's blacklisted words "
                            "(image, file, map, draw, plot, go to, video, audio, ...): for generated tasks; on "
                            "real prompts it drops a quarter of T0's ('Movie plot:', 'music', 'video').")
    max_symbol_ratio: float = Field(0.4, ge=0, le=1, description="Drop text whose share of characters that are "
                                    "neither letters, digits, spaces nor punctuation exceeds this.")
    max_repeated_ngrams: float = Field(0.5, ge=0, le=1, description="Drop outputs in which more than this share "
                                       "of word 3-grams are repeats (degenerate loops).")
    workers: int = Field(2, ge=1, description="Processes that read and check a large JSON Lines file in "
                         "parallel (output order is input order).")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> FilterConfig:
        for kind in ("instruction", "output"):
            low, high = getattr(self, f"min_{kind}_words"), getattr(self, f"max_{kind}_words")
            if low > high:  # every record would go, and the run would exit 0
                raise ValueError(f"--min-{kind}-words {low} is above --max-{kind}-words {high}: no record could pass")
        return self


def _answer(record: Record) -> str:
    return record.output if isinstance(record, Example) else record.ranked_responses()[0]


# a character that is neither a letter or digit (underscore counts as a symbol), nor a space,
# nor common punctuation; symbols are rare, so counting matches is fast
_SYMBOL = re.compile(r"[^\w\s.,;:!?'\"()\-，。；：！？、（）“”‘’]|_")
# the same test for ASCII text, in C: delete every byte that is not a symbol, count what is left
_NOT_SYMBOL = bytes(b for b in range(128) if chr(b).isalnum() or chr(b).isspace() or chr(b) in ".,;:!?'\"()-")


# Shorter texts are not judged by their symbols: a label made of them ("★★★★★", "🎉") is an
# answer, and on T0 the check dropped every 3- to 5-star answer of a rating task, keeping the 1s
# and 2s (163 records, all of them short)
MIN_CHARS_FOR_SYMBOLS = 32


def symbol_ratio(text: str) -> float:
    if len(text) < MIN_CHARS_FOR_SYMBOLS:
        return 0.0
    if text.isascii():
        return len(text.encode().translate(None, _NOT_SYMBOL)) / len(text)
    return len(_SYMBOL.findall(text)) / len(text)


def repeated_ngrams(text: str, n: int = 3, words: list[str] | None = None) -> float:
    """The share of word n-grams that repeat an earlier one (total minus distinct, over total);
    `words`, when given, are the lower-cased words of `text`."""
    words = words if words is not None else words_of(text.lower())
    grams = len(words) - n + 1
    if grams < 10:  # too short to call repetitive
        return 0.0
    return (grams - len(set(zip(*(words[i:] for i in range(n)))))) / grams


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
        """Checks in a fixed order, each computed only if every earlier one passed."""
        c = self.config
        instruction, answer = record.user_message(), _answer(record)
        if not instruction.strip():
            return "empty_instruction"
        words = word_count(instruction)
        if words < c.min_instruction_words:
            return "short_instruction"
        if words > c.max_instruction_words:
            return "long_instruction"
        if c.min_output_words > 0 and not answer.strip():
            return "empty_output"
        lowered = answer.lower()
        words_in_answer = words_of(lowered)  # case does not move word boundaries
        # an answer of symbols alone ("★★★★", "→ ←") has no words, but it is no empty answer
        answer_words = len(words_in_answer) or (len(answer.split()) if _SYMBOL.search(answer) else 0)
        if answer_words < c.min_output_words:
            return "short_output"
        if answer_words > c.max_output_words:
            return "long_output"
        if self._copied(answer, instruction, answer_words):
            return "output_in_instruction"
        if answer_words < c.refusal_words and _REFUSAL.search(lowered):
            return "refusal"
        if c.blacklist and has_blacklisted_word(record.instruction):
            return "blacklisted_word"
        if max(symbol_ratio(instruction), symbol_ratio(answer)) > c.max_symbol_ratio:
            return "non_text"
        if repeated_ngrams(answer, words=words_in_answer) > c.max_repeated_ngrams:
            return "repetitive"
        return None


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
    config = config or FilterConfig()
    step = filter_step(config)
    return run_map("filter", input, output, each(step), rejects=rejects, mapping=mapping, step=step,
                   workers=config.workers, executor=config.executor, ray_address=config.ray_address)
