"""Near-duplicate clusters of millions of texts, out of core: MinHash LSH with verified links.

Sketching (`SketchStore.append`, chunk by chunk): each text's MinHash signature, its sorted
set of shingle hashes, the hash of its normalised text and its band keys go to files in a
work folder, memory-mapped when read back. Memory then holds a few small arrays per text
(set offsets, the union-find parent), never the texts or their sketches.

Linking the sketches into clusters is curate/filters/linking.py.

A comparison is decided from the signatures where the estimate is clear (more than 3.5
standard deviations from the threshold: 0.124 at 0.8 and 128 permutations; about one pair in
2,000 right at the threshold is decided wrongly this way) and by the exact Jaccard of the two
shingle sets otherwise (`Verifier`; on Ray, large batches are cut into parts verified by tasks,
which map the same files: verdicts are a pure function of the pair, so the clusters are the
same wherever they ran). tests/test_dedup_real.py measures recall on real templated prompts
against truth built without any banding; bench/dedup.py --real on the whole T0 file.
"""

from __future__ import annotations

import math
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from curate.errors import UsageError
from curate.outputs import owner, owner_is_dead
from curate.filters.minhash import (choose_bands, exact_hashes, normalised_forms, permutations,
                                    shingle_hashes, signatures)

MARGIN_SIGMAS = 3.5  # estimates this many standard deviations from the threshold decide without the sets
MIX = np.uint64(0x9E3779B97F4A7C15)  # a 64-bit odd constant (the golden ratio) that mixes keys


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """For sorted columns of equal length: True where a run of equal rows begins (empty in, empty out)."""
    if not len(columns[0]):
        return np.zeros(0, bool)
    changed = np.zeros(len(columns[0]) - 1, bool)
    for column in columns:
        changed |= column[1:] != column[:-1]
    return np.concatenate([[True], changed])


