"""`curate judge`: self-curation as in Humpback (Li et al. 2023).

The model rates each (instruction, input, output) on a 5-point scale, reasoning briefly and
ending with `Score: N`. Records at or above --min-score are kept; the score and the reason
go to meta.judge. An answer with no parseable score is asked again once (with another seed,
so not from the cache); if it still has none, the record is a failure with the raw text,
never a guessed score.

Memory: the ids of the input (read once up front to check every row and count them) and
the keys of finished work in the journals, never whole records; at most --concurrency
records are in flight (curate/runner.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from curate.rating import RatingConfig, parse_score, rate
from curate.records import Example
from curate.runner import Failure, Outcome, own_client, read_examples, run_per_record
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

__all__ = ["JudgeConfig", "judge", "judged", "parse_score"]


class JudgeConfig(RatingConfig):
    min_score: int = Field(4, ge=1, le=5, description="Keep records rated at least this (1-5).")


async def judged(record: Example, llm: LLM, config: JudgeConfig) -> Outcome:
    """The record with meta.judge, kept or dropped by its score; a Failure with the raw reply."""
    score, said = await rate(record, llm, config)
    if score is None:
        return Failure(record.model_copy(update={"meta": {**record.meta, "judge": {"raw": said}}}), "unparseable_score")
    info = {"score": score, "reason": said, "model": llm.backend.model}
    rated = record.model_copy(update={"meta": {**record.meta, "judge": info}})
    return rated, None if score >= config.min_score else f"score_below_{config.min_score}"


def judge(input: str | Path, output: str | Path, config: JudgeConfig | None = None,
          rejects: str | Path | None = None, llm: LLM | None = None,
          mapping: dict[str, str] | None = None) -> Summary:
    """Rate every example; keep those scoring >= min_score. Resumable like the generators.

    Memory: the records in flight, and the keys of finished ones (the input streams)."""
    config = config or JudgeConfig()
    records = read_examples(input, mapping, "judge")
    with own_client(llm, config) as llm:
        return run_per_record("judge", output, rejects, llm, records, lambda record: judged(record, llm, config),
                              input=input, config=config)
