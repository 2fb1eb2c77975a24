"""The two record types that flow between stages, one JSON object per line.

`meta` holds provenance; each key is owned by the stage that writes it and no stage
rewrites another's:

  extra          columns of a foreign input file that map to no field (io, on read)
  rejected       {"stage", "reason"} on records a stage wrote to its --rejects file
  parent, root   ids of the record this one was derived from, and of its seed
  self_instruct, evol, responses, judge, dedup, pii, split, reward
                 written by the stages of those names
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticSerializationError, to_json

from curate.text import normalize_text  # re-exported: ids are made of normalised text

Turn = tuple[str, str]




_HEX = re.compile("[0-9a-f]{16}")  # content_id's form
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once: ids are made per record


def content_id(*parts: Any) -> str:
    """A 64-bit hex digest of parts made of strings, integers, lists and dicts: stable across
    runs and machines, and the ids json's compact form gave (a float would hash as pydantic-core
    writes it, 1e-05 as 0.00001; no caller passes one)."""
    try:
        # pydantic-core writes the same bytes as _COMPACT (tested on every code point) 8x faster
        payload = to_json(parts)
    except PydanticSerializationError:  # a lone surrogate: the error json's own encoding raises
        payload = _COMPACT.encode(parts).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:16]


def _fill_derived_id(record: Example | Preference) -> None:
    """Give a record read without an id its derived one, leaving "id" out of model_fields_set:
    that the id was not given says it is a hash of the content, with no need to hash again
    (a private attribute saying so cost every record ~2 us to build)."""
    record.__dict__["id"] = record.derived_id()


class _Prompt(BaseModel):
    """Fields shared by both record types: what the user said, and to whom."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    id: str = ""
    instruction: str
    input: str = ""
    system: str = ""
    history: list[Turn] = Field(default_factory=list)
    user_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", "user_id", mode="before")
    @classmethod
    def _numeric_ids_are_ids(cls, value: Any) -> Any:
        # exports and logs often store ids as integers; they are labels, not numbers
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def prompt_key(self) -> list[Any]:
        """The normalised conversation up to the final response: what the id hashes."""
        return [
            normalize_text(self.instruction),
            normalize_text(self.input) if self.input else "",
            normalize_text(self.system) if self.system else "",
            [[normalize_text(user), normalize_text(reply)] for user, reply in self.history],
        ]

    def id_is_derived(self) -> bool:
        """Is the id a hash of the content: made so here, or equal to the one that would be
        (a file written by an earlier stage carries such ids)? Only a 16-digit hex id can be."""
        if "id" not in self.model_fields_set:  # made here (see _fill_derived_id)
            return True
        return len(self.id) == 16 and _HEX.fullmatch(self.id) is not None and self.id == self.derived_id()

    def user_message(self) -> str:
        """Instruction and input as one user turn, joined the way LLaMA-Factory joins them."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction


class Example(_Prompt):
    """One instruction-following example; `output` is empty until a response exists."""

    output: str = ""

    @model_validator(mode="after")
    def _fill_id(self) -> Example:
        if not self.id:
            _fill_derived_id(self)
        return self

    def derived_id(self) -> str:
        """The id a record without one gets: a hash of its normalised prompt."""
        return content_id("example", self.prompt_key())


class Preference(_Prompt):
    """A prompt with either `chosen`/`rejected`, or K >= 2 `responses` and a `ranking`.

    `ranking` lists indices into `responses`, best first: [2, 0, 1] means responses[2]
    is best and responses[1] worst.
    """

    chosen: str | None = None
    rejected: str | None = None
    responses: list[str] | None = None
    ranking: list[int] | None = None
    margin: float | None = None  # how much better chosen is (TRL's RewardTrainer reads it)

    @model_validator(mode="after")
    def _check_shape_and_fill_id(self) -> Preference:
        pairwise = self.chosen is not None or self.rejected is not None
        ranked = self.responses is not None or self.ranking is not None
        if pairwise and ranked:
            raise ValueError("give either chosen/rejected or responses/ranking, not both")
        if pairwise and (self.chosen is None or self.rejected is None):
            missing = "rejected" if self.rejected is None else "chosen"
            raise ValueError(f"'{missing}' is missing: chosen and rejected come together")
        if ranked:
            self._check_ranking()
        if not pairwise and not ranked:
            raise ValueError("a preference needs chosen/rejected, or responses with a ranking")
        if not self.id:
            _fill_derived_id(self)
        return self

    def derived_id(self) -> str:
        """The id a record without one gets: a hash of its normalised prompt and answers."""
        return content_id("preference", self.prompt_key(), self.ranked_responses())

    def _check_ranking(self) -> None:
        if self.responses is None or self.ranking is None:
            missing = "ranking" if self.ranking is None else "responses"
            raise ValueError(f"'{missing}' is missing: responses and ranking come together")
        k = len(self.responses)
        if k < 2:
            raise ValueError(f"a ranking needs at least 2 responses, got {k}")
        if sorted(self.ranking) != list(range(k)):
            raise ValueError(
                f"ranking must list each response index 0..{k - 1} exactly once, best first; "
                f"got {self.ranking}"
            )

    def ranked_responses(self) -> list[str]:
        """All responses, best first."""
        if self.responses is None:
            return [self.chosen, self.rejected]  # type: ignore[list-item]
        return [self.responses[i] for i in self.ranking]  # type: ignore[union-attr]

    def pairs(self, mode: str = "all") -> list[tuple[str, str]]:
        """(better, worse) pairs: all C(K,2) of them, or only best against worst."""
        ranked = self.ranked_responses()
        if mode == "best-worst":
            return [(ranked[0], ranked[-1])]
        return [(ranked[i], ranked[j]) for i in range(len(ranked)) for j in range(i + 1, len(ranked))]


Record = Example | Preference

PREFERENCE_FIELDS = ("chosen", "rejected", "responses", "ranking")
FIELDS = tuple(dict.fromkeys([*Example.model_fields, *Preference.model_fields]))


def record_class(row: dict[str, Any]) -> type[Example] | type[Preference]:
    """A row with any preference field is a Preference; anything else an Example."""
    return Preference if any(key in row for key in PREFERENCE_FIELDS) else Example