def band_keys(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """[texts x bands] uint64: one hash of each band's rows of the signature."""
    keys = np.zeros((len(signature), bands), np.uint64)
    for band in range(bands):
        for column in signature[:, band * rows : (band + 1) * rows].T.astype(np.uint64):
            keys[:, band] = keys[:, band] * MIX + column
        keys[:, band] += np.uint64(band)  # an empty band of one text is not the same key in another band
    return keys


def unique_sorted_sets(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each text's shingle hashes as a sorted set (duplicates removed), flat, with offsets."""
    text_of = np.repeat(np.arange(len(offsets) - 1, dtype=np.uint64), np.diff(offsets))
    keys = np.sort((text_of << np.uint64(32)) | hashes.astype(np.uint64))
    # the text is the high half: each text's run stays where it was, and a repeat is a key
    # equal to the one before it (np.unique does this 50x slower)
    first = run_starts(keys)
    repeats_before = np.concatenate([[0], np.cumsum(~first)])
    return keys[first].astype(np.uint32), offsets - repeats_before[offsets]  # the cast keeps the low half


def mapped(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only memory map of an array file (an empty array for an empty shape)."""
    if 0 in shape:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


class Sketch(NamedTuple):
    signature: np.ndarray  # [texts x num_perm] uint32
    sets: np.ndarray  # every text's sorted shingle set, flat uint32
    set_sizes: np.ndarray  # per text
    bands: np.ndarray  # [texts x bands] uint64 band keys
    exact: np.ndarray  # per text, the 64-bit hash of its duplicate_key (NO_TEXT for an empty one)


class Sketcher:
    """Turns texts into sketches; holds only its parameters, so it pickles to worker processes."""

    def __init__(self, num_perm: int, seed: int, ngram: int, threshold: float):
        self.num_perm, self.ngram, self.threshold = num_perm, ngram, threshold
        self.bands, self.rows = choose_bands(threshold, num_perm)
        self.a, self.b = permutations(num_perm, seed)

    def sketch(self, texts: list[str]) -> Sketch:
        normalised = normalised_forms(texts)
        hashes, offsets = shingle_hashes(texts, self.ngram, normalised=normalised)
        signature = signatures(hashes, offsets, self.a, self.b)
        sets, set_offsets = unique_sorted_sets(hashes, offsets)
        exact = exact_hashes(texts, normalised)
        return Sketch(signature, sets, np.diff(set_offsets), band_keys(signature, self.bands, self.rows), exact)


class SketchStore:
    """The sketches of every text added, in files under `folder`.

    Files: signatures (texts x num_perm uint32), shingle sets (flat uint32, with an offsets array
    kept in memory: 8 bytes a text), and one band-key file per band. `finish()` maps them."""

    def __init__(self, folder: Path, sketcher: Sketcher):
        self.folder, self.sketcher = folder, sketcher
        self.num_perm, self.threshold = sketcher.num_perm, sketcher.threshold
        # an estimate from k permutations has a standard deviation of sqrt(J (1 - J) / k)
        self.margin = MARGIN_SIGMAS * math.sqrt(max(self.threshold * (1 - self.threshold), 0.01) / self.num_perm)
        self.bands = sketcher.bands
        self.count = 0
        self._set_sizes: list[np.ndarray] = []
        self._exact: list[np.ndarray] = []
        self._files = {name: open(folder / f"{name}.bin", "wb")
                       for name in ("signatures", "sets", *(f"band{b}" for b in range(self.bands)))}
        self.signature: np.ndarray | None = None
        self.sets: np.ndarray | None = None
        self.set_offsets: np.ndarray | None = None
        self.exact: np.ndarray | None = None
        self.verifier: Verifier | None = None  # made by finish()
        self.rejections = Rejections()
        self.pool: Any = None
        self.pool_workers = 1

    def append(self, sketch: Sketch) -> None:
        """Write a chunk's sketches after those of the chunks before it."""
        self._files["signatures"].write(sketch.signature.tobytes())
        self._files["sets"].write(sketch.sets.tobytes())
        for band in range(self.bands):
            self._files[f"band{band}"].write(np.ascontiguousarray(sketch.bands[:, band]).tobytes())
        self._set_sizes.append(sketch.set_sizes)
        self._exact.append(sketch.exact)
        self.count += len(sketch.exact)

    def add(self, texts: list[str]) -> None:
        self.append(self.sketcher.sketch(texts))

    def finish(self) -> None:
        for stream in self._files.values():
            stream.close()
        assert self.count < 2**32, "more texts than Rejections' pair keys hold"
        sizes = np.concatenate(self._set_sizes) if self._set_sizes else np.zeros(0, np.int64)
        self.set_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.exact = np.concatenate(self._exact) if self._exact else np.zeros(0, np.uint64)
        self._set_sizes, self._exact = [], []
        self.signature = self._map("signatures", np.uint32, (self.count, self.num_perm))
        self.sets = self._map("sets", np.uint32, (int(self.set_offsets[-1]),))
        self.verifier = Verifier(self.signature, self.sets, self.set_offsets, self.threshold, self.margin)

    def band(self, band: int) -> np.ndarray:
        return self._map(f"band{band}", np.uint64, (self.count,))

    def _map(self, name: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        return mapped(self.folder / f"{name}.bin", dtype, shape)

    def has_shingles(self) -> np.ndarray:
        assert self.set_offsets is not None
        return np.diff(self.set_offsets) > 0

    # -- comparing two texts

    def similar(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """For each pair (a[k], b[k]): is their Jaccard >= the threshold? A pair found apart
        before is not verified again (see Rejections)."""
        keys = self.rejections.keys(a, b)
        fresh = np.flatnonzero(~self.rejections.known(keys))
        verdict = np.zeros(len(a), bool)
        verdict[fresh] = self._verified(a[fresh], b[fresh])
        self.rejections.add(keys[fresh[~verdict[fresh]]])
        return verdict

    def _verified(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Large batches are cut into parts verified by the pool's workers, when one is attached
        (attach_pool)."""
        assert self.verifier is not None, "similar before finish"
        if self.pool is None or len(a) < 2 * VERIFY_IN_POOL:
            return self.verifier.similar(a, b)
        from curate.parallel import in_order

        where = (str(self.folder), self.count, self.num_perm, self.threshold, self.margin)
        part = max(VERIFY_IN_POOL, -(-len(a) // self.pool_workers))  # one part per worker, none tiny
        calls = ((_similar_part, (where, a[at:at + part], b[at:at + part])) for at in range(0, len(a), part))
        return np.concatenate(list(in_order(self.pool, self.pool_workers, calls)))

    def jaccards(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        assert self.verifier is not None, "jaccards before finish"
        return self.verifier.jaccards(a, b)

    def attach_pool(self, pool: Any, workers: int) -> None:
        """Verify large batches of pairs in `pool` (a process pool or RayPool; its workers
        open this store's files, so on a cluster the work folder must be on a shared disk)."""
        assert self.set_offsets is not None, "attach_pool before finish"
        if pool is not None and not (self.folder / "set_offsets.bin").exists():
            self.set_offsets.tofile(self.folder / "set_offsets.bin")  # what else Verifier.open needs
        self.pool, self.pool_workers = pool, workers


class Rejections:
    """Pairs verified apart, so that a pair is mostly verified once however many bands it shares:
    a pair just under the threshold shares nearly as many bands as one at it (on the T0 prompts,
    48% of the exact Jaccards were of pairs already rejected in an earlier band).

    New pairs wait in a list and are sorted in once they outnumber the sorted ones, so sorting
    costs O(n log n) in all; a pair still waiting can be verified again (time, never a different
    verdict: verdicts are a pure function of the pair). Memory: 8 bytes a pair verified apart, at
    most one a comparison made, and while sorting in, twice that. Every user of SketchStore.similar
    keeps one (dedup, --against, split's check of evaluation prompts against train)."""

    def __init__(self) -> None:
        self.sorted = np.zeros(0, np.uint64)
        self._waiting: list[np.ndarray] = []
        self._waiting_count = 0

    @staticmethod
    def keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """One uint64 per unordered pair of text indices (each below 2**32)."""
        low, high = np.minimum(a, b).astype(np.uint64), np.maximum(a, b).astype(np.uint64)
        return (low << np.uint64(32)) | high

    def known(self, keys: np.ndarray) -> np.ndarray:
        if not len(self.sorted) or not len(keys):
            return np.zeros(len(keys), bool)
        at = np.minimum(np.searchsorted(self.sorted, keys), len(self.sorted) - 1)
        return self.sorted[at] == keys

    def add(self, keys: np.ndarray) -> None:
        self._waiting.append(keys)
        self._waiting_count += len(keys)
        if self._waiting_count > len(self.sorted):
            merged = np.concatenate([self.sorted, *self._waiting])
            merged.sort()
            self.sorted, self._waiting, self._waiting_count = merged, [], 0


VERIFY_IN_POOL = 2_000  # pairs: a batch of twice this is cut into one part per worker (none smaller),
# as pairs cost 1-20 us each to verify and a part ~0.5 ms (a process) or ~2 ms (a Ray task) to send


def _similar_part(where: tuple[str, int, int, float, float], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # the files are mapped anew for each part (a few system calls) and unmapped after it, so a
    # worker that outlives the run (on a cluster it joined) holds no deleted file open
    return Verifier.open(*where).similar(a, b)


class Verifier:
    """Decides whether pairs of texts are near duplicates, from their signatures and shingle
    sets (memory-mapped); the one thing a worker that verifies pairs needs of a store."""

    def __init__(self, signature: np.ndarray, sets: np.ndarray, set_offsets: np.ndarray, threshold: float,
                 margin: float):
        self.signature, self.sets, self.set_offsets = signature, sets, set_offsets
        self.threshold, self.margin = threshold, margin

    @classmethod
    def open(cls, folder: str, count: int, num_perm: int, threshold: float, margin: float) -> Verifier:
        path = Path(folder)
        if not (path / "set_offsets.bin").exists():
            raise UsageError(f"dedup's work folder {folder} is not on this machine ({socket.gethostname()}): "
                             "on a cluster give --work-dir on a file system every node shares")
        offsets = mapped(path / "set_offsets.bin", np.int64, (count + 1,))
        return cls(mapped(path / "signatures.bin", np.uint32, (count, num_perm)),
                   mapped(path / "sets.bin", np.uint32, (int(offsets[-1]),)), offsets, threshold, margin)

    def similar(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """For each pair (a[k], b[k]): is their Jaccard >= the threshold?"""
        if len(a) == 0:
            return np.zeros(0, bool)
        verdict, unsure_mask = self.decided(self.estimates(a, b))
        unsure = np.flatnonzero(unsure_mask)
        if len(unsure):
            verdict[unsure] = self.jaccards(a[unsure], b[unsure]) >= self.threshold
        return verdict

    def decided(self, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(similar by the estimate alone, too near the threshold to tell): the one place the
        estimate is judged, so every path gives a pair the same verdict."""
        unsure = np.abs(estimate - self.threshold) < self.margin
        return (estimate >= self.threshold + self.margin) & ~unsure, unsure

    def estimates(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Each pair's Jaccard as its signatures estimate it: the share of equal minima."""
        estimate = np.empty(len(a))
        for start in range(0, len(a), 65536):  # bounded gathers from the mapped signatures
            part = slice(start, start + 65536)
            estimate[part] = np.count_nonzero(self.signature[a[part]] == self.signature[b[part]], axis=1)
        return estimate / self.signature.shape[1]

    def jaccards(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Exact Jaccard of the shingle sets of each pair, in batches of bounded size."""
        out = np.empty(len(a))
        sizes = np.diff(self.set_offsets)
        elements = np.cumsum(sizes[a] + sizes[b])
        start = 0
        while start < len(a):  # pairs of up to about 4M set elements at a time
            done = elements[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(elements, done + 4_000_000, side="right")))
            out[start:stop] = self._jaccard_batch(a[start:stop], b[start:stop])
            start = stop
        return out

    def _jaccard_batch(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        pair = np.arange(len(a), dtype=np.uint64)
        keyed = []
        for side in (a, b):
            lo, hi = self.set_offsets[side], self.set_offsets[side + 1]
            lengths = hi - lo
            flat = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
            keyed.append(((np.repeat(pair, lengths) << np.uint64(32)) | self.sets[flat].astype(np.uint64), lengths))
        (left, left_sizes), (right, right_sizes) = keyed
        # each set is sorted and pairs are in order, so the (pair, value) keys of each side are
        # sorted already: a stable sort of both (timsort: one linear merge of the two runs) puts
        # each shared value beside its twin; a set holds a value once, so twins are one a side
        merged = np.sort(np.concatenate([left, right]), kind="stable")
        twins = merged[1:][merged[1:] == merged[:-1]]
        shared = np.bincount((twins >> np.uint64(32)).astype(np.int64), minlength=len(a))
        union = left_sizes + right_sizes - shared
        return np.divide(shared, union, out=np.zeros(len(a)), where=union > 0)


def work_folder(near: Path | str | None) -> tempfile.TemporaryDirectory:
    """A folder for the sketches, on the disk of `near` (the output's folder) rather than in /tmp,
    which is often memory-backed; removed when done. A run killed outright (SIGKILL, the OOM
    killer) cannot remove its own, so the folders of runs on this machine whose process is gone
    are removed here first: they can hold gigabytes."""
    # an output folder made only at the end: the disk it will be on
    base = nearest_folder(Path(near)) if near is not None else None
    remove_abandoned(base or Path(tempfile.gettempdir()))
    try:
        folder = tempfile.TemporaryDirectory(prefix=_PREFIX, dir=base)
    except OSError as error:  # a read-only disk: say where, and what moves it
        raise UsageError(f"{base or tempfile.gettempdir()}: cannot make dedup's work folder there "
                         f"({error.strerror or error}); give --work-dir a folder on a disk you can write to") from None
    (Path(folder.name) / _OWNER).write_text(owner() + "\n", encoding="utf-8")
    return folder


def nearest_folder(path: Path) -> Path:
    """`path` where it is a folder, else its nearest parent that is: the disk a folder not made
    yet will be on."""
    path = path.absolute()
    while not path.is_dir() and path.parent != path:
        path = path.parent
    return path


_PREFIX, _OWNER = ".curate-dedup-", "owner"


def remove_abandoned(base: Path) -> None:
    """Remove work folders under `base` left by dead dedup runs of this machine."""
    for folder in base.glob(f"{_PREFIX}*"):
        try:
            tag = (folder / _OWNER).read_text(encoding="utf-8").strip()
        except OSError:
            continue  # not ours to judge: being created, or written by something else
        if owner_is_dead(tag):
            shutil.rmtree(folder, ignore_errors=True)


