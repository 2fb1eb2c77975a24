"""Records of one set that duplicate records of another: decontamination and split leaks.

`curate dedup --against EVAL.jsonl` removes the training records that match an evaluation
record, in one of three ways (`--match`):

- exact: the same text after normalisation (curate.text.duplicate_key);
- ngram: any shared word n-gram, 13 by default as in GPT-3's contamination study (64-bit
  n-gram hashes: at millions of n-grams, 32 bits would collide);
- minhash: Jaccard of the 5-gram sets >= --threshold, through the same sketches and checks
  as `curate dedup` (curate/filters/lsh.py).

The matched evaluation record goes to meta.dedup = {against, match, id, similarity}; match is
the --match value that found it, or "exact" where --match minhash met an exact copy.

Memory: the evaluation set's hashes (exact and ngram: 8 bytes an n-gram), and for minhash its
sketches with those of the input, on disk as in `curate dedup`; the input streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from curate.io import display_name, read_records
from curate.sinks import RowSink, record_row
from curate.summary import Summary, rejected, track

if TYPE_CHECKING:
    from curate.filters.dedup import DedupConfig
    from curate.filters.lsh import SketchStore

Match = tuple[Literal["exact", "near", "minhash", "ngram"], int, float]  # kind, reference index, similarity
CHUNK = 20_000


def exact_matches(reference: list[str], queries: Iterable[str]) -> Iterator[Match | None]:
    """For each query, the first reference text with the same duplicate_key, if any (an empty
    one matches nothing)."""
    from curate.filters.minhash import NO_TEXT, exact_hashes

    index = ExactIndex(exact_hashes(reference))
    for chunk in _chunks(queries):
        hashes = exact_hashes(chunk)
        for key, ref in zip(hashes, index.first_equal(hashes)):
            yield ("exact", int(ref), 1.0) if ref >= 0 and key != NO_TEXT else None


class ExactIndex:
    """Reference texts by the hash of their duplicate_key."""

    def __init__(self, hashes: np.ndarray):
        self.order = np.argsort(hashes, kind="stable")  # equal hashes: the earliest text first
        self.hashes = hashes[self.order]

    def first_equal(self, hashes: np.ndarray) -> np.ndarray:
        """Per hash, the first reference text with it, or -1."""
        if not len(self.hashes):
            return np.full(len(hashes), -1, np.int64)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[at] == hashes, self.order[at], -1)


def ngram_matches(reference: list[str], queries: Iterable[str], n: int) -> Iterator[Match | None]:
    """For each query, the first reference text sharing a word n-gram with it, if any; the
    similarity is the share of the query's n-grams found in the reference set."""
    from curate.filters.minhash import shingle_hashes

    grams, offsets = shingle_hashes(reference, n, wide=True)
    owner = np.repeat(np.arange(len(reference)), np.diff(offsets))
    order = np.lexsort((owner, grams))  # by n-gram, then the earliest reference text
    grams, owner = grams[order], owner[order]
    for chunk in _chunks(queries):
        found, bounds = shingle_hashes(chunk, n, wide=True)
        at = np.minimum(np.searchsorted(grams, found), max(len(grams) - 1, 0))
        hit = (grams[at] == found) if len(grams) else np.zeros(len(found), bool)
        for index in range(len(chunk)):
            part = slice(bounds[index], bounds[index + 1])
            hits = np.flatnonzero(hit[part])
            if len(hits):
                yield "ngram", int(owner[at[part][hits].min()]), len(hits) / (bounds[index + 1] - bounds[index])
            else:
                yield None


def near_matches(store: SketchStore, reference: np.ndarray, query: np.ndarray) -> dict[int, Match]:
    """{query: match} for the texts of `store` flagged in `query` (a mask), each with the text
    flagged in `reference` of highest Jaccard among those it was found to clear the threshold
    with; both as indices into the store. Texts in neither are left out."""
    from curate.filters.linking import band_buckets

    best: dict[int, tuple[float, int]] = {}
    present = np.flatnonzero(store.has_shingles() & (reference | query))
    for band in range(store.bands):
        bucket, members = band_buckets(store, band, present)
        is_reference = reference[members]
        size = int(bucket.max(initial=-1)) + 1
        mixed = (np.bincount(bucket[is_reference], minlength=size) > 0) & (
            np.bincount(bucket[~is_reference], minlength=size) > 0)
        _match_in_buckets(store, bucket, members, is_reference, mixed, best)
    return {found: ("near", ref, similarity) for found, (similarity, ref) in best.items()}


