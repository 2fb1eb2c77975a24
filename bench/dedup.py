"""`curate dedup` on real templated prompts, against datasketch, and at 2,000,000 records.

Run as:  python bench/dedup.py --real            accuracy and speed on the T0 prompts
         python bench/dedup.py --scale           peak memory and time at 200k, 1M and 2M records
         python bench/dedup.py --write-truth F   truth of a file, for tests/data (see below)

--real: ../shared/data/t0_prompts.jsonl (28,246 real prompts of 142 templates), threshold 0.8.
Truth is built here without any banding: every pair of records whose word 5-gram sets have
Jaccard >= 0.8, found by prefix filtering (an exact similarity join: two sets that reach the
threshold must share a shingle among the rarest few of each) and checked exactly; its
connected components are the true clusters. Both tools run as processes from the same JSONL
file to a JSONL file of kept records, timed end to end (best of --repeat): `curate dedup`, and
datasketch's MinHash + MinHashLSH at its defaults (threshold 0.8, 128 permutations), written
the way its documentation shows (query, then insert what is new). Printed for each: records/s,
cluster recall (the share of true duplicates removed: a true cluster should keep one record)
and precision (the share of removed records whose true cluster still has a kept record).

--scale: the real file plus perturbed copies (a word replaced or dropped, or a short tail
added) up to each size; peak memory (PSS of the process tree) and wall time of `curate dedup`,
and t(N) / t(200k) beside N / 200k.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
T0 = ROOT.parent / "shared" / "data" / "t0_prompts.jsonl"
THRESHOLD, NGRAM = 0.8, 5


# ---------------------------------------------------------------- truth, without banding


def shingle_sets(texts: list[str]) -> list[frozenset[tuple[str, ...]]]:
    from curate.filters.minhash import tokens  # the shingles' definition: word 5-grams of these tokens

    sets = []
    for text in texts:
        words = tokens(text)
        sets.append(frozenset(tuple(words[i : i + NGRAM]) for i in range(max(1, len(words) - NGRAM + 1)))
                    if words else frozenset())
    return sets


def true_pairs(sets: list[frozenset], threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """Every (i, j) with Jaccard >= threshold, by prefix filtering: order each set's shingles by
    global frequency, rarest first; two sets at or above the threshold share a shingle within
    the first |x| - ceil(t |x|) + 1 of the smaller one, so only those are indexed and probed."""
    frequency = Counter(shingle for s in sets for shingle in s)
    ordered = [sorted(s, key=lambda shingle: (frequency[shingle], shingle)) for s in sets]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pairs = []
    for i in sorted(range(len(sets)), key=lambda k: len(sets[k])):
        if not sets[i]:
            continue
        prefix = len(sets[i]) - math.ceil(threshold * len(sets[i])) + 1
        seen: set[int] = set()
        for shingle in ordered[i][:prefix]:
            for j in index[shingle]:
                if j in seen:
                    continue
                seen.add(j)
                shared = len(sets[i] & sets[j])
                if shared / (len(sets[i]) + len(sets[j]) - shared) >= threshold:
                    pairs.append((min(i, j), max(i, j)))
            index[shingle].append(i)
    return sorted(pairs)


def true_clusters(count: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.array(pairs, np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def score(kept: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(cluster recall, precision) of a keep mask against true cluster labels."""
    sizes = np.bincount(truth)
    duplicates = int((sizes[sizes > 1] - 1).sum())
    kept_per_cluster = np.bincount(truth[kept], minlength=len(sizes))
    excess = int(np.maximum(kept_per_cluster - 1, 0)[sizes > 1].sum())
    removed = ~kept
    precision = float((kept_per_cluster[truth[removed]] > 0).mean()) if removed.any() else 1.0
    return 1 - excess / duplicates if duplicates else 1.0, precision


# ---------------------------------------------------------------- the two tools, file to file


