"""`curate dedup`: exact duplicates after normalisation, then MinHash LSH near duplicates.

Signatures are datasketch's own scheme computed in bulk (curate/filters/minhash.py). Bands x
rows are chosen for recall at the threshold, not for balance: datasketch's optimiser picks
9 x 13 at 0.8/128, which finds only ~40% of the pairs at J = 0.8; we take 21 x 6 (99.8%)
and pay for the extra candidates with a check of every link (curate/filters/linking.py).
One record per cluster stays.

The input is read twice: once to sketch every record into a work folder on the output's disk
(`--work-dir`), once to write each record where it belongs. Memory: about 60 bytes a record
(offsets, lengths, scores, id hashes and each id's first record, the union-find parent), 8
bytes a pair verified apart (3 pairs a record on bench/dedup.py's 200k scale file), one chunk
of records, and while linking, one
band's bucket arrays (~24 bytes a record) and up to ~100 MB for prefix filtering; the sketches
(about 1.3 KB a record at 128 permutations) stay on disk, memory-mapped, beside a spool of the
records as they will be written (their own size again). Standard input is
copied to the work folder first, as it can be read only once.

Reasons do not depend on which record is kept: `exact_duplicate` is a record with an exact
copy in its cluster (the kept record or any other member), `near_duplicate` one without. A
record whose compared text is empty (say --fields input, where most inputs are) duplicates
nothing and stays; the summary counts them as `empty_text`.
meta.dedup is {cluster: the id of the record its cluster keeps, size}; cluster is null where the
cluster keeps none, all its records repeating ids first held in other clusters (each goes as `duplicate_id`):
naming it by that repeated id would give it the cluster of the record whose id it repeats.
With `--against FILE`, records that duplicate any record of FILE (an evaluation set) are
removed instead, as `contaminated`, with the matched id in meta.dedup.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from curate.errors import DataError, UsageError
from curate.executors import ExecutorOptions
from curate.io import display_name, ensure_distinct, readable_twice, sink_format
from curate.sinks import RowSink
from curate.filters.work_dirs import beside, missing_folders, no_space, outside_outputs, made_work_dir
from curate.records import Record
from curate.summary import Summary, counting, track

if TYPE_CHECKING:  # numpy and the MinHash kernels load when dedup runs, not when the CLI starts
    import numpy as np

    from curate.filters.lsh import Sketcher, SketchStore

CHUNK = 20_000  # texts sketched at a time
NO_SCORES = ("--keep best-score: no record has a meta.judge.score (curate judge writes one); "
             "use --keep first or --keep longest")
TEXT_FIELDS = ("instruction", "input", "output", "system", "history", "chosen", "rejected", "responses")


class DedupConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    # the prompt as the user gives it: Alpaca rows that share an instruction ("Translate the
    # sentence into French.") and differ in their input are different prompts
    fields: list[str] = Field(["instruction", "input"], description="Fields compared, joined: any of "
                              + ", ".join(TEXT_FIELDS) + " (e.g. instruction,input,output to compare whole "
                              "examples); a record with all of them empty duplicates nothing.")
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of shingle sets at which two "
                             "records are near duplicates.")
    num_perm: int = Field(128, ge=16, description="MinHash permutations.")
    ngram: int = Field(5, ge=1, description="Shingle length: words, or characters for Chinese/Japanese text.")
    keep: Literal["first", "longest", "best-score"] = Field("first", description="Which record of a cluster "
                                                            "stays: the first in the file, the longest (all its "
                                                            "texts, the answer too, whitespace runs counted once), "
                                                            "or the highest meta.judge.score.")
    seed: int = Field(1, description="MinHash seed (datasketch's default is 1).")
    workers: int = Field(2, ge=1, description="Processes that read, check and sketch a large JSON Lines input "
                         "in parallel.")
    against: Path | None = Field(None, description="Decontaminate instead: remove the records that duplicate "
                                 "any record of this file (an evaluation set), as --match says; the matched id "
                                 "goes to meta.dedup.")
    match: Literal["exact", "ngram", "minhash"] = Field("minhash", description="With --against: exact (the same "
                                                        "normalised text), ngram (any shared word 13-gram, as in "
                                                        "GPT-3's contamination study; --ngram-size) or minhash "
                                                        "(Jaccard >= --threshold).")
    ngram_size: int = Field(13, ge=1, description="With --match ngram: the n-gram length.")
    work_dir: Path | None = Field(None, description="Folder for the sketches (about 1.3 KB a record) and a copy "
                                  "of the records as they will be written, made if missing and removed after "
                                  "(default: beside the output, on its disk; removed at the end).")

    @field_validator("fields", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("fields")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        # a misspelt field reads as empty in every record: all would be one exact group
        unknown = [name for name in value if name not in TEXT_FIELDS]
        if unknown or not value:
            raise ValueError(f"unknown field {', '.join(map(repr, unknown)) or '(none given)'}; choose from "
                             f"{', '.join(TEXT_FIELDS)}, comma-separated")
        return value


# ---------------------------------------------------------------- clusters of texts


@dataclass
class Clusters:
    """Per text: its cluster (the smallest index in it) and the first text of its exact group."""

    labels: np.ndarray
    leaders: np.ndarray
    compared: int = 0

    def sizes(self) -> np.ndarray:
        import numpy as np

        return np.bincount(self.labels, minlength=len(self.labels))[self.labels]

    def exact_copies(self) -> np.ndarray:
        """Per text: does its exact group hold another text (a copy of it in its cluster)?"""
        import numpy as np

        return np.bincount(self.leaders, minlength=len(self.leaders))[self.leaders] > 1


def cluster_store(store: SketchStore) -> Clusters:
    """Exact groups, then verified near-duplicate links between their first texts."""
    import numpy as np

    from curate.filters.linking import Components, link_exact, link_near

    components = Components(store.count)
    leaders = link_exact(store, components)
    candidates = np.flatnonzero((leaders == np.arange(store.count)) & store.has_shingles())
    compared = link_near(store, components, candidates)
    return Clusters(components.labels(), leaders, compared)


@contextmanager
def verifying_pool(store: SketchStore, config: DedupConfig) -> Iterator[None]:
    """On Ray, large batches of candidate pairs are verified by `config.workers` tasks while
    linking runs here: each batch's verdicts are a pure function of its pairs, so the clusters
    do not depend on where they were verified. Locally they are verified in this process: on
    one machine, worker processes made linking no faster (5.0-6.7 s either way at 200k
    records on 2 cores), as the sketches' pages are read from one disk and cache."""
    if config.executor != "ray":
        yield
        return
    from curate.parallel import no_setup, process_pool

    with process_pool(config.workers, no_setup, (), config.executor, config.ray_address) as pool:
        store.attach_pool(pool, config.workers)
        try:
            yield
        finally:
            store.attach_pool(None, 1)


