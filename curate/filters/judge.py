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
from typing import TYPE_CHECKING, Any

from pydantic import Field

from curate.rating import RatingConfig, parse_score, rate
from curate.records import Example
from curate.runner import Failure, Outcome, own_client, read_examples, run_per_record
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

__all__ = ["JudgeConfig", "judge", "judged", "parse_score"]


class JudgeConfig(RatingConfig):
    min_score: int = Field(4, ge=1, le=5, description="Keep records rated at least this (1-5); with --candidates, "
                           "records whose best candidate is rated at least this.")
    candidates: bool = Field(False, description="Rate every candidate in meta.responses.candidates (curate respond "
                             "--n K) into meta.judge.candidates, for curate rank --scores judge.")


async def judged(record: Example, llm: LLM, config: JudgeConfig) -> Outcome:
    """The record with meta.judge, kept or dropped by its score; a Failure with the raw reply."""
    if config.candidates:
        return await _candidates_judged(record, llm, config)
    score, said = await rate(record, llm, config)
    if score is None:
        return Failure(record.model_copy(update={"meta": {**record.meta, "judge": {"raw": said}}}), "unparseable_score")
    info = {"score": score, "reason": said, "model": llm.backend.model}
    rated = record.model_copy(update={"meta": {**record.meta, "judge": info}})
    return rated, None if score >= config.min_score else f"score_below_{config.min_score}"


async def _candidates_judged(record: Example, llm: LLM, config: JudgeConfig) -> Outcome:
    """Each candidate rated as the record's answer: meta.judge.candidates (scores) and .reasons."""
    import asyncio  # here: `curate filter --help` loads this module, and no event loop

    texts = (record.meta.get("responses") or {}).get("candidates") or []
    if not texts:
        return record, "no_candidates"
    ratings = await asyncio.gather(*(rate(record.model_copy(update={"output": text}), llm, config) for text in texts))
    info: dict[str, Any] = {"candidates": [score for score, _ in ratings], "reasons": [said for _, said in ratings],
                            "model": llm.backend.model}
    rated = record.model_copy(update={"meta": {**record.meta, "judge": info}})
    if any(score is None for score, _ in ratings):
        return Failure(rated, "unparseable_score")
    return rated, None if max(info["candidates"]) >= config.min_score else f"score_below_{config.min_score}"


def judge(input: str | Path, output: str | Path, config: JudgeConfig | None = None,
          rejects: str | Path | None = None, llm: LLM | None = None,
          mapping: dict[str, str] | None = None) -> Summary:
    """Rate every example; keep those scoring >= min_score. Resumable like the generators.

    Memory: the records in flight, and the keys of finished ones (the input streams)."""
    config = config or JudgeConfig()
    if config.executor == "ray":
        from curate.ray_stages import run_sharded

        return run_sharded("judge", judge, input, output, config, rejects, llm, mapping=mapping)
    records = read_examples(input, mapping, "judge")
    with own_client(llm, config) as llm:
        return run_per_record("judge", output, rejects, llm, records, lambda record: judged(record, llm, config),
                              input=input, config=config)
