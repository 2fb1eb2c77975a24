"""`curate dedup`: exact duplicates after normalisation, then MinHash LSH near duplicates.

Signatures are datasketch's own scheme computed in bulk (curate/filters/minhash.py). Bands x
rows are chosen for recall at the threshold, not for balance: datasketch's optimiser picks
9 x 13 at 0.8/128, which finds only ~40% of the pairs at J = 0.8; we take 21 x 6 (99.8%)
and pay for the extra candidates with an exact check: the Jaccard of the two records' sets
of hashed shingles. Verified pairs are joined by union-find; one record per cluster stays.

Memory: every record, its signature and its shingle hashes, and all candidate pairs at once
(a dataset stage: clusters need the whole input). This does not yet hold at millions of
records; spilling to disk is the next step (see the dedup issue).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from curate.io import read_records, write_records
from curate.records import Record
from curate.summary import Summary, rejected, track

if TYPE_CHECKING:  # numpy and the MinHash kernels load when dedup runs, not when the CLI starts
    import numpy as np

LARGE_BUCKET = 32  # beyond this many records sharing a band, compare each to the first only


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    fields: list[str] = Field(["instruction"], description="Fields compared, joined: e.g. instruction,input.")
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of shingle sets at which two "
                             "records are near duplicates.")
    num_perm: int = Field(128, ge=16, description="MinHash permutations.")
    ngram: int = Field(5, ge=1, description="Shingle length: words, or characters for Chinese/Japanese text.")
    keep: Literal["first", "longest", "best-score"] = Field("first", description="Which record of a cluster "
                                                            "stays: the first in the file, the longest, or the "
                                                            "highest meta.judge.score.")
    seed: int = Field(1, description="MinHash seed (datasketch's default is 1).")
    workers: int = Field(2, ge=1, description="Threads computing signatures.")

    @field_validator("fields", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def record_text(record: Record, fields: Sequence[str]) -> str:
    parts = []
    for name in fields:
        value = getattr(record, name, None)
        if name == "history":
            value = "\n".join(part for turn in record.history for part in turn)
        if isinstance(value, list):
            value = "\n".join(map(str, value))
        if value:
            parts.append(str(value))
    return "\n".join(parts)


class UnionFind:
    def __init__(self, size: int):
        import numpy as np
        self.parent = np.arange(size)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the earlier record is the root


@dataclass
class Sketches:
    signature: np.ndarray  # [texts x num_perm] uint32
    shingles: list[np.ndarray]  # each text's shingle hashes, for the exact Jaccard check


def sketch(texts: list[str], config: DedupConfig) -> Sketches:
    """Signatures, shingle sets and exact keys of `texts`, on `config.workers` threads.

    Threads, not processes: Arrow's kernels and numpy's loops over large arrays release the
    GIL, so two threads come close to two cores with nothing to pickle between them.
    """
    import numpy as np
    from curate.filters.minhash import permutations, shingle_hashes, signatures
    size = max(1, min(5000, -(-len(texts) // config.workers)))
    jobs = [texts[i : i + size] for i in range(0, len(texts), size)]
    a, b = permutations(config.num_perm, config.seed)

    def one(chunk: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hashes, offsets = shingle_hashes(chunk, config.ngram)
        return signatures(hashes, offsets, a, b), hashes, offsets

    if config.workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(config.workers) as pool:
            parts = list(pool.map(one, jobs))
    else:
        parts = [one(job) for job in jobs]
    if not parts:
        return Sketches(np.zeros((0, config.num_perm), np.uint32), [])
    sets = [hashes[offsets[i] : offsets[i + 1]] for _, hashes, offsets in parts for i in range(len(offsets) - 1)]
    return Sketches(np.concatenate([p[0] for p in parts]), sets)


def exact_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def exact_groups(texts: list[str], signature: np.ndarray) -> np.ndarray:
    """For each text, the first text it equals after NFKC, lower case and whitespace.

    Equal texts have equal signatures, so only texts whose whole signature repeats (a hash
    of the row, then a sort) are compared as strings: a handful, not all of them."""
    import numpy as np
    rows = np.zeros(len(signature), np.uint64)
    for column in signature.T.astype(np.uint64):
        rows = rows * np.uint64(0x9E3779B97F4A7C15) + column
    _, first, inverse, counts = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    leader = np.arange(len(texts))
    for group in np.flatnonzero(counts > 1):
        seen: dict[str, int] = {}
        for member in np.flatnonzero(inverse.ravel() == group):
            leader[member] = seen.setdefault(exact_key(texts[member]), int(member))
    return leader


def candidate_pairs(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(i, j) with i < j that share at least one band, unique."""
    import numpy as np
    pairs = []
    for band in range(bands):
        columns = signature[:, band * rows : (band + 1) * rows].astype(np.uint64)
        keys = np.zeros(len(signature), np.uint64)
        for column in columns.T:
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + column
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
        sizes = np.diff(np.concatenate([starts, [len(keys)]]))
        twos = starts[sizes == 2]  # nearly every shared bucket is a pair: no Python loop for those
        pairs.append(np.stack([order[twos], order[twos + 1]], 1))
        for start, size in zip(starts[sizes > 2], sizes[sizes > 2]):
            bucket = order[start : start + size]
            if size > LARGE_BUCKET:
                pairs.append(np.stack([np.full(len(bucket) - 1, bucket[0]), bucket[1:]], 1))
            else:
                i, j = np.triu_indices(len(bucket), 1)
                pairs.append(np.stack([bucket[i], bucket[j]], 1))
    if not pairs:
        return np.zeros((0, 2), np.int64)
    found = np.sort(np.concatenate(pairs), axis=1)
    return np.unique(found, axis=0)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard of two shingle sets (see shingle_set); 0 when either is empty."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def shingle_set(text: str, ngram: int = 5) -> frozenset[int]:
    """One text's hashed shingles, as the bulk path computes them."""
    from curate.filters.minhash import shingle_hashes
    return frozenset(shingle_hashes([text], ngram)[0].tolist())