def sketcher_of(config: DedupConfig) -> Sketcher:
    from curate.filters.lsh import Sketcher

    return Sketcher(config.num_perm, config.seed, config.ngram, config.threshold)


def sketched(texts: list[str], folder: Path, config: DedupConfig) -> SketchStore:
    """A store holding the sketches of `texts`, in order."""
    from curate.filters.lsh import SketchStore

    store = SketchStore(folder, sketcher_of(config))
    for start in range(0, len(texts), CHUNK):
        store.add(texts[start : start + CHUNK])
    store.finish()
    return store


def clusters(texts: list[str], config: DedupConfig | None = None) -> Clusters:
    """Clusters of a list of texts (sketches in a temporary folder)."""
    from curate.filters.lsh import work_folder

    config = config or DedupConfig()
    with work_folder(made_work_dir(config.work_dir)) as folder:
        return cluster_store(sketched(texts, Path(folder), config))


def near_duplicate_pairs(texts: list[str], config: DedupConfig | None = None) -> set[tuple[int, int]]:
    """(first, other) for every text joined to a cluster."""
    found = clusters(texts, config)
    return {(int(label), index) for index, label in enumerate(found.labels) if label != index}


# ---------------------------------------------------------------- the stage


class Verdicts:
    """Per record: the record its cluster keeps, the cluster's size, and why it goes (None: it
    stays). Memory: four arrays of one number a record.

    With keep "best-score", records without a judge score rank below every scored one (the
    summary counts them as `unscored`); with none scored at all, that is a usage error.

    `first_of_id`: per record, the first record with its id. Records that share an id in one
    cluster are as free to be kept as any (a derived id is a hash of the prompt alone, so two
    answers to one prompt share theirs, and --keep longest or best-score is there to choose
    between them); only one of them stays, so the output holds the id once. A record whose id
    the first such record holds in another cluster (`repeated`) is never kept: it goes as
    `duplicate_id`, as in every other stage (or `exact_duplicate` where it has an exact copy),
    and where it shares a cluster with others, one of them is kept in its place, so no text is
    lost with it."""

    def __init__(self, found: Clusters, lengths: np.ndarray, scores: np.ndarray, keep: str,
                 first_of_id: np.ndarray | None = None):
        import numpy as np

        from curate.filters.lsh import run_starts

        index = np.arange(len(found.labels))
        self.unscored = int(np.isneginf(scores).sum()) if keep == "best-score" else 0
        if self.unscored and self.unscored == len(index):
            # every cluster would keep its first record, which the user did not ask for
            raise UsageError(NO_SCORES)
        first_of_id = index if first_of_id is None else first_of_id
        self.repeated = found.labels[first_of_id] != found.labels
        best_first = {"first": [index], "longest": [index, -lengths], "best-score": [index, -scores]}[keep]
        # by cluster, then records with ids of their own, then the one to keep first
        order = np.lexsort((*best_first, self.repeated, found.labels))
        labels = found.labels[order]
        first = run_starts(labels)
        keeper = np.empty(len(index), np.int64)
        keeper[labels[first]] = order[first]
        self.keeper = keeper[found.labels]
        self.sizes, self.copies = found.sizes(), found.exact_copies()

    def reason(self, index: int) -> str | None:
        if self.keeper[index] == index and not self.repeated[index]:
            return None
        if self.copies[index]:
            return "exact_duplicate"  # content-hash ids: exact copies share their id too
        return "duplicate_id" if self.repeated[index] else "near_duplicate"

    def keeps_one(self, index: int) -> bool:
        """Does the record's cluster keep a record? Not where all of them repeat ids first held
        in other clusters."""
        return not self.repeated[self.keeper[index]]

    def shared_keepers(self) -> np.ndarray:
        """The records kept for clusters of more than one."""
        import numpy as np

        return np.unique(self.keeper[self.sizes > 1])


