"""`curate split`: group records by a key (the user id), cap each group, assign whole groups.
(The settings, and how a key is read and assigned its split: curate/split_rules.py.)

InstructGPT split its prompts by user id so that no user's prompts reach two splits, and
kept at most 200 prompts per user so that a few prolific users do not dominate. Here:

- A group's split comes from a salted SHA-256 of its key alone, so a user lands in the same
  split on every run and machine, whatever else is in the file and in whatever order.
- Over the cap, the records kept are those with the lowest salted hash of (key, record id),
  not the first in the file, so re-ordering or appending records never changes the choice
  (records of one key with one id tie on it, and their content as JSON decides).
- Prompts of the evaluation splits (all but the reference split: `train`, else the first)
  that duplicate a reference prompt exactly or nearly (MinHash LSH, then the exact Jaccard
  of the shingle sets) are reported, or dropped with `drop_leaks`.

Every split gets a file, an empty one included, so a re-run with the same splits never leaves a
stale split from an earlier run beside fresh ones (record files of other splits already in the
folder are left as they were, with a warning that names them). Written records carry `meta.split`: {name, key}, plus
`leak` {kind, train_id, similarity} when the prompt duplicates one in the reference split.
The input is read twice, and no record is held: pass one keeps a few numbers a record (its
split, a hash of its key, its place in the cap order) and sketches its prompt to disk; the caps
(a sort of those numbers by key) and the leaks (curate/filters/contamination.py) are decided on
them; pass two tags each record and writes it to its split or the rejects. Memory: under 100
bytes a record (Splitter's docstring). With --executor ray the records are read and validated by Ray
tasks, a byte range each, in both passes, and come back in file order, so the splits are the
ones a local run writes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.table import Table

from curate.errors import DataError, UsageError
from curate.filters.dedup import shingle_set
from curate.io import SUFFIXES, display_name, file_format, read_records
from curate.records import Record, normalize_text
from curate.split_rules import SplitConfig, assign_split, hash64, key_of
from curate.summary import Summary, rejected, track

if TYPE_CHECKING:  # numpy loads when split runs, not when the CLI starts
    import numpy as np

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

KEPT, MISSING, OVER_CAP = 0, 1, 2  # a record's fate after pass one
CHUNK = 20_000  # prompts sketched at a time


@dataclass
class Plan:
    """What pass one learns of every record, by input position: its split, its group (a 128-bit
    hash of its key), its fate after the cap, and whether its prompt leaks (and from which
    reference record); the prompts' sketches and the record ids stay on disk. About 45 bytes a
    record in memory, with the store's offsets and exact-text hashes."""

    split: np.ndarray  # int8 index into config.splits; -1 for a record with no key
    group: np.ndarray  # [records x 2] uint64: sha256 of the key
    blank: np.ndarray  # an empty prompt leaks nothing
    ids: Any  # curate.filters.sketching.Texts
    store: Any  # curate.filters.lsh.SketchStore of the prompts
    status: np.ndarray  # KEPT, MISSING or OVER_CAP
    written: np.ndarray  # set by pass two
    leaks: dict[int, tuple[str, int, float]] = field(default_factory=dict)  # position: (kind, reference, Jaccard)


