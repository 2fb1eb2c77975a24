"""Evol-Instruct (Xu et al. 2023, WizardLM): evolve seed instructions over M rounds.

Each round every lineage takes one operation, drawn by weight: five in-depth ones
(add constraints, deepen, concretize, increase reasoning steps, complicate input) or
in-breadth evolution. An evolution is eliminated by the paper's four rules:

  1. equal_to_parent         the model judges it "Equal" to its parent (the paper's two criteria)
  2. short_sorry_response    its response says "sorry" in under 80 words
  3. empty_response          its response is only punctuation and stop words
  4. copies_prompt_template  it copies the template's words ("given prompt", "#Rewritten Prompt#")

and its parent stays in the pool for the next round. The output holds the seeds and every
surviving evolution, each answered, with provenance in meta.evol.

The unit of work is a slot, (lineage root, round): done once its seed or evolution is in the
output or in the rejects (eliminated, or a duplicate of another record), so a re-run asks only
for slots that never finished or failed. Memory: the seeds, and the survivors of earlier runs
(each slot's instruction is the next round's parent).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from curate.formats import prompt_messages
from curate.runner import StageRun, own_client, read_journal
from curate.generate.seeds import load_seeds
from curate.text import is_refusal, only_stop_words
from curate.llm_types import RequestFailed
from curate.llm_config import LLMConfig
from curate.prompts import render
from curate.records import Example, content_id
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

IN_DEPTH = ("add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input")
OPERATIONS = (*IN_DEPTH, "breadth")
TEMPLATE_WORDS = ("given prompt", "rewritten prompt", "created prompt", "给定提示", "改写后的提示", "创作的提示")
# a reply that starts by repeating the template's own answer label is answering in format;
# that label is cut, and only copying template words into the instruction itself eliminates
_ANSWER_LABEL = re.compile(r"^\s*#?\s*(rewritten|created)\s+prompt\s*#?\s*[:：]\s*", re.IGNORECASE)


def parse_weights(value: Any) -> Any:
    """`deepen=2,breadth=1` (CLI) or a mapping (YAML, Python) -> {operation: weight}."""
    if isinstance(value, str):
        pairs = (item.split("=", 1) for item in value.split(",") if item.strip())
        value = {name.strip(): float(weight) for name, weight in pairs}
    return value


class EvolConfig(LLMConfig):
    rounds: int = Field(4, ge=1, description="Evolution rounds (M in the paper). Raising it on a finished "
                        "output continues the job with the new rounds.")
    op_weights: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(OPERATIONS, 1.0),
        description="Relative weight of each operation, e.g. deepen=2,breadth=1; unnamed ones get 0 "
        f"when any is named. Operations: {', '.join(OPERATIONS)}.")
    lang: str = Field("en", description="Prompt language: en, or zh for the Chinese prompts.")
    prompts: Path | None = Field(None, description="Directory of your own templates, searched before ours.")
    sorry_words: int = Field(80, ge=1, description="An evolution whose response says 'sorry' in fewer words than "
                             "this is eliminated (short_sorry_response).")

    @field_validator("op_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: Any) -> Any:
        return parse_weights(value)

    @field_validator("op_weights")
    @classmethod
    def _known_operations(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = set(weights) - set(OPERATIONS)
        if unknown:
            raise ValueError(f"unknown operation(s) {', '.join(sorted(unknown))}; choose from {', '.join(OPERATIONS)}")
        if not any(w > 0 for w in weights.values()) or any(w < 0 for w in weights.values()):
            raise ValueError("weights must be >= 0 with at least one > 0")
        return weights


def choose_operation(config: EvolConfig, root: str, round_: int) -> str:
    """Drawn from (seed, lineage, round) alone, so a resumed run draws the same."""
    rng = random.Random(content_seed(config.base_seed, root, round_))
    names = list(config.op_weights)
    return rng.choices(names, weights=[config.op_weights[n] for n in names])[0]


def content_seed(*parts: object) -> int:
    """A 31-bit seed from parts, the same on every run and machine."""
    return int(content_id(*parts), 16) % 2**31


def copies_template(instruction: str) -> bool:
    lowered = instruction.lower()
    return any(words in lowered for words in TEMPLATE_WORDS)


# the verdict is the first of these in the reply; the negative forms are listed before the
# positive ones they contain, so "Not Equal" and "不相同" never read as "Equal" and "相同"
_VERDICT = re.compile(r"not\s+equal|unequal|equal|不相同|不相等|不一样|不同|相同|相等|一样", re.IGNORECASE)
_SAME = {"equal", "相同", "相等", "一样"}


def is_equal(judgement: str) -> bool:
    """The equality check's verdict, in English or Chinese: its first verdict word."""
    verdict = _VERDICT.search(judgement)
    return verdict is not None and verdict.group(0).lower() in _SAME


