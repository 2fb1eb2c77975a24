"""`curate judge`: self-curation as in Humpback (Li et al. 2023).

The model rates each (instruction, input, output) on a 5-point scale, reasoning briefly and
ending with `Score: N`. Records at or above --min-score are kept; the score and the reason
go to meta.judge. An answer with no parseable score is asked again once (with another seed,
so not from the cache); if it still has none, the record is a failure with the raw text,
never a guessed score.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from curate.generate.runner import Failure, Outcome, read_examples, run_per_record
from curate.llm import LLM
from curate.llm_config import LLMConfig, build_llm
from curate.prompts import render
from curate.records import Example
from curate.summary import Summary

_SCORE = re.compile(r"(?:score|rating|评分|分数|得分)\s*[:：=]?\s*\**\s*([1-5])(?:\s*(?:/|out of)\s*5)?\b",
                    re.IGNORECASE)


class JudgeConfig(LLMConfig):
    temperature: float = Field(0.0, ge=0, description="Sampling temperature (0: the same rating every time).")
    max_tokens: int = Field(512, ge=1, description="Most tokens per rating.")
    min_score: int = Field(4, ge=1, le=5, description="Keep records rated at least this (1-5).")
    lang: str = Field("en", description="Prompt language: en, or zh for the Chinese prompt.")
    prompts: Path | None = Field(None, description="Directory of your own templates, searched before ours.")


def parse_score(text: str) -> int | None:
    """The last `Score: N` in the reply (1-5); a bare digit on the last line also counts."""
    matches = _SCORE.findall(text)
    if matches:
        return int(matches[-1])
    last = text.strip().splitlines()[-1].strip(" *.#") if text.strip() else ""
    return int(last) if last in {"1", "2", "3", "4", "5"} else None


def reason_of(text: str) -> str:
    """The reasoning, without the score line."""
    lines = [line for line in text.strip().splitlines() if not _SCORE.search(line)]
    return "\n".join(lines).strip()


async def rate(record: Example, llm: LLM, config: JudgeConfig) -> tuple[int | None, str]:
    """(score, raw reply); score None after a second unparseable reply."""
    prompt = render("judge/score", config.prompts, config.lang, instruction=record.instruction,
                    input=record.input, output=record.output)
    messages = [{"role": "user", "content": prompt}]
    reply = await llm.chat(messages, config.sampling())
    score = parse_score(reply.text)
    if score is None:  # once more, with another seed so that the cache does not repeat itself
        reply = await llm.chat(messages, config.sampling(seed=config.base_seed + 1, temperature=max(config.temperature, 0.7)))
        score = parse_score(reply.text)
    return score, reply.text


async def judged(record: Example, llm: LLM, config: JudgeConfig) -> Outcome:
    """The record with meta.judge, kept or dropped by its score; a Failure with the raw reply."""
    score, raw = await rate(record, llm, config)
    if score is None:
        return Failure(record.model_copy(update={"meta": {**record.meta, "judge": {"raw": raw}}}), "unparseable_score")
    info = {"score": score, "reason": reason_of(raw), "model": llm.backend.model}
    rated = record.model_copy(update={"meta": {**record.meta, "judge": info}})
    return rated, None if score >= config.min_score else f"score_below_{config.min_score}"


def judge(input: str | Path, output: str | Path, config: JudgeConfig | None = None,
          rejects: str | Path | None = None, llm: LLM | None = None,
          mapping: dict[str, str] | None = None) -> Summary:
    """Rate every example; keep those scoring >= min_score. Resumable like the generators.

    Memory: the input records, and the keys of finished ones."""
    config = config or JudgeConfig()
    records = read_examples(input, mapping, "judge")
    llm = llm or build_llm(config)
    return run_per_record("judge", output, rejects, llm, records, lambda record: judged(record, llm, config),
                          input=input, config=config)
