"""Rating an answer on Humpback's 5-point scale: shared by `curate judge` (self-curation) and
`curate revise` (the teacher judges its own revision), so that neither imports the other.

The model reasons briefly and ends with `Score: N`. An answer with no parseable score is asked
again once (with another seed, so not from the cache); if it still has none, the score is None,
never a guess.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from curate.llm_config import LLMConfig
from curate.prompts import render
from curate.records import Example

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

_SCORE = re.compile(r"(?:score|rating|评分|分数|得分)\s*[:：=]?\s*\**\s*([1-5])(?:\s*(?:/|out of)\s*5)?\b",
                    re.IGNORECASE)


class RatingConfig(LLMConfig):
    temperature: float = Field(0.0, ge=0, description="Sampling temperature (0: the same rating every time).")
    max_tokens: int = Field(512, ge=1, description="Most tokens per rating.")
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


async def rate(record: Example, llm: LLM, config: RatingConfig) -> tuple[int | None, str]:
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