def dedup(input: str | Path, output: str | Path, config: DedupConfig | None = None,
          rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    """Remove exact and near duplicates from a record file (or, with `config.against`, the
    records that duplicate one of that file's)."""
    config = config or DedupConfig()
    check_usage(config)
    ensure_distinct({"INPUT": input, "--output": output, "--rejects": rejects, "--against": config.against})
    sink_format(output)
    if rejects is not None:
        sink_format(rejects)
    if str(input) != "-" and not Path(input).exists():
        raise UsageError(f"{input}: no such file")  # before --work-dir is made for nothing
    if config.keep == "best-score" and config.against is None and cannot_hold_scores(input):
        raise UsageError(NO_SCORES)
    outside_outputs(config.work_dir, {"--output": output, "--rejects": rejects})
    made = missing_folders(config.work_dir)
    near = made_work_dir(config.work_dir) or beside(output)
    try:
        return _run_in(near, input, output, rejects, mapping, config)
    finally:
        for folder in made:  # a --work-dir made for this run goes with it, where nothing else was put
            with suppress(OSError):
                folder.rmdir()


def _run_in(near: Path | None, input: str | Path, output: str | Path, rejects: str | Path | None,
            mapping: dict[str, str] | None, config: DedupConfig) -> Summary:
    from curate.filters.lsh import work_folder

    if config.executor == "ray" and str(input) != "-":  # standard input is copied to a file first
        from curate.parallel import ray_ready

        ray_ready(input)  # pass one cuts the input file into byte ranges; the output may be any format
    from curate.executors import ray_session

    try:
        with work_folder(near) as folder, ray_session(config.executor, config.workers, config.ray_address):
            work = Path(folder)
            with readable_twice(input, work) as source:
                if config.against is not None:
                    from curate.filters.contamination import decontaminate

                    return decontaminate(source, input, output, rejects, mapping, config, work)
                return _dedup(source, input, output, rejects, mapping, config, work)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise DataError(no_space(near, output)) from None


def cannot_hold_scores(input: str | Path) -> bool:
    """Is `input` a JSON file that no record with a meta.judge.score can be in? It is when its
    bytes hold neither `judge` nor a `\\u00` escape (which could spell those letters): so
    --keep best-score on a file never judged fails at once, not after sketching and linking
    it all (hours at 100M records). One scan at disk speed, and only where no score is found:
    in a judged file the first record stops it."""
    import mmap

    path = Path(input)
    if str(input) == "-" or path.suffix not in (".jsonl", ".json") or not path.is_file() or not path.stat().st_size:
        return False
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"judge") < 0 and data.find(b"\\u00") < 0


