"""`curate split`: group records by a key (the user id), cap each group, assign whole groups.

InstructGPT split its prompts by user id so that no user's prompts reach two splits, and
kept at most 200 prompts per user so that a few prolific users do not dominate. Here:

- A group's split comes from a salted SHA-256 of its key alone, so a user lands in the same
  split on every run and machine, whatever else is in the file and in whatever order.
- Over the cap, the records kept are those with the lowest salted hash of (key, record id),
  not the first in the file, so re-ordering or appending records never changes the choice.
- Prompts of the evaluation splits (all but the reference split: `train`, else the first)
  that duplicate a reference prompt exactly or nearly (MinHash LSH, then the exact Jaccard
  of the shingle sets) are reported, or dropped with `drop_leaks`.

Every split gets a file, an empty one included, so a re-run never leaves a stale split from
an earlier run beside fresh ones. Written records carry `meta.split`: {name, key}, plus
`leak` {kind, train_id, similarity} when the prompt duplicates one in the reference split.
All records are held in memory: a group's cap and the leak index need the whole input. With
--executor ray the records are read and validated by Ray tasks, a byte range each, and come
back in file order, so the splits are the ones a local run writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from rich.table import Table

from curate.executors import ExecutorOptions
from curate.errors import DataError, UsageError
from curate.filters.dedup import DedupConfig, shingle_set
from curate.io import display_name, file_format, read_records, write_records
from curate.records import FIELDS, Record, normalize_text
from curate.summary import Summary, rejected, track

DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # it becomes a file name


class SplitConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    workers: int = Field(2, ge=1, description="With --executor ray: Ray tasks reading and checking the input at "
                         "a time (the grouping, caps and leak checks run on this machine, with every record).")
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


def _unit_hash(*parts: str) -> float:
    """The top 53 bits of sha256 over NUL-joined parts, as a float in [0, 1)."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2**53


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


def _cap_order(salt: str, key: str, record: Record) -> tuple[bytes, str]:
    # records of one user with the same id (same prompt, other output) tie on the hash;
    # their content breaks the tie, so the choice still ignores file order
    digest = hashlib.sha256(f"{salt}\0{key}\0{record.id}".encode("utf-8")).digest()
    return digest, json.dumps(record.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- leaks


def prompt_text(record: Record) -> str:
    """What a leak is judged on: instruction and input, NFKC, casefolded, whitespace collapsed.

    The input is included because a template instruction ("Summarise this:") shared by many
    records with different inputs is not a leak.
    """
    return normalize_text(record.user_message()).casefold()


def shingles(text: str) -> frozenset[int]:
    """A prompt's hashed shingles, as leak detection sees them (see curate.filters.dedup)."""
    return shingle_set(text)


@dataclass
class Leak:
    """An evaluation record whose prompt duplicates a prompt of the reference split."""

    split: str
    id: str
    kind: Literal["exact", "near"]
    train_id: str
    similarity: float

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "train_id": self.train_id, "similarity": round(self.similarity, 4)}


def find_leaks(evaluation: list[Record], reference: list[Record],
               threshold: float) -> dict[int, tuple[Literal["exact", "near"], str, float]]:
    """{evaluation index: (kind, reference id, Jaccard)} for the evaluation prompts that
    duplicate a reference prompt, found with the same machinery as `curate dedup`."""
    from curate.filters.contamination import cross_duplicates  # numpy loads when leaks are looked for

    config = DedupConfig(threshold=threshold)
    found = cross_duplicates([prompt_text(r) for r in evaluation], [prompt_text(r) for r in reference], config)
    return {index: (kind, reference[ref].id, similarity) for index, (kind, ref, similarity) in found.items()}


# ---------------------------------------------------------------- results


@dataclass
class SplitStats:
    target: float  # the configured share of groups
    users: int  # distinct keys written to the split
    records: int
    ratio: float  # the achieved share of written records
    leaks_exact: int = 0
    leaks_near: int = 0


@dataclass
class SplitResult:
    splits: dict[str, SplitStats]
    summary: Summary
    reference: str  # the split evaluation splits were checked against
    leaks: list[Leak] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    leaks_dropped: bool = False

    def table(self) -> Table:
        """One row per split: target and achieved shares, groups, records and leaks."""
        table = Table(title="curate split: splits", title_justify="left")
        for column in ("split", "target", "users", "records", "achieved", "exact leaks", "near leaks"):
            table.add_column(column, justify="left" if column == "split" else "right")
        for name, stats in self.splits.items():
            reference = name == self.reference
            leaks = ("-", "-") if reference else (f"{stats.leaks_exact:,}", f"{stats.leaks_near:,}")
            table.add_row(name, f"{stats.target:.1%}", f"{stats.users:,}", f"{stats.records:,}",
                          f"{stats.ratio:.1%}", *leaks, style="bold" if reference else None)
        if len(self.splits) > 1:
            table.caption = (f"leaks: prompts duplicating a {self.reference} prompt; "
                             + ("dropped" if self.leaks_dropped else "kept (drop_leaks removes them)"))
        return table


# ---------------------------------------------------------------- the stage