def datasketch_dedup(source: str, target: str) -> None:
    """The baseline: datasketch as its documentation shows it, one record at a time."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=128)
    with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            words = json.loads(line)["instruction"].lower().split()
            minhash = MinHash(num_perm=128)
            minhash.update_batch([" ".join(words[i : i + NGRAM]).encode() for i in range(max(1, len(words) - 4))])
            if not lsh.query(minhash):
                lsh.insert(number, minhash)
                out.write(line)


def timed(argv: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def kept_mask(rows: list[dict], output: Path) -> np.ndarray:
    kept = Counter(json.loads(line)["instruction"] for line in output.open(encoding="utf-8"))
    mask = np.zeros(len(rows), bool)
    for index, row in enumerate(rows):  # the first copy of each kept text is the kept one
        if kept[row["instruction"]] > 0:
            kept[row["instruction"]] -= 1
            mask[index] = True
    return mask


def real(repeat: int, work: Path) -> None:
    rows = [json.loads(line) for line in T0.open(encoding="utf-8")]
    start = time.perf_counter()
    truth = true_clusters(len(rows), true_pairs(shingle_sets([row["instruction"] for row in rows])))
    sizes = np.bincount(truth)
    print(f"{T0.name}: {len(rows):,} records; truth in {time.perf_counter() - start:.0f} s: "
          f"{int((sizes > 1).sum()):,} clusters of J >= {THRESHOLD} holding {int(sizes[sizes > 1].sum()):,} "
          f"records ({int((sizes[sizes > 1] - 1).sum()):,} duplicates to remove)")
    ours_out, theirs_out = work / "ours.jsonl", work / "datasketch.jsonl"
    ours = timed([sys.executable, "-m", "curate.cli", "dedup", str(T0), "-o", str(ours_out)], repeat)
    theirs = timed([sys.executable, __file__, "--datasketch", str(T0), str(theirs_out)], repeat)
    for name, seconds, output in (("curate dedup", ours, ours_out), ("datasketch", theirs, theirs_out)):
        recall, precision = score(kept_mask(rows, output), truth)
        print(f"  {name:13s} {len(rows) / seconds:9,.0f} records/s ({seconds:5.2f} s)   "
              f"cluster recall {recall:.4f} (target 0.99)   precision {precision:.4f} (target 0.99)")
    print(f"  speed: curate / datasketch = {theirs / ours:.1f}x (target 10x)")


# ---------------------------------------------------------------- scale


def perturbed(path: Path, count: int, seed: int = 0) -> None:
    """The real prompts, then copies with a word replaced or dropped, or a short tail, to `count`."""
    rows = [json.loads(line) for line in T0.open(encoding="utf-8")]
    vocabulary = [word for row in rows[:2000] for word in row["instruction"].split()]
    rng = random.Random(seed)
    tails = [" Thanks!", " Please be brief.", " (again)", " Answer in English.", " :)"]
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            row = rows[number % len(rows)]
            text = row["instruction"]
            if number >= len(rows):
                words = text.split()
                where = rng.randrange(len(words)) if words else 0
                kind = rng.randrange(3)
                if kind == 0 and words:
                    words[where] = rng.choice(vocabulary)
                elif kind == 1 and len(words) > 1:
                    del words[where]
                else:
                    words.append(rng.choice(tails).strip())
                text = " ".join(words)
            out.write(json.dumps({"instruction": text, "output": row.get("output", "")}, ensure_ascii=False) + "\n")


def scale(sizes: list[int], work: Path) -> None:
    from memory import peak_rss_mb

    print(f"{'records':>10s} {'seconds':>8s} {'records/s':>10s} {'peak MB':>8s} {'t / t(first)':>13s} "
          f"{'N / N(first)':>13s}")
    first = None
    for size in sizes:
        source = work / f"scale_{size}.jsonl"
        if not source.exists():
            perturbed(source, size)
        peak, seconds, code = peak_rss_mb([sys.executable, "-m", "curate.cli", "dedup", str(source), "-o",
                                          str(work / "scale_out.jsonl")])
        assert code == 0, "curate dedup failed"
        first = first or (size, seconds)
        print(f"{size:10,d} {seconds:8.1f} {size / seconds:10,.0f} {peak:8,.0f} {seconds / first[1]:13.2f} "
              f"{size / first[0]:13.1f}   (bound: 4,096 MB; t(2M) / t(200k) <= 12)")


def write_truth(path: Path, target: Path) -> None:
    texts = [json.loads(line)["instruction"] for line in path.open(encoding="utf-8")]
    target.write_text(json.dumps(true_pairs(shingle_sets(texts))) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--sizes", default="200000,1000000,2000000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-dedup-bench"))
    parser.add_argument("--write-truth", nargs=2, type=Path, metavar=("RECORDS", "TRUTH"))
    parser.add_argument("--datasketch", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datasketch:
        datasketch_dedup(*args.datasketch)
        return
    if args.write_truth:
        write_truth(*args.write_truth)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    if args.real or not args.scale:
        real(args.repeat, args.work)
    if args.scale:
        scale([int(size) for size in args.sizes.split(",")], args.work)


if __name__ == "__main__":
    main()