def _match_in_buckets(store: SketchStore, bucket: np.ndarray, members: np.ndarray, is_reference: np.ndarray,
                      mixed: np.ndarray, best: dict[int, tuple[float, int]]) -> None:
    """Round k compares each unmatched query of a bucket with the bucket's k-th reference text."""
    keep = mixed[bucket]
    refs, ref_bucket = members[keep & is_reference], bucket[keep & is_reference]
    queries, query_bucket = members[keep & ~is_reference], bucket[keep & ~is_reference]
    ref_start = np.searchsorted(ref_bucket, np.arange(len(mixed)))
    ref_count = np.bincount(ref_bucket, minlength=len(mixed))
    round_ = 0
    while len(queries):
        alive = ref_count[query_bucket] > round_
        queries, query_bucket = queries[alive], query_bucket[alive]
        against = refs[ref_start[query_bucket] + round_]
        match = store.similar(against, queries)
        for query, ref, value in zip(queries[match], against[match], store.jaccards(against[match], queries[match])):
            current = best.get(int(query))
            if current is None or value > current[0] or (value == current[0] and ref < current[1]):
                best[int(query)] = (float(value), int(ref))
        queries, query_bucket = queries[~match], query_bucket[~match]
        round_ += 1


def first_and_rest(count: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the first `first` of `count` texts (the references), and of the others."""
    reference = np.arange(count) < first
    return reference, ~reference


def decontaminate(source: str | Path, input: str | Path, output: str | Path, rejects: str | Path | None,
                  mapping: dict[str, str] | None, config: DedupConfig, work: Path) -> Summary:
    """Write the records of `source` that match no record of `config.against`."""
    from curate.filters.dedup import sketcher_of
    from curate.filters.lsh import SketchStore
    from curate.filters.sketching import record_text

    assert config.against is not None
    summary = Summary("dedup")
    evaluation = list(read_records(config.against))
    eval_ids = [record.id for record in evaluation]
    eval_texts = [record_text(record, config.fields) for record in evaluation]

    def texts() -> Iterator[str]:
        for record in track(read_records(source, mapping), f"reading {display_name(input)}"):
            yield record_text(record, config.fields)

    if config.match == "exact":
        matches: Iterable[Match | None] = exact_matches(eval_texts, texts())
    elif config.match == "ngram":
        matches = ngram_matches(eval_texts, texts(), config.ngram_size)
    else:
        store = SketchStore(work, sketcher_of(config))
        for chunk in _chunks(chain(eval_texts, texts())):
            store.add(chunk)
        store.finish()
        # named as --match names it ("near" is what split calls it in its leaks)
        near = {index - len(eval_texts): ("minhash", ref, similarity) for index, (_, ref, similarity)
                in near_matches(store, *first_and_rest(store.count, len(eval_texts))).items()}
        assert store.exact is not None
        exact = ExactIndex(store.exact[: len(eval_texts)]).first_equal(store.exact[len(eval_texts) :])
        empty = ~store.has_shingles()[len(eval_texts) :]
        matches = (("exact", int(ref), 1.0) if ref >= 0 and not blank else near.get(index)
                   for index, (ref, blank) in enumerate(zip(exact, empty)))
    against = display_name(config.against)
    with ExitStack() as files:
        out = files.enter_context(RowSink(output))
        removed = files.enter_context(RowSink(rejects)) if rejects is not None else None
        for record, match in zip(read_records(source, mapping), matches):
            summary.read += 1
            if match is None:
                out.write(record_row(record))
                summary.written += 1
                continue
            kind, ref, similarity = match
            info = {"against": against, "match": kind, "id": eval_ids[ref], "similarity": round(similarity, 4)}
            summary.dropped["contaminated"] += 1
            if removed is not None:
                marked = record.model_copy(update={"meta": {**record.meta, "dedup": info}})
                removed.write(record_row(rejected(marked, "dedup", "contaminated")))
    return summary


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


__all__ = ["ExactIndex", "decontaminate", "exact_matches", "ngram_matches", "near_matches"]