class Splitter:
    """Records in, records per split out; `removed` and `summary` say what was left out and why."""

    def __init__(self, config: SplitConfig | None = None, source: str = "input"):
        self.config = config or SplitConfig()
        self.source = source
        self.summary = Summary("split")
        self.leaks: list[Leak] = []
        self._removed: list[tuple[int, Record]] = []

    @property
    def removed(self) -> list[Record]:
        """Rejected copies of the records left out, in input order."""
        return [record for _, record in sorted(self._removed, key=lambda item: item[0])]

    def __call__(self, records: Iterable[Record]) -> dict[str, list[Record]]:
        config = self.config
        placed: dict[str, list[tuple[int, Record, str]]] = {name: [] for name in config.splits}
        for key, members in self._group(records).items():
            name = assign_split(key, config.splits, config.salt)
            if config.max_per_user is not None and len(members) > config.max_per_user:
                members = sorted(members, key=lambda member: _cap_order(config.salt, key, member[1]))
                for position, record in members[config.max_per_user:]:
                    self._remove(position, record, "over_user_cap", {"name": name, "key": key})
                members = members[: config.max_per_user]
            placed[name] += [(position, record, key) for position, record in members]
        for members in placed.values():
            members.sort(key=lambda member: member[0])  # output keeps input order
        leaks = self._find_leaks(placed)
        outputs: dict[str, list[Record]] = {name: [] for name in config.splits}
        for name, members in placed.items():
            for position, record, key in members:
                tag: dict[str, Any] = {"name": name, "key": key}
                leak = leaks.get(position)
                if leak is not None:
                    tag["leak"] = leak.meta()
                    if config.drop_leaks:
                        self._remove(position, record, f"leak_{leak.kind}", tag)
                        continue
                outputs[name].append(record.model_copy(update={"meta": {**record.meta, "split": tag}}))
        self.summary.written = sum(map(len, outputs.values()))
        return outputs

    def _group(self, records: Iterable[Record]) -> dict[str, list[tuple[int, Record]]]:
        groups: dict[str, list[tuple[int, Record]]] = {}
        for position, record in enumerate(records, 1):
            self.summary.read += 1
            key = key_of(record, self.config.by)
            if key is None:
                if self.config.missing == "error":
                    raise DataError(f"{self.source}: record {position} (id {record.id}): no {self.config.by} to "
                                    "split by; set missing to 'drop' or 'singleton' to keep going")
                if self.config.missing == "drop":
                    self._remove(position, record, "missing_key")
                    continue
                key = record.id
            groups.setdefault(key, []).append((position, record))
        return groups

    def _remove(self, position: int, record: Record, reason: str, tag: dict[str, Any] | None = None) -> None:
        self.summary.dropped[reason] += 1
        if tag is not None:  # where it would have gone helps when reading the rejects
            record = record.model_copy(update={"meta": {**record.meta, "split": tag}})
        self._removed.append((position, rejected(record, "split", reason)))

    def reference_split(self) -> str:
        return "train" if "train" in self.config.splits else next(iter(self.config.splits))

    def _find_leaks(self, placed: dict[str, list[tuple[int, Record, str]]]) -> dict[int, Leak]:
        """Leaks by input position, for every evaluation record that duplicates a reference prompt."""
        reference = self.reference_split()
        evaluation = [name for name in placed if name != reference]
        if not evaluation or not placed[reference]:
            return {}
        queued = [(position, name, record) for name in evaluation for position, record, _ in placed[name]]
        matches = find_leaks([record for _, _, record in queued], [record for _, record, _ in placed[reference]],
                             self.config.leak_threshold)
        split_of = {position: (name, record.id) for position, name, record in queued}
        found_by_position = {queued[i][0]: match for i, match in matches.items()}
        found = {position: Leak(*split_of[position], *match) for position, match in sorted(found_by_position.items())}
        self.leaks = list(found.values())
        return found

    def result(self, outputs: dict[str, list[Record]], files: dict[str, Path] | None = None) -> SplitResult:
        total = sum(map(len, outputs.values()))
        kinds = Counter((leak.split, leak.kind) for leak in self.leaks)
        stats = {
            name: SplitStats(
                target=self.config.splits[name], users=len({r.meta["split"]["key"] for r in records}),
                records=len(records), ratio=len(records) / total if total else 0.0,
                leaks_exact=kinds[name, "exact"], leaks_near=kinds[name, "near"])
            for name, records in outputs.items()
        }
        # each split's size and file in the summary, in split order, so that a report shows empty ones too
        self.summary.counts |= {f"split:{name}": stats[name].records for name in self.config.splits if name in stats}
        self.summary.files |= {f"split:{name}": str(Path(path).resolve()) for name, path in (files or {}).items()}
        return SplitResult(stats, self.summary, self.reference_split(), self.leaks, files or {},
                           self.config.drop_leaks)


def split(
    input: str | Path,
    out_dir: str | Path,
    config: SplitConfig | None = None,
    rejects: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    suffix: str = ".jsonl",
) -> SplitResult:
    """Write `out_dir/{split}{suffix}` for every configured split, and the rejects if asked."""
    config = config or SplitConfig()
    files = output_files(out_dir, config.splits, suffix)
    if rejects:
        file_format(rejects)
    splitter = Splitter(config, source=display_name(input))
    if config.executor == "ray":  # records read and validated by Ray tasks; grouping and capping here
        from curate.parallel import ray_ready, records_in_pool

        ray_ready(input)
        records = records_in_pool(input, mapping, config.workers, "ray", config.ray_address)
    else:
        records = read_records(input, mapping)
    outputs = splitter(track(records, f"splitting {display_name(input)}"))
    for name, path in files.items():
        write_records(path, outputs[name])
    if rejects:
        write_records(rejects, splitter.removed)
    return splitter.result(outputs, files)


def output_files(out_dir: str | Path, splits: dict[str, float], suffix: str) -> dict[str, Path]:
    """The file of each split; fails on bad usage before any work is done."""
    if str(out_dir) == "-":
        raise UsageError("split writes one file per split: give a directory, not '-'")
    directory = Path(out_dir)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    files = {name: directory / f"{name}{suffix}" for name in splits}
    for path in files.values():
        file_format(path)
    return files
