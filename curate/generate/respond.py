"""`curate respond`: answer instructions; with --n K, keep K candidates for preference building.

Memory: the ids of the input (read once up front to check every row and count them) and
the keys of finished work in the journals, never whole records; at most --concurrency
records are in flight (curate/runner.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from curate.formats import prompt_messages
from curate.runner import own_client, read_examples, run_per_record
from curate.llm_types import Messages, Reply, Sampling
from curate.llm_config import LLMConfig
from curate.records import Example
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM


class RespondConfig(LLMConfig):
    n: int = Field(1, ge=1, description="Responses per prompt (K); all K are kept in meta.responses.candidates, "
                   "the first is the output.")
    skip_answered: bool = Field(False, description="Pass records that already have an output through unchanged.")
    keep_truncated: bool = Field(False, description="Keep answers cut off by --max-tokens (dropped by default).")


async def sample_n(llm: LLM, messages: Messages, sampling: Sampling, n: int) -> Reply:
    """K answers: one request with n=K, topped up one at a time from servers that ignore `n`."""
    reply = await llm.chat(messages, sampling.but(n=n))
    extra = 0
    while len(reply.texts) < n:
        extra += 1  # each top-up gets its own seed, so its own answer and its own cache entry
        seed = (sampling.seed or 0) + extra
        more = await llm.chat(messages, sampling.but(n=1, seed=seed))
        reply = Reply(reply.texts + more.texts, reply.finish_reasons + more.finish_reasons,
                      reply.prompt_tokens + more.prompt_tokens, reply.completion_tokens + more.completion_tokens)
    return reply


async def answer(record: Example, llm: LLM, config: RespondConfig) -> tuple[Example, str | None]:
    """The record with its output (and candidates); or the reason it is dropped."""
    reply = await sample_n(llm, prompt_messages(record), config.sampling(), config.n)
    texts, reasons = reply.texts[: config.n], reply.finish_reasons[: config.n]
    info = {"model": llm.backend.model, "finish_reason": reasons[0]}
    if config.n > 1:
        info |= {"candidates": texts, "finish_reasons": reasons}
    updated = record.model_copy(update={"output": texts[0], "meta": {**record.meta, "responses": info}})
    if not texts[0].strip():
        return updated, "empty_response"
    if reasons[0] == "length" and not config.keep_truncated:
        return updated, "truncated"
    return updated, None


def respond(input: str | Path, output: str | Path, config: RespondConfig | None = None,
            rejects: str | Path | None = None, llm: LLM | None = None,
            mapping: dict[str, str] | None = None) -> Summary:
    """Answer every example of `input`; resumable (see curate.journal).

    Memory: the records in flight, and the keys of finished ones (the input streams)."""
    config = config or RespondConfig()
    if config.executor == "ray":
        from curate.ray_stages import run_sharded

        return run_sharded("respond", respond, input, output, config, rejects, llm, mapping=mapping)
    records = read_examples(input, mapping, "respond")
    skip = (lambda record: bool(record.output)) if config.skip_answered else None
    with own_client(llm, config) as llm:
        return run_per_record("respond", output, rejects, llm, records, lambda record: answer(record, llm, config),
                              input=input, config=config, passthrough=skip)