def elimination_rule(evolved: str, response: str, judgement: str, sorry_words: int = 80) -> str | None:
    """The first of the paper's rules an evolution breaks, by its name, or None."""
    if copies_template(evolved):
        return "copies_prompt_template"
    if is_equal(judgement):
        return "equal_to_parent"
    if is_refusal(response, sorry_words):
        return "short_sorry_response"
    if only_stop_words(response):
        return "empty_response"
    return None


class Evolver:
    """Runs lineages: one seed's chain of rounds, written as each round finishes."""

    def __init__(self, llm: LLM, config: EvolConfig, run: StageRun, survivors: dict[str, Example]):
        self.llm, self.config, self.run, self.survivors = llm, config, run, survivors

    def _prompt(self, name: str, **values: Any) -> list[dict[str, str]]:
        text = render(name, self.config.prompts, self.config.lang, **values)
        return [{"role": "user", "content": text}]

    async def answer(self, record: Example) -> str:
        return (await self.llm.chat(prompt_messages(record), self.config.sampling())).text

    async def lineage(self, seed: Example) -> None:
        root = seed.id
        if self.run.is_done(slot(root, 0)):
            self.run.resumed()
        else:
            await self._write_seed(seed)
        current = seed
        for round_ in range(1, self.config.rounds + 1):
            if self.run.is_done(slot(root, round_)):  # by an earlier run: a survivor goes on, else the parent
                current = self.survivors.get(slot(root, round_), current)
                self.run.resumed()
                continue
            current = await self._round(current, root, round_)

    async def _write_seed(self, seed: Example) -> None:
        meta = {**seed.meta, "evol": {"root": seed.id, "round": 0}, "root": seed.id}
        record = seed.model_copy(update={"meta": meta})
        if not seed.output:
            try:
                record = record.model_copy(update={"output": await self.answer(seed)})
            except RequestFailed as error:
                self.run.fail(record, error.reason, slot(seed.id, 0), message=error.detail)
                return
        self.run.keep(record, slot(seed.id, 0))

    async def _round(self, parent: Example, root: str, round_: int) -> Example:
        operation = choose_operation(self.config, root, round_)
        provenance = {"root": root, "parent": parent.id, "round": round_, "operation": operation}
        try:
            # a seed of its own per lineage and round: a parent evolved again by the same operation
            # (after an elimination) gets a fresh sample, not the cached one
            sampling = self.config.sampling(seed=content_seed(self.config.base_seed, root, round_))
            reply = await self.llm.chat(self._prompt(f"evol/{operation}", instruction=parent.user_message()), sampling)
            evolved = _ANSWER_LABEL.sub("", reply.text.strip(), count=1).strip().strip('"').strip()
            instruction, input_ = separate_input(evolved, parent.input)
            # the conversation before the evolved turn stays as it was: only the last request evolves
            record = Example(instruction=instruction, input=input_, system=parent.system, history=parent.history,
                             meta={"evol": provenance, "parent": parent.id, "root": root})
            if not evolved or reply.truncated:
                return self._eliminate(record, "empty_evolution" if not evolved else "truncated_evolution", parent)
            if copies_template(evolved):  # rule 4 needs no model call
                return self._eliminate(record, "copies_prompt_template", parent)
            import asyncio  # here, not at the top: a stage's --help loads no event loop

            judgement, response = await asyncio.gather(
                self.llm.chat(self._prompt("evol/equal", first=parent.user_message(), second=evolved),
                              self.config.sampling(temperature=0.0, max_tokens=16)),
                self.answer(record))
        except RequestFailed as error:
            failed = Example(id=f"{parent.id}-r{round_}", instruction=parent.user_message(),
                             meta={"evol": provenance, "parent": parent.id, "root": root})
            self.run.fail(failed, error.reason, slot(root, round_), message=error.detail)
            return parent
        record = record.model_copy(update={"output": response})
        rule = elimination_rule(evolved, response, judgement.text, self.config.sorry_words)
        if rule:
            return self._eliminate(record, rule, parent)
        # a copy of a record already written (ids are content hashes) is dropped, and its parent goes on
        return record if self.run.keep(record, slot(root, round_)) else parent

    def _eliminate(self, record: Example, rule: str, parent: Example) -> Example:
        """Write the evolution to the rejects with its rule; the parent goes on to the next round."""
        evol = {**record.meta["evol"], "rule": rule}
        self.run.drop(record.model_copy(update={"meta": {**record.meta, "evol": evol}}), rule,
                      slot(evol["root"], evol["round"]))
        return parent


