"""`curate rank`: scored candidates -> SFT data, preference pairs or K-wise rankings.

Input records carry candidates in meta.responses.candidates (curate respond --n K) and their
scores: a reward model's in meta.reward.candidates (train score), or a judge's 1-5 ratings in
meta.judge.candidates (curate judge --candidates, with --scores judge). As in Llama 3's
rejection sampling, the best candidate becomes SFT data, the best against the worst a
preference pair (when the scores differ by at least --min-gap), and the whole ordering a
ranking record. A prompt whose candidates all scored the same has nothing to prefer and gives
no pair or ranking (all_tied). Ranking records keep the scores in meta.rank.scores, so train rm
gives tied candidates the same rank instead of an order the scores never said.

Memory: one record at a time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions
from curate.records import Example, Preference, Record
from curate.summary import Summary
from curate.runner import Reject, each, run_map


class RankConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    kind: Literal["best", "pairs", "ranking"] = Field("best", description="best: the top candidate as the "
                                                      "output (SFT); pairs: best vs worst; ranking: all candidates "
                                                      "ordered by score (for train rm).")
    min_gap: float = Field(0.0, ge=0, description="pairs: drop prompts whose best and worst scores differ by less.")
    workers: int = Field(1, ge=1, description="Processes (or Ray tasks) that read, check and rank a large JSON "
                         "Lines input at once; the output is the same.")
    scores: Literal["reward", "judge"] = Field("reward", description="Whose scores rank the candidates: reward "
                                               "(meta.reward.candidates, from train score) or judge "
                                               "(meta.judge.candidates, from curate judge --candidates).")


def scored_candidates(record: Example, scores_from: str = "reward") -> list[tuple[float, str]] | str:
    """(score, text) best first (ties in candidate order), or the reason the record cannot be ranked."""
    candidates = (record.meta.get("responses") or {}).get("candidates") or []
    scores = (record.meta.get(scores_from) or {}).get("candidates") or []
    if len(candidates) < 2:
        return "too_few_candidates"
    # a missing or non-finite score (NaN and the infinities are written as null) ranks nothing
    if len(scores) != len(candidates) or not all(_finite(score) for score in scores):
        return "unscored"
    return sorted(zip(scores, candidates), key=lambda pair: -pair[0])


def _finite(score: Any) -> bool:
    return isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score)


def rank_record(record: Record, config: RankConfig) -> tuple[Record, str | None]:
    if not isinstance(record, Example):
        return record, "not_an_example"
    ranked = scored_candidates(record, config.scores)
    if isinstance(ranked, str):
        return record, ranked
    scores = [score for score, _ in ranked]
    tied = scores[0] == scores[-1]  # nothing to prefer: every candidate scored the same
    prompt: dict[str, Any] = record.model_dump(include={"instruction", "input", "system", "history", "user_id"})
    meta = {**record.meta, "rank": {"kind": config.kind, "scores": scores}, "parent": record.id}
    if config.kind == "best":
        return Example(**prompt, output=ranked[0][1], meta=meta), None
    if config.kind == "pairs":
        if scores[0] - scores[-1] < config.min_gap:
            return record, "small_gap"
        if tied:
            return record, "all_tied"
        return Preference(**prompt, chosen=ranked[0][1], rejected=ranked[-1][1], margin=scores[0] - scores[-1],
                          meta=meta), None
    if tied:
        return record, "all_tied"
    return Preference(**prompt, responses=[text for _, text in ranked], ranking=list(range(len(ranked))),
                      meta=meta), None


def rank(input: str | Path, output: str | Path, config: RankConfig | None = None,
         rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Best answers, pairs or rankings from scored candidates. Memory: one record at a time."""
    config = config or RankConfig()

    def step(record: Record) -> Record | Reject:
        result, reason = rank_record(record, config)
        return Reject(record, reason) if reason else result

    return run_map("rank", input, output, each(step), rejects=rejects, mapping=mapping, step=step,
                   workers=config.workers, executor=config.executor, ray_address=config.ray_address)
