"""Which split a record belongs to: the settings of `curate split`, and the pure functions of a
record's key that place it (its group key, and the salted hash that assigns a group a split).
Nothing here depends on the other records: curate/split.py applies these over a whole input,
with the caps and the leak checks that do.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from curate.executors import ExecutorOptions
from curate.records import FIELDS, Record

DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # it becomes a file name


class SplitConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    workers: int = Field(2, ge=1, description="With --executor ray: Ray tasks reading and checking the input at "
                         "a time (the caps and leak checks run on this machine, on a few numbers a record).")
    by: str = Field("user_id", description="Group key: a record field (user_id, id, system, ...) or a dotted "
                    "path into meta, e.g. meta.source.user. A group's records all go to one split.")
    splits: dict[str, float] = Field(dict(DEFAULT_SPLITS), description="Split names and shares of groups, "
                                     "e.g. train=0.9,test=0.1, or 0.8,0.1,0.1 for train,validation,test. "
                                     "Shares are > 0 and sum to 1; the first (or `train`) is the reference "
                                     "for leak checks.")
    max_per_user: int | None = Field(200, ge=1, description="Most records kept per group (InstructGPT used "
                                     "200); chosen by salted hash, not file order. 0 or none: no cap.")
    salt: str = Field("curate-split", description="Mixed into every hash; change it to draw a different split.")
    missing: Literal["error", "drop", "singleton"] = Field(
        "error", description="A record with no key: error stops; drop sends it to the rejects (missing_key); "
        "singleton makes it a group of its own, keyed by its record id.")
    drop_leaks: bool = Field(False, description="Remove evaluation records whose prompt duplicates a train "
                             "prompt (reasons leak_exact, leak_near) instead of only counting them.")
    leak_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of word 5-gram shingles "
                                  "(character 3-grams for CJK text) at which prompts count as near duplicates.")

    @field_validator("by")
    @classmethod
    def _known_field(cls, by: str) -> str:
        head, dot, rest = by.partition(".")
        if head == "meta" and dot and all(rest.split(".")):
            return by
        if head in FIELDS and head != "meta" and not dot:
            return by
        raise ValueError(f"{by!r} is neither a record field ({', '.join(FIELDS)}) nor a path meta.KEY[.KEY...]")

    @field_validator("splits", mode="before")
    @classmethod
    def _parse_splits(cls, value: Any) -> Any:
        return parse_splits(value)

    @field_validator("splits")
    @classmethod
    def _valid_splits(cls, splits: dict[str, float]) -> dict[str, float]:
        if not splits:
            raise ValueError("name at least one split")
        for name, ratio in splits.items():
            if not _SPLIT_NAME.match(name):
                raise ValueError(f"split name {name!r} must be letters, digits, '_', '-' or '.' (it names a file)")
            if not ratio > 0:  # NaN fails this too
                raise ValueError(f"split {name!r}: share must be > 0, got {ratio}")
        total = sum(splits.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"shares must sum to 1, got {total:g}")
        return splits

    @field_validator("max_per_user", mode="before")
    @classmethod
    def _zero_is_no_cap(cls, value: Any) -> Any:
        # a CLI integer option cannot say None; a cap of 0 would keep nothing, so it means "off"
        if isinstance(value, str):
            value = value.strip().lower()
        return None if value in (0, "0", "none") and value is not False else value


def parse_splits(value: Any) -> Any:
    """`train=0.9,test=0.1`, or three bare shares for train, validation and test."""
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    if not isinstance(value, str):
        return value
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if parts and all("=" in part for part in parts):
        pairs = [part.split("=", 1) for part in parts]
        names = [name.strip() for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"a split is named twice in {value!r}")
        return {name: _share(share) for name, (_, share) in zip(names, pairs)}
    if len(parts) == 3 and not any("=" in part for part in parts):
        return dict(zip(DEFAULT_SPLITS, map(_share, parts)))
    raise ValueError(f"expected name=share pairs (train=0.9,test=0.1) or three shares (0.8,0.1,0.1), got {value!r}")


def _share(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None


# ---------------------------------------------------------------- keys and hashes


def hash64(*parts: str) -> int:
    """The first 64 bits of sha256 over NUL-joined parts: stable on every run and machine."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _unit_hash(*parts: str) -> float:
    """The top 53 bits of hash64, as a float in [0, 1)."""
    return (hash64(*parts) >> 11) / 2**53


def assign_split(key: str, splits: dict[str, float], salt: str) -> str:
    """The split of a group: u = sha256(salt + NUL + key) in [0, 1), walked along cumulative shares.

    Depends on nothing but (key, splits, salt): the same on every run and machine, and a new
    key can never move an existing one. Changing the shares or their order does move keys.
    """
    if not splits:
        raise ValueError("no splits to assign to")
    point = _unit_hash(salt, key) * sum(splits.values())
    reached = 0.0
    for name, share in splits.items():
        reached += share
        if point < reached:
            return name
    return name  # the shares' float sum fell a hair short of the point


def key_of(record: Record, by: str) -> str | None:
    """The record's group key as text, or None where it has none (absent, null or blank)."""
    head, _, rest = by.partition(".")
    value: Any = getattr(record, head, None)
    for part in rest.split(".") if rest else ():
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or value == [] or value == {} or (isinstance(value, str) and not value.strip()):
        return None
    # numbers spell the way user_id spells them (str(42) == json.dumps(42)), objects canonically
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