def separate_input(evolved: str, parent_input: str) -> tuple[str, str]:
    """(instruction, input) of an evolution. The model sees the parent's instruction and input as
    one text; when its rewrite still holds the input word for word, the input is taken back out
    and stays its own field (an Alpaca-style record remains one); when the rewrite changed it
    (complicate_input does), the whole rewrite is the instruction."""
    data = parent_input.strip()
    at = evolved.rfind(data) if data else -1
    # only as a block of its own: starting a line, and ending one (or a sentence); a quote of it
    # inside a sentence ("the top 3 elements") is part of the instruction
    after = evolved[at + len(data):at + len(data) + 1] if at >= 0 else ""
    if at <= 0 or evolved[at - 1] != "\n" or (after and not after.isspace()):
        return evolved, ""
    instruction = " ".join(part.strip() for part in (evolved[:at], evolved[at + len(data):]) if part.strip())
    return (instruction, parent_input) if instruction else (evolved, "")


def slot(root: str, round_: int) -> str:
    """The key of one unit of evol's work: a lineage's round (0 is the seed itself)."""
    return f"{root}:{round_}"


def slot_of(row: dict[str, Any]) -> str:
    evol = row["meta"]["evol"]
    return slot(evol["root"], evol["round"])


def earlier_survivors(output: str | Path) -> dict[str, Example]:
    """{slot: evolved record} of the rounds an earlier run wrote, each the parent of the next."""
    return {slot_of(row): Example.model_validate(row) for row in read_journal(output)
            if row.get("meta", {}).get("evol", {}).get("round", 0) > 0}


def evol_instruct(seeds: str | Path, output: str | Path, config: EvolConfig | None = None,
                  rejects: str | Path | None = None, llm: LLM | None = None) -> Summary:
    """Evolve every seed for `config.rounds` rounds; resumable, see curate.runner."""
    config = config or EvolConfig()
    if config.executor == "ray":  # by lineage: each shard evolves its own seeds
        from curate.ray_stages import run_sharded

        return run_sharded("evol", evol_instruct, seeds, output, config, rejects, llm)
    seed_records = load_seeds(seeds)
    total = len(seed_records) * (config.rounds + 1)
    with own_client(llm, config) as llm, StageRun("evol", output, rejects, total=total, llm=llm, input=seeds,
                                                  config=config, output_key=slot_of) as run:
        run.summary.counts["seeds"] = len(seed_records)  # what a report's funnel shows going in
        evolver = Evolver(llm, config, run, earlier_survivors(output))  # read once the journal is open

        async def main() -> None:
            from curate.llm import map_unordered

            # lineages run concurrently; requests are bounded by the client's concurrency
            async for _, outcome in map_unordered(seed_records, evolver.lineage, limit=llm.width):
                if isinstance(outcome, BaseException):
                    raise outcome

        llm.run(main())
    return run.summary
