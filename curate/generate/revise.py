"""`curate revise`: a teacher model improves each answer, and the pair becomes a preference.

"From complex to simple": a student answered; a (usually stronger) teacher rewrites the answer
to be more correct, complete and faithful to every constraint. The result is a Preference with
chosen = revision and rejected = original, unless the judge (the teacher, on the Humpback
scale) scores the revision no higher; then it is dropped with that reason.

Memory: the ids of the input (read once up front to check every row and count them) and
the keys of finished work in the journals, never whole records; at most --concurrency
records are in flight (curate/runner.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr

from curate.rating import RatingConfig, rate
from curate.runner import Outcome, own_client, read_examples, run_per_record
from curate.llm_config import LLMConfig
from curate.prompts import render
from curate.records import Example, Preference
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM


class ReviseConfig(LLMConfig):
    teacher_model: str | None = Field(None, description="The teacher's model (default: --model).")
    teacher_base_url: str | None = Field(None, description="The teacher's server (default: --base-url).")
    teacher_api_key: SecretStr | None = Field(None, description="The teacher's API key (default: --api-key).")
    lang: str = Field("en", description="Prompt language: en, or zh for the Chinese prompts.")
    prompts: Path | None = Field(None, description="Directory of your own templates, searched before ours.")

    def teacher(self) -> LLMConfig:
        """The LLM settings with the teacher's model, server and key where given."""
        changes = {"model": self.teacher_model, "base_url": self.teacher_base_url, "api_key": self.teacher_api_key}
        fields = {name: getattr(self, name) for name in LLMConfig.model_fields}
        return LLMConfig(**{**fields, **{k: v for k, v in changes.items() if v is not None}})


async def revised(record: Example, teacher: LLM, config: ReviseConfig) -> Outcome:
    prompt = render("revise/improve", config.prompts, config.lang, instruction=record.instruction,
                    input=record.input, output=record.output)
    reply = await teacher.chat([{"role": "user", "content": prompt}], config.sampling())
    revision = reply.text.strip()
    if not revision or revision == record.output.strip() or reply.truncated:
        return record, "unchanged" if revision else "empty_revision"
    judging = RatingConfig(seed=config.seed, lang=config.lang, prompts=config.prompts)  # temperature 0
    (before, _), (after, _) = await rate(record, teacher, judging), \
        await rate(record.model_copy(update={"output": revision}), teacher, judging)
    info = {"teacher": teacher.backend.model, "scores": {"revision": after, "original": before}, "source": record.id}
    if before is None or after is None or after <= before:
        return record.model_copy(update={"meta": {**record.meta, "revise": info}}), "not_better"
    prompt_fields = record.model_dump(include={"instruction", "input", "system", "history", "user_id"})
    return Preference(**prompt_fields, chosen=revision, rejected=record.output,
                      meta={**record.meta, "revise": info, "parent": record.id}), None


def revise(input: str | Path, output: str | Path, config: ReviseConfig | None = None,
           rejects: str | Path | None = None, teacher: LLM | None = None,
           mapping: dict[str, str] | None = None) -> Summary:
    """Teacher-revised preference pairs for every answered example; resumable by example.

    Memory: the records in flight, and the keys of finished ones (the input streams)."""
    config = config or ReviseConfig()
    if config.executor == "ray":
        from curate.ray_stages import run_sharded

        return run_sharded("revise", revise, input, output, config, rejects, teacher, mapping=mapping)
    records = read_examples(input, mapping, "revise", select=lambda record: bool(record.output.strip()))
    with own_client(teacher, config.teacher()) as teacher:
        return run_per_record("revise", output, rejects, teacher, records,
                              lambda record: revised(record, teacher, config), input=input, config=config,
                              output_key=_source)


def _source(row: dict) -> str | None:
    """The example a preference was made from (journals before meta.revise.source: meta.parent)."""
    return row["meta"].get("revise", {}).get("source") or row["meta"].get("parent")
