"""Rating an answer on Humpback's 5-point scale: shared by `curate judge` (self-curation) and
`curate revise` (the teacher judges its own revision), so that neither imports the other.

With a server (`--structured`, the default), the model is asked for `{"reason": ..., "score":
1-5}` through `response_format` of type `json_schema`, which OpenAI and vLLM both enforce. A
server that rejects the parameter (a 400 or 422 naming it) is asked in text from then on, for
the rest of the run: the model reasons briefly and ends with `Score: N`. A reply with no
parseable score is asked again once (with another seed, so not from the cache); if it still has
none, the score is None, never a guess.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from curate.llm_config import LLMConfig
from curate.llm_types import RequestFailed
from curate.prompts import render
from curate.records import Example

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

_SCORE = re.compile(r"(?:score|rating|评分|分数|得分)\s*[:：=]?\s*\**\s*([1-5])(?:\s*(?:/|out of)\s*5)?\b",
                    re.IGNORECASE)


SCORE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "rating", "strict": True, "schema": {
        "type": "object", "additionalProperties": False, "required": ["reason", "score"],
        "properties": {"reason": {"type": "string"}, "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}}}},
}
_SCHEMA_WORDS = ("response_format", "json_schema", "guided", "structured", "schema")


class RatingConfig(LLMConfig):
    temperature: float = Field(0.0, ge=0, description="Sampling temperature (0: the same rating every time).")
    structured: bool = Field(True, description="Ask a server for JSON {reason, score} with response_format "
                             "json_schema; a server that rejects it is asked for 'Score: N' text instead (found "
                             "out once per run).")
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


def parse_structured(text: str) -> tuple[int | None, str]:
    """(score, reason) from a {"reason", "score"} reply; (None, "") when it is not one."""
    import json

    try:
        body = json.loads(text)
    except ValueError:
        return None, ""
    score = body.get("score") if isinstance(body, dict) else None
    if isinstance(score, str) and score.strip() in {"1", "2", "3", "4", "5"}:
        score = int(score)
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        return None, ""
    return score, str(body.get("reason") or "")


def rejects_schema(error: RequestFailed) -> bool:
    """Did the server refuse response_format itself (not the request for another reason)?"""
    refused = error.reason in ("http_400", "http_422", "batch_line_400", "batch_line_422")  # live, or a batch line
    return refused and any(word in error.detail.lower() for word in _SCHEMA_WORDS)


async def rate(record: Example, llm: LLM, config: RatingConfig) -> tuple[int | None, str]:
    """(score, reason or raw reply); score None after a second unparseable reply."""
    values = {"instruction": record.instruction, "input": record.input, "output": record.output}
    if config.structured and llm.accepts("response_format"):
        messages = [{"role": "user", "content": render("judge/score", config.prompts, config.lang, structured=True,
                                                       **values)}]
        sampling = config.sampling(response_format=json.dumps(SCORE_SCHEMA))
        try:
            reply = await llm.chat(messages, sampling)
        except RequestFailed as error:
            if not rejects_schema(error):
                raise
            llm.refuses("response_format")  # this server will not: text for the rest of the run
        else:
            score, reason = parse_structured(reply.text)
            if score is None:
                score = parse_score(reply.text)
                reason = reason_of(reply.text)
            if score is not None:
                return score, reason
    messages = [{"role": "user", "content": render("judge/score", config.prompts, config.lang, structured=False,
                                                   **values)}]
    reply = await llm.chat(messages, config.sampling())
    score = parse_score(reply.text)
    if score is None:  # once more, with another seed so that the cache does not repeat itself
        reply = await llm.chat(messages, config.sampling(seed=config.base_seed + 1, temperature=max(config.temperature, 0.7)))
        score = parse_score(reply.text)
    return score, reason_of(reply.text) if score is not None else reply.text