class Splitter:
    """Records in, records per split out, in two passes over the input: the first learns each
    record's group, split and cap order and sketches its prompt (`plan`); the caps and leaks are
    then decided on arrays; the second tags each record and says where it goes (`placed`).
    `removed` (in memory use), `leaks` and `summary` say what was left out and why.

    Memory: the Plan's arrays (about 45 bytes a record, and about 40 more while the caps are
    sorted: 8.5 GB at 100M records), plus about 0.5 KB for each leaking record (its Leak and
    its place in Plan.leaks), never the records; the prompts' sketches (about 1.3 KB a record)
    and, with a cap, the records as JSON (read back only to break ties) are on disk."""

    def __init__(self, config: SplitConfig | None = None, source: str = "input"):
        self.config = config or SplitConfig()
        self.source = source
        self.names = list(self.config.splits)
        self.summary = Summary("split")
        self.leaks: list[Leak] = []
        self.removed: list[Record] = []  # rejected copies, in input order (filled by __call__)
        self._records: dict[str, int] = {name: 0 for name in self.names}  # written to each split (finish)
        self._users: dict[str, int] = {name: 0 for name in self.names}

    def __call__(self, records: Iterable[Record]) -> dict[str, list[Record]]:
        """In memory, for scripts and tests: the records of each split, in input order."""
        from curate.filters.lsh import work_folder

        records = records if isinstance(records, Sequence) else list(records)
        outputs: dict[str, list[Record]] = {name: [] for name in self.names}
        with work_folder(None) as folder:
            plan = self.plan(records, Path(folder))
            for name, record in self.placed(records, plan):
                (outputs[name] if name is not None else self.removed).append(record)
            self.finish(plan)
        return outputs

    # -- pass one

    def plan(self, records: Iterable[Record], folder: Path) -> Plan:
        """Pass one: every record's facts (see Plan), a chunk at a time into arrays, then the
        caps and the leaks."""
        import numpy as np

        from curate.filters.dedup import DedupConfig, sketcher_of
        from curate.filters.lsh import SketchStore
        from curate.filters.sketching import Texts

        store = SketchStore(folder, sketcher_of(DedupConfig(threshold=self.config.leak_threshold)))
        ids, contents = Texts(folder / "ids.bin"), Texts(folder / "contents.bin")
        columns: list[list[np.ndarray]] = [[] for _ in range(5)]
        numbered = enumerate(records, 1)
        while chunk := list(islice(numbered, CHUNK)):
            self.summary.read += len(chunk)
            split, hi, lo, cap, blank, texts, chunk_ids, content = zip(*(self._facts(*item) for item in chunk))
            for column, values, dtype in zip(columns, (split, hi, lo, cap, blank),
                                             (np.int8, np.uint64, np.uint64, np.uint64, bool)):
                column.append(np.array(values, dtype))
            store.add(list(texts))
            ids.add(chunk_ids)
            contents.add(content)
        for done in (store, ids, contents):
            done.finish()
        split, hi, lo, cap, blank = (np.concatenate(column) if column else np.zeros(0, dtype) for column, dtype
                                     in zip(columns, (np.int8, np.uint64, np.uint64, np.uint64, bool)))
        plan = Plan(split, np.stack([hi, lo], axis=1), blank, ids, store,
                    status=np.where(split < 0, MISSING, KEPT).astype(np.int8), written=np.zeros(len(split), bool))
        if self.config.max_per_user is not None:
            self._cap(plan, cap, contents, self.config.max_per_user)
        self._find_leaks(plan)
        return plan

    def _facts(self, position: int, record: Record) -> tuple[int, int, int, int, bool, str, str, str]:
        """(split, group hash high and low, cap hash, blank prompt, prompt, id, content). The
        content (the record as JSON, keys sorted: on disk, read only to break ties on the cap)
        is left empty without a cap."""
        config = self.config
        text = prompt_text(record)
        key = self._key(position, record)
        if key is None:
            return -1, 0, 0, 0, not text.strip(), text, record.id, ""
        group = hashlib.sha256(key.encode("utf-8")).digest()
        content = json.dumps(record.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) \
            if config.max_per_user else ""
        return (self.names.index(assign_split(key, config.splits, config.salt)),
                int.from_bytes(group[:8], "big"), int.from_bytes(group[8:16], "big"),
                hash64(config.salt, key, record.id), not text.strip(), text, record.id, content)

    def _key(self, position: int, record: Record) -> str | None:
        key = key_of(record, self.config.by)
        if key is not None or self.config.missing == "drop":
            return key
        if self.config.missing == "error":
            raise DataError(f"{self.source}: record {position} (id {record.id}): no {self.config.by} to "
                            "split by; --missing drop or --missing singleton keeps going")
        return record.id  # singleton: a group of its own

    @staticmethod
    def _cap(plan: Plan, cap_hash: np.ndarray, contents: Any, cap: int) -> None:
        """Over the cap, a group keeps the records lowest in (cap hash, content, position): one
        sort of the keyed records by (group, cap hash, position), then, where records of one key
        and one id (the same prompt, another output) tie on the cap hash across the cap, their
        content as JSON decides, as in a sort by (hash, content): still blind to file order."""
        import numpy as np

        from curate.filters.lsh import run_starts

        keyed = np.flatnonzero(plan.status == KEPT)
        if not len(keyed):
            return
        order = keyed[np.lexsort((keyed, cap_hash[keyed], plan.group[keyed, 1], plan.group[keyed, 0]))]
        high, low, hashes = plan.group[order, 0], plan.group[order, 1], cap_hash[order]
        starts = np.flatnonzero(run_starts(high, low))
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
        ties = np.flatnonzero(run_starts(high, low, hashes))
        ends = np.append(ties[1:], len(order))
        across = (rank[ties] < cap) & (rank[ends - 1] >= cap)
        for start, end in zip(ties[across].tolist(), ends[across].tolist()):
            members = order[start:end].tolist()
            order[start:end] = sorted(members, key=lambda position: (contents[position], position))
        plan.status[order[rank >= cap]] = OVER_CAP

    def reference_split(self) -> str:
        return "train" if "train" in self.config.splits else self.names[0]

    def _find_leaks(self, plan: Plan) -> None:
        """Every kept evaluation record whose prompt duplicates a kept reference prompt: exactly
        (the same normalised text) or nearly (Jaccard >= leak_threshold, as `curate dedup`)."""
        import numpy as np

        from curate.filters.contamination import ExactIndex, near_matches

        kept = plan.status == KEPT
        reference = kept & (plan.split == self.names.index(self.reference_split()))
        query = kept & (plan.split >= 0) & ~reference
        if not reference.any() or not query.any():
            return
        references, queries = np.flatnonzero(reference), np.flatnonzero(query & ~plan.blank)
        assert plan.store.exact is not None
        found = ExactIndex(plan.store.exact[references]).first_equal(plan.store.exact[queries])
        exact = found >= 0
        plan.leaks = {int(index): ("exact", int(ref), 1.0) for index, ref in zip(queries[exact], references[found[exact]])}
        for index, (_, ref, similarity) in near_matches(plan.store, reference, query).items():
            plan.leaks.setdefault(index, ("near", ref, similarity))  # an exact match beats a near one

    # -- pass two

    def placed(self, records: Iterable[Record], plan: Plan) -> Iterator[tuple[str | None, Record]]:
        """Pass two: (split name, the record tagged with meta.split) for each record written, and
        (None, its rejected copy) for each left out, in input order."""
        for position, record in enumerate(records):
            status = plan.status[position]
            if status == MISSING:
                yield None, self._rejected(record, "missing_key")
                continue
            key = self._key(position + 1, record)  # a record with a split has a key (or is a singleton)
            name = self.names[plan.split[position]]
            tag: dict[str, Any] = {"name": name, "key": key}
            if status == OVER_CAP:
                yield None, self._rejected(record, "over_user_cap", tag)
                continue
            if position in plan.leaks:
                kind, ref, similarity = plan.leaks[position]
                leak = Leak(name, record.id, kind, plan.ids[ref], float(similarity))  # type: ignore[arg-type]
                self.leaks.append(leak)
                tag["leak"] = leak.meta()
                if self.config.drop_leaks:
                    yield None, self._rejected(record, f"leak_{kind}", tag)
                    continue
            self.summary.written += 1
            plan.written[position] = True
            yield name, record.model_copy(update={"meta": {**record.meta, "split": tag}})

    def _rejected(self, record: Record, reason: str, tag: dict[str, Any] | None = None) -> Record:
        self.summary.dropped[reason] += 1
        if tag is not None:  # where it would have gone helps when reading the rejects
            record = record.model_copy(update={"meta": {**record.meta, "split": tag}})
        return rejected(record, "split", reason)

    def finish(self, plan: Plan) -> None:
        """After pass two: the distinct keys among each split's written records."""
        import numpy as np

        for index, name in enumerate(self.names):
            written = plan.written & (plan.split == index)
            self._records[name] = int(written.sum())
            self._users[name] = len(np.unique(plan.group[written], axis=0))

    def result(self, files: dict[str, Path] | None = None) -> SplitResult:
        """The splits' sizes, users and leaks (after `finish`)."""
        records = self._records
        total = sum(records.values())
        kinds = Counter((leak.split, leak.kind) for leak in self.leaks)
        stats = {
            name: SplitStats(
                target=self.config.splits[name], users=self._users[name], records=records[name],
                ratio=records[name] / total if total else 0.0,
                leaks_exact=kinds[name, "exact"], leaks_near=kinds[name, "near"])
            for name in self.names
        }
        # each split's size and file in the summary, in split order, so that a report shows empty ones too
        self.summary.counts |= {f"split:{name}": stats[name].records for name in self.names}
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
    """Write `out_dir/{split}{suffix}` for every configured split, and the rejects if asked.
    The input is read twice (standard input is first copied beside the output)."""
    from contextlib import ExitStack

    from curate.executors import ray_session
    from curate.filters.lsh import work_folder
    from curate.io import readable_twice
    from curate.sinks import RowSink, record_row

    config = config or SplitConfig()
    files = output_files(out_dir, config.splits, suffix)
    if rejects:
        file_format(rejects)
    if config.executor == "ray" and str(input) != "-":  # standard input is copied to a file first
        from curate.parallel import ray_ready

        ray_ready(input)
    splitter = Splitter(config, source=display_name(input))
    folder_was_there = Path(out_dir).exists()
    near = Path(out_dir).resolve().parent  # the sketches go on the output's disk, not in /tmp
    try:
        with work_folder(near) as folder, ray_session(config.executor, config.workers, config.ray_address), \
                readable_twice(input, Path(folder)) as source:
            plan = splitter.plan(track(_records(source, mapping, config), f"splitting {display_name(input)}"),
                                 Path(folder))
            _warn_of_other_files(Path(out_dir), files, rejects)
            with ExitStack() as stack:
                sinks = {name: stack.enter_context(RowSink(path)) for name, path in files.items()}
                removed = stack.enter_context(RowSink(rejects)) if rejects else None
                placed = splitter.placed(track(_records(source, mapping, config), f"writing {out_dir}"), plan)
                for name, record in placed:
                    sink = sinks[name] if name is not None else removed
                    if sink is not None:
                        sink.write(record_row(record))
            splitter.finish(plan)
    except BaseException:
        if not folder_was_there and Path(out_dir).is_dir() and not any(Path(out_dir).iterdir()):
            Path(out_dir).rmdir()  # made for the split files, none of which appeared
        raise
    return splitter.result(files)


def _warn_of_other_files(folder: Path, files: dict[str, Path], rejects: str | Path | None) -> None:
    if not folder.is_dir():
        return
    ours = {path.resolve() for path in files.values()} | ({Path(rejects).resolve()} if rejects else set())
    others = sorted(f.name for f in folder.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES
                    and f.resolve() not in ours)
    if others:
        print(f"curate: warning: {folder} also holds {', '.join(others)}, which this run's splits "
              f"({', '.join(files)}) do not replace: left as they were", file=sys.stderr)


def _records(source: str | Path, mapping: dict[str, str] | None, config: SplitConfig) -> Iterator[Record]:
    if config.executor == "ray":  # read and validated by Ray tasks, a byte range each, in file order
        from curate.parallel import records_in_pool

        return records_in_pool(source, mapping, config.workers, "ray", config.ray_address)
    return read_records(source, mapping)


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