def _dedup(source: str | Path, input: str | Path, output: str | Path, rejects: str | Path | None,
           mapping: dict[str, str] | None, config: DedupConfig, work: Path) -> Summary:
    import json

    import numpy as np

    from curate.filters.lsh import SketchStore
    from curate.filters.minhash import NO_TEXT
    from curate.filters.sketching import Facts, sketch_input, spooled_rows, with_meta

    summary = Summary("dedup")
    store, facts = SketchStore(work, sketcher_of(config)), Facts(work)
    with (work / "spool.txt").open("w", encoding="utf-8") as spool, \
            counting(f"sketching {display_name(input)}") as advance:
        sketch_input(source, mapping, config.fields, store, facts, spool, config.workers, advance, config.executor,
                     config.ray_address, measure=config.keep == "longest")
    summary.read = store.count
    if config.keep == "best-score" and store.count and np.isneginf(facts.scores).all():
        raise UsageError(NO_SCORES)  # now, not after linking (Verdicts would say the same)
    empty = int((store.exact == NO_TEXT).sum())  # what link_exact keeps apart: whitespace-only texts too
    if empty:
        summary.counts["empty_text"] = empty
    with verifying_pool(store, config):
        found = cluster_store(store)
    verdicts = Verdicts(found, facts.lengths, facts.scores, config.keep, facts.ids.first_positions())
    if verdicts.unscored:
        summary.counts["unscored"] = verdicts.unscored
    keeper_ids = {int(k): json.dumps(facts.id(int(k)), ensure_ascii=False) for k in verdicts.shared_keepers()}
    with ExitStack() as files:
        out = files.enter_context(RowSink(output))
        removed = files.enter_context(RowSink(rejects)) if rejects is not None else None
        spool = files.enter_context((work / "spool.txt").open(encoding="utf-8"))
        rows = track(spooled_rows(spool), f"writing {display_name(output)}")
        for index, (identifier, head, meta) in enumerate(rows):
            keeper = int(verdicts.keeper[index])
            cluster = "null" if not verdicts.keeps_one(index) else identifier if keeper == index else keeper_ids[keeper]
            added = {"dedup": f'{{"cluster":{cluster},"size":{int(verdicts.sizes[index])}}}'}
            reason = verdicts.reason(index)
            if reason is None:
                sink = out
                summary.written += 1
            else:
                summary.dropped[reason] += 1
                if removed is None:
                    continue
                added["rejected"] = f'{{"stage":"dedup","reason":"{reason}"}}'
                sink = removed
            line = with_meta(head, meta, added)
            if sink.suffix == ".jsonl":
                sink.write_line(line)
            else:
                sink.write(json.loads(line))
    summary.counts["comparisons"] = found.compared
    return summary


def dedup_records(records: list[Record], config: DedupConfig | None = None) -> tuple[list[Record], list[tuple[Record, str]]]:
    """In memory, for scripts and tests: records to keep (file order, meta.dedup added) and
    removed ones with their reason."""
    import numpy as np

    from curate.filters.lsh import work_folder
    from curate.filters.sketching import judge_score, record_length, record_text

    config = config or DedupConfig()
    texts = [record_text(record, config.fields) for record in records]
    with work_folder(made_work_dir(config.work_dir)) as folder:
        found = cluster_store(sketched(texts, Path(folder), config))
    first: dict[str, int] = {}
    first_of_id = np.array([first.setdefault(record.id, index) for index, record in enumerate(records)], np.int64)
    lengths = [record_length(record) for record in records] if config.keep == "longest" else [0] * len(records)
    verdicts = Verdicts(found, np.array(lengths, np.int64),
                        np.array([judge_score(record) for record in records]),
                        config.keep, first_of_id)
    kept: list[Record] = []
    removed: list[tuple[Record, str]] = []
    for index, record in enumerate(records):
        info = {"cluster": records[int(verdicts.keeper[index])].id if verdicts.keeps_one(index) else None,
                "size": int(verdicts.sizes[index])}
        updated = record.model_copy(update={"meta": {**record.meta, "dedup": info}})
        reason = verdicts.reason(index)
        if reason is None:
            kept.append(updated)
        else:
            removed.append((updated, reason))
    return kept, removed


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


def check_usage(config: DedupConfig) -> None:
    if config.against is None and config.match != "minhash":
        raise UsageError("--match applies with --against FILE (decontamination)")
    if "ngram_size" in config.model_fields_set and (config.against is None or config.match != "ngram"):
        raise UsageError("--ngram-size applies with --against FILE --match ngram; --ngram sets the shingle length "
                         "of near-duplicate matching")
    if config.against is not None and config.executor == "ray":
        raise UsageError("curate dedup --against cannot run on Ray yet; use --executor local")
    if config.against is not None and "keep" in config.model_fields_set:
        # decontamination removes every matching record: there is no cluster to keep one of
        raise UsageError("--keep applies to dedup within a file; with --against every record matching the other "
                         "file goes. Run curate dedup again without --against to remove duplicates within the file")


__all__ = ["Clusters", "DedupConfig", "clusters", "dedup", "dedup_records", "jaccard",
           "near_duplicate_pairs", "shingle_set"]