def verified_pairs(sketches: Sketches, rows: np.ndarray, config: DedupConfig,
                   cross_at: int | None = None) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) among `rows` (indices into sketches) with Jaccard >= threshold; with
    `cross_at`, only pairs with i < cross_at <= j (one text from each side)."""
    from curate.filters.minhash import choose_bands
    bands, band_rows = choose_bands(config.threshold, config.num_perm)
    pairs = rows[candidate_pairs(sketches.signature[rows], bands, band_rows)]
    if cross_at is not None:
        pairs = pairs[(pairs[:, 0] < cross_at) & (pairs[:, 1] >= cross_at)]
    similarity = exact_jaccards(pairs, sketches.shingles)
    keep = similarity >= config.threshold
    return [(int(a), int(b), float(j)) for (a, b), j in zip(pairs[keep], similarity[keep])]


def exact_jaccards(pairs: np.ndarray, shingles: list[np.ndarray]) -> np.ndarray:
    """Jaccard of the shingle sets of every (i, j) pair, in one sort instead of a set per text.

    Each pair's two shingle arrays are tagged (pair, value, side) and sorted together: a run of
    equal (pair, value) is one element of the union, and it is shared when both sides occur."""
    import numpy as np
    if len(pairs) == 0:
        return np.zeros(0)
    left = [shingles[i] for i in pairs[:, 0]]
    right = [shingles[j] for j in pairs[:, 1]]
    sizes = np.array([len(x) for x in left] + [len(x) for x in right])
    pair_of = np.tile(np.arange(len(pairs), dtype=np.uint64), 2).repeat(sizes)
    side = np.repeat(np.array([0, 1], np.uint64), [sizes[: len(pairs)].sum(), sizes[len(pairs) :].sum()])
    keys = (pair_of << np.uint64(33)) | (np.concatenate(left + right).astype(np.uint64) << np.uint64(1)) | side
    keys.sort()
    element = keys >> np.uint64(1)
    starts = np.flatnonzero(np.concatenate([[True], element[1:] != element[:-1]]))
    ends = np.concatenate([starts[1:], [len(keys)]]) - 1
    shared = ((keys[starts] & np.uint64(1)) == 0) & ((keys[ends] & np.uint64(1)) == 1)
    owner = (keys[starts] >> np.uint64(33)).astype(np.int64)
    union = np.bincount(owner, minlength=len(pairs))
    common = np.bincount(owner[shared], minlength=len(pairs))
    return np.divide(common, union, out=np.zeros(len(pairs)), where=union > 0)


def near_duplicate_pairs(texts: list[str], config: DedupConfig) -> list[tuple[int, int, float]]:
    """Verified (i, j, jaccard) pairs among `texts` with Jaccard >= threshold."""
    import numpy as np
    return verified_pairs(sketch(texts, config), np.arange(len(texts)), config)


def cross_duplicates(queries: list[str], reference: list[str],
                     config: DedupConfig) -> dict[int, tuple[str, int, float]]:
    """For each query that duplicates a reference text: (kind, reference index, similarity).

    Exact beats near, then the higher Jaccard, then the earlier reference text. Empty
    queries duplicate nothing."""
    import numpy as np
    texts = reference + queries
    sketches = sketch(texts, config)
    leader = exact_groups(texts, sketches.signature)
    first: dict[int, int] = {}
    for index in range(len(reference)):
        first.setdefault(int(leader[index]), index)
    found: dict[int, tuple[str, int, float]] = {}
    for query in range(len(queries)):
        # a query's group leader is a reference text when one equals it (references come first)
        ref = int(leader[len(reference) + query])
        if ref < len(reference) and queries[query].strip():
            found[query] = ("exact", first.get(ref, ref), 1.0)
    for a, b, similarity in verified_pairs(sketches, np.arange(len(reference) + len(queries)), config,
                                           cross_at=len(reference)):
        best = found.get(b - len(reference))
        if best is None or (best[0] == "near" and (similarity, -a) > (best[2], -best[1])):
            found[b - len(reference)] = ("near", a, similarity)
    return found


@dataclass
class Clusters:
    groups: UnionFind
    leaders: np.ndarray  # per text, the first text it exactly equals (itself if none)
    pairs: list[tuple[int, int]]  # every verified link: (first of an exact group, copy) and near pairs


def clusters(texts: list[str], config: DedupConfig) -> Clusters:
    """Union-find over exact and near duplicates.

    Only the first text of each exact group is compared for near duplicates."""
    import numpy as np
    sketches = sketch(texts, config)
    leaders = exact_groups(texts, sketches.signature)
    groups = UnionFind(len(texts))
    copies = np.flatnonzero(leaders != np.arange(len(texts)))
    pairs = [(int(leaders[i]), int(i)) for i in copies]
    pairs += [(i, j) for i, j, _ in verified_pairs(sketches, np.flatnonzero(leaders == np.arange(len(texts))), config)]
    for i, j in pairs:
        groups.union(i, j)
    return Clusters(groups, leaders, pairs)


def _keeper(members: list[int], records: list[Record], texts: list[str], keep: str) -> int:
    if keep == "longest":
        return max(members, key=lambda m: (len(texts[m]), -m))
    if keep == "best-score":
        def score(m: int) -> float:
            value = (records[m].meta.get("judge") or {}).get("score")
            return float(value) if isinstance(value, (int, float)) else float("-inf")
        return max(members, key=lambda m: (score(m), -m))
    return min(members)


def dedup_records(records: list[Record], config: DedupConfig | None = None) -> tuple[list[Record], list[tuple[Record, str]]]:
    """Records to keep (file order, meta.dedup added) and removed ones with their reason."""
    config = config or DedupConfig()
    texts = [record_text(record, config.fields) for record in records]
    found = clusters(texts, config)
    groups, leaders = found.groups, found.leaders
    members: dict[int, list[int]] = {}
    for index in range(len(records)):
        members.setdefault(groups.find(index), []).append(index)
    kept: list[Record] = []
    removed: list[tuple[Record, str]] = []
    keeper_of = {root: _keeper(group, records, texts, config.keep) for root, group in members.items()}
    for index, record in enumerate(records):
        root = groups.find(index)
        keeper = keeper_of[root]
        info = {"cluster": records[keeper].id, "size": len(members[root])}
        updated = record.model_copy(update={"meta": {**record.meta, "dedup": info}})
        if index == keeper:
            kept.append(updated)
        else:
            reason = "exact_duplicate" if leaders[index] == leaders[keeper] else "near_duplicate"
            removed.append((updated, reason))
    return kept, removed


def dedup(input: str | Path, output: str | Path, config: DedupConfig | None = None,
          rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Remove exact and near duplicates from a record file."""
    config = config or DedupConfig()
    summary = Summary("dedup")
    records = list(track(read_records(input, mapping), "reading"))
    summary.read = len(records)
    kept, removed = dedup_records(records, config)
    for _, reason in removed:
        summary.dropped[reason] += 1
    summary.written = write_records(output, kept)
    if rejects:
        write_records(rejects, (rejected(record, "dedup", reason) for record, reason in removed))
    return summary
