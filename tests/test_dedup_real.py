"""Dedup on real data, on the bucket shape that used to lose pairs, and decontamination.

tests/data/t0_slice.jsonl holds 1,999 real T0 training prompts: ten whole templates, from the
one with the most near duplicates (duorc: one film plot under many questions) to two with none.
tests/data/t0_slice_truth.json lists every pair with Jaccard >= 0.8 of their word 5-gram sets,
made by `python bench/dedup.py --write-truth` with an exact similarity join (no banding)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from curate.filters.dedup import DedupConfig, clusters, dedup_records
from curate.filters.linking import Components, _link_buckets, _unlinked, link_exact
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example

DATA = Path(__file__).parent / "data"


def _this_machine() -> str:
    """HOST-PIDNS of a work folder's owner, whose pid follows."""
    from curate.outputs import owner

    return owner().rsplit("-", 1)[0]


def true_labels(count: int, pairs: list[list[int]]) -> np.ndarray:
    components = Components(count)
    edges = np.array(pairs, np.int64).reshape(-1, 2)
    components.union(edges[:, 0], edges[:, 1])
    return components.labels()


def test_recall_and_precision_on_real_templated_prompts():
    texts = [json.loads(line)["instruction"] for line in (DATA / "t0_slice.jsonl").open(encoding="utf-8")]
    truth = true_labels(len(texts), json.loads((DATA / "t0_slice_truth.json").read_text()))
    found = clusters(texts, DedupConfig(threshold=0.8))
    kept = found.labels == np.arange(len(texts))
    sizes = np.bincount(truth)
    duplicates = int((sizes[sizes > 1] - 1).sum())
    kept_per_cluster = np.bincount(truth[kept], minlength=len(sizes))
    recall = 1 - np.maximum(kept_per_cluster - 1, 0)[sizes > 1].sum() / duplicates
    removed = ~kept
    precision = (truth[removed] == truth[found.labels[removed]]).mean()  # removed with its keeper's true cluster
    assert duplicates > 400  # the slice really holds clusters of near duplicates
    assert recall >= 0.99 and precision >= 0.99, (recall, precision)


class ScriptedSimilarity:
    """A store whose comparisons follow a given similarity graph, counting them."""

    def __init__(self, similar_pairs: set[tuple[int, int]]):
        self.pairs = similar_pairs
        self.compared = 0

    def similar(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.compared += len(a)
        return np.array([(min(x, y), max(x, y)) in self.pairs for x, y in zip(a.tolist(), b.tolist())], bool)


def test_a_big_bucket_whose_first_member_is_unlike_the_rest_loses_no_pair():
    # 60 texts share a band; the first resembles none of the others, which all resemble each
    # other. Comparing everyone with the first member only (the old cut-off above 32) found nothing.
    members = np.arange(60)
    store = ScriptedSimilarity({(i, j) for i in range(1, 60) for j in range(i + 1, 60)})
    components = Components(60)
    _link_buckets(store, components, np.zeros(60, np.int64), members)  # type: ignore[arg-type]
    labels = components.labels()
    assert labels[0] == 0 and set(labels[1:].tolist()) == {1}
    assert store.compared <= 2 * 60  # one round against the first, one against the next leader


def test_copies_already_linked_cost_nothing_in_a_later_bucket():
    store = ScriptedSimilarity({(i, j) for i in range(1000) for j in range(i + 1, 1000)})
    components = Components(1000)
    components.union(np.zeros(999, np.int64), np.arange(1, 1000))  # linked in an earlier band
    _link_buckets(store, components, np.zeros(1000, np.int64), np.arange(1000))  # type: ignore[arg-type]
    assert store.compared == 0


def test_buckets_whose_texts_are_already_one_component_go_to_no_linking_route():
    # band by band, copies that earlier bands joined kept filling buckets that each route sorted
    # and reduced again, for nothing: only buckets of two components or more remain
    components = Components(9)
    components.union(np.array([0, 0, 5]), np.array([1, 2, 6]))  # {0, 1, 2} and {5, 6} joined earlier
    bucket = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3])
    members = np.array([0, 1, 2, 3, 4, 8, 5, 6, 7])
    bucket, members = _unlinked(components, bucket, members)
    assert bucket.tolist() == [0, 0, 1, 1, 1] and members.tolist() == [3, 4, 5, 6, 7]


def _templated(count: int, seed: int = 0) -> list[str]:
    """Prompts of one template, its slots filled at random: no two are near duplicates, but they
    share so many shingles that they share band keys by the thousand."""
    rng = random.Random(seed)
    cities = ["Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    return [f"Please summarise the following news: The city council of {rng.choice(cities)} approved budget item "
            f"{rng.randrange(10**6, 10**7)} worth ${rng.randrange(1000, 9999)},000 on {rng.choice(days)} after a "
            f"{rng.randrange(2, 12)}-hour debate." for _ in range(count)]


def test_comparisons_on_templated_prompts_grow_linearly():
    # leader rounds compared every member of a bucket with every other component's leader: 4x
    # the records made 17x the comparisons (a walk-through's 300k such prompts took 629 s)
    small, large = (clusters(_templated(count)) for count in (2000, 8000))
    assert (small.labels == np.arange(2000)).all() and (large.labels == np.arange(8000)).all()
    assert large.compared <= 6 * small.compared, (small.compared, large.compared)


_TICKET = ("Please write a short reply to the customer below. Keep it polite and concrete, thank them for their "
           "patience, and explain what happens next with their request. Ticket {ticket} was opened by a customer "
           "in {city} about an invoice of {amount} dollars that was charged twice last month. The customer asks "
           "for a refund of the second charge and for a written confirmation by email. Mention that refunds take "
           "five to seven business days and that our support team is available every day.")


def test_near_copies_among_templated_prompts_are_all_found_and_nothing_else_joins():
    # prompts of one template sit just under the threshold (J up to ~0.78); a tenth have a copy
    # with one word changed (J ~0.88): prefix filtering must keep every copy and join nothing else
    from curate.filters.dedup import jaccard, shingle_set

    rng = random.Random(3)
    texts, copies = [], []
    for index in range(1200):
        texts.append(_TICKET.format(ticket=rng.randrange(10**6, 10**7), amount=rng.randrange(100, 9999),
                                    city=rng.choice(["Springfield", "Riverton", "Lakeside", "Fairview", "Salem"])))
        if index % 10 == 0:
            words = texts[-1].split()
            words[rng.randrange(len(words))] = "changed"
            copies.append((len(texts) - 1, len(texts)))
            texts.append(" ".join(words))
    found = clusters(texts)
    sets = [shingle_set(text) for text in texts]
    assert all(jaccard(sets[a], sets[b]) >= 0.8 for a, b in copies)
    assert all(found.labels[a] == found.labels[b] for a, b in copies)
    for label in np.unique(found.labels):  # every cluster is held together by true near duplicates
        members = np.flatnonzero(found.labels == label).tolist()
        if len(members) > 1:
            linked = Components(len(texts))
            pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:] if jaccard(sets[a], sets[b]) >= 0.8]
            linked.union(np.array([a for a, _ in pairs]), np.array([b for _, b in pairs]))
            assert len(set(linked.labels()[members].tolist())) == 1, [texts[m][:120] for m in members]


def test_a_bucket_of_near_copies_goes_to_leader_rounds(monkeypatch):
    # 480 copies of a prompt (a short tail each) share band keys before any band linked them:
    # counted as 480 components, their buckets went to prefix filtering, whose cost grew with
    # the copies (4.2 s of bench/dedup.py --scale's 1M records, against 0.13 s at 200k), and whose
    # crowded shingles sent them on to leader rounds all the same. One leader round links them.
    import curate.filters.linking as linking

    prompt = _TICKET.format(ticket=1234567, amount=420, city="Salem")
    texts = [f"{prompt} {tail}" for tail in range(480)]  # J ~0.97 between any two
    prefixed: list[int] = []
    real_pairs = linking._prefix_pairs
    monkeypatch.setattr(linking, "_prefix_pairs", lambda store, bucket, members: (
        prefixed.append(len(members)), real_pairs(store, bucket, members))[1])
    found = clusters(texts)
    assert (found.labels == 0).all()
    assert sum(prefixed) == 0


def test_prefix_filtering_sees_every_member_of_its_buckets(monkeypatch, tmp_path):
    # chains X - Y - Z of templated prompts (J(X, Y) and J(Y, Z) ~0.86, J(X, Z) ~0.72): an
    # earlier band joins each X and Y, then one band puts everything in one bucket. Handing
    # prefix filtering one member a component (X or Y, by hash) lost 62 of the 100 Y - Z pairs
    # there (review find): it is exact among the members it is given, so it is given them all
    import curate.filters.linking as linking
    from curate.filters.dedup import cluster_store, sketched

    rng = random.Random(1)
    texts, chains = [], []
    for index in range(600):
        texts.append(_TICKET.format(ticket=rng.randrange(10**6, 10**7), amount=rng.randrange(100, 9999), city="Salem"))
        if index % 6 == 0:
            words = texts[-1].split()
            x, z = list(words), list(words)
            x[3:6], z[-8:-5] = ["A1", "A2", "A3"], ["B1", "B2", "B3"]
            chains.append((len(texts), len(texts) - 1, len(texts) + 1))
            texts += [" ".join(x), " ".join(z)]
    partner = {x: y for x, y, _ in chains}

    def scripted_buckets(store, band, members):  # band 0: each X with its Y; band 1: one bucket
        members = np.asarray(members)
        key = {0: np.array([min(m, partner.get(m, m)) for m in members.tolist()]),
               1: np.zeros(len(members), np.int64)}.get(band, members)
        order = np.argsort(key, kind="stable")
        return np.cumsum(linking.run_starts(key[order])) - 1, members[order]

    monkeypatch.setattr(linking, "band_buckets", scripted_buckets)
    found = cluster_store(sketched(texts, tmp_path, DedupConfig()))
    assert all(found.labels[x] == found.labels[y] == found.labels[z] for x, y, z in chains)


def test_prefix_filtering_judges_a_pair_as_the_verifier_does(monkeypatch):
    # it linked pairs on the estimate alone where the verifier reads the sets, at the edge of
    # the margin (t 0.2 and 64 permutations; review find): one pair, two verdicts
    import math
    from types import SimpleNamespace

    import curate.filters.linking as linking
    import curate.filters.lsh as lsh

    threshold, permutations = 0.2, 64
    margin = lsh.MARGIN_SIGMAS * math.sqrt(max(threshold * (1 - threshold), 0.01) / permutations)
    signature = np.arange(2 * permutations, dtype=np.uint32).reshape(2, permutations)
    signature[1, :24] = signature[0, :24]  # an estimate of 24/64 = 0.375, at threshold + margin
    sets = np.concatenate([np.arange(1, 11), np.r_[1, 2, 11:19]]).astype(np.uint32)  # exact J = 2/18
    verifier = lsh.Verifier(signature, sets, np.array([0, 10, 20]), threshold, margin)
    store = SimpleNamespace(verifier=verifier, threshold=threshold, margin=margin, similar=verifier.similar)
    a, b = np.array([0]), np.array([1])
    monkeypatch.setattr(linking, "_prefix_pairs", lambda *_: (a, b, np.zeros(0, np.int64), np.zeros(0, np.int64)))
    components = Components(2)
    linking._link_prefix_batch(store, components, np.zeros(2, np.int64), np.arange(2), 0)  # type: ignore[arg-type]
    assert not verifier.similar(a, b)[0]
    assert components.roots(a)[0] != components.roots(b)[0]


class ExactOnly:
    def __init__(self, hashes: np.ndarray):
        self.exact = hashes
        self.count = len(hashes)


def test_exact_grouping_makes_one_pass_however_many_groups():
    # the old grouping scanned every record once per group: quadratic in the number of groups
    groups = 50_000
    hashes = np.repeat(np.arange(1, groups + 1, dtype=np.uint64) * np.uint64(7919), 3)  # 0: an empty text
    np.random.default_rng(0).shuffle(hashes)
    components = Components(len(hashes))
    rounds = 0
    union = components.union

    def counted(a, b):
        nonlocal rounds
        rounds += 1
        union(a, b)

    components.union = counted  # type: ignore[method-assign]
    leaders = link_exact(ExactOnly(hashes), components)  # type: ignore[arg-type]
    labels = components.labels()
    assert rounds == 1 and len(np.unique(labels)) == groups
    first = {}
    for index, value in enumerate(hashes.tolist()):
        first.setdefault(value, index)
    assert all(leaders[i] == first[v] for i, v in enumerate(hashes.tolist()))


def test_reasons_do_not_depend_on_which_record_is_kept():
    base = " ".join(f"word{i}" for i in range(60))
    near = base.replace("word30", "changed")
    records = [Example(instruction=near), Example(instruction=base), Example(instruction=base + "  "),
               Example(instruction=base.upper() + " and a longer tail")]
    reasons = {}
    for keep in ("first", "longest"):
        _, removed = dedup_records(records, DedupConfig(keep=keep))
        for record, reason in removed:
            assert reasons.setdefault(record.id, reason) == reason, (keep, record.instruction[:20])
    # base and its whitespace copy are exact copies of each other, whoever is kept
    assert reasons[records[2].id] == "exact_duplicate"
    assert reasons.get(records[0].id, "near_duplicate") == "near_duplicate"


@pytest.fixture
def contaminated(tmp_path):
    eval_text = ("The committee postponed the vote on the harbour expansion after residents filed forty new "
                 "objections about noise, traffic and the loss of the old fish market on the north quay.")
    write_records(tmp_path / "eval.jsonl", [Example(id="eval-1", instruction=eval_text),
                                            Example(id="eval-2", instruction="An unrelated evaluation question.")])
    train = [Example(instruction=eval_text.upper()),  # exact after normalisation
             Example(instruction=eval_text + " Discuss briefly."),  # near (J 0.93), shares 13-grams
             Example(instruction="Quote this: residents filed forty new objections about noise, traffic and the "
                                 "loss of the old fish market, and then something else entirely happened."),
             Example(instruction="Write a poem about autumn leaves falling in a quiet park.")]
    write_records(tmp_path / "train.jsonl", train)
    return tmp_path, train


@pytest.mark.parametrize("match, removed", [("exact", [0]), ("minhash", [0, 1]), ("ngram", [0, 1, 2])])
def test_against_removes_what_matches_an_evaluation_record(contaminated, run_cli, match, removed):
    folder, train = contaminated
    code, _, err = run_cli("curate", "dedup", str(folder / "train.jsonl"), "-o", str(folder / "clean.jsonl"),
                           "--rejects", str(folder / "dirty.jsonl"), "--against", str(folder / "eval.jsonl"),
                           "--match", match)
    assert code == 0, err
    dirty = list(read_records(folder / "dirty.jsonl"))
    assert [train.index(next(t for t in train if t.id == d.id)) for d in dirty] == removed
    assert all(d.meta["dedup"]["id"] == "eval-1" and d.meta["rejected"]["reason"] == "contaminated" for d in dirty)
    # each as the --match that found it names it; an exact copy is "exact" under minhash too
    assert [d.meta["dedup"]["match"] for d in dirty] == {"exact": ["exact"], "minhash": ["exact", "minhash"],
                                                         "ngram": ["ngram"] * 3}[match]
    assert len(list(read_records(folder / "clean.jsonl"))) == len(train) - len(removed)


def test_keep_with_against_is_a_usage_error(contaminated, run_cli):
    # it was ignored without a word: decontamination keeps no record of a cluster (walk-through)
    folder, _ = contaminated
    code, _, err = run_cli("curate", "dedup", str(folder / "train.jsonl"), "-o", str(folder / "x.jsonl"),
                           "--against", str(folder / "eval.jsonl"), "--keep", "best-score")
    assert code == 2 and "--keep" in err and not (folder / "x.jsonl").exists()


def test_match_without_against_is_a_usage_error(contaminated, run_cli):
    folder, _ = contaminated
    code, _, err = run_cli("curate", "dedup", str(folder / "train.jsonl"), "-o", str(folder / "x.jsonl"),
                           "--match", "ngram")
    assert code == 2 and "--against" in err and not (folder / "x.jsonl").exists()


def test_dedup_reads_standard_input(tmp_path):
    import subprocess
    import sys

    lines = "".join(json.dumps({"instruction": text}) + "\n" for text in
                    ["alpha beta gamma delta epsilon zeta", "Alpha beta gamma delta epsilon zeta", "other words here"])
    result = subprocess.run([sys.executable, "-m", "curate.cli", "dedup", "-", "-o", "-"], input=lines,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line)["instruction"] for line in result.stdout.splitlines()]
    assert kept == ["alpha beta gamma delta epsilon zeta", "other words here"]
    assert not list(tmp_path.iterdir())  # the work folder is gone


@pytest.mark.parametrize("stage", [["dedup", "-", "-o", "out.jsonl"], ["split", "-", "-o", "splits"]])
def test_an_error_in_standard_input_names_stdin_not_its_copy(tmp_path, stage):
    # it named the copy in the work folder, gone by the time the message showed (walk-through)
    import subprocess
    import sys

    lines = '{"instruction": "a"}\n{"instruction": "b"}\n{"instruction": "c",\n'
    result = subprocess.run([sys.executable, "-m", "curate.cli", *stage], input=lines, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode != 0
    assert "<stdin>:3: invalid JSON" in result.stderr and "stdin.jsonl" not in result.stderr, result.stderr


def test_a_killed_runs_work_folder_is_removed_by_the_next_run(tmp_path, run_cli):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that no longer exists, as a run killed with SIGKILL
    stale = tmp_path / ".curate-dedup-killed"
    stale.mkdir()
    (stale / "owner").write_text(f"{_this_machine()}-{gone.pid}\n")
    (stale / "signatures.bin").write_bytes(b"\0" * 1024)
    live = tmp_path / ".curate-dedup-running"
    live.mkdir()
    (live / "owner").write_text(f"{_this_machine()}-{os.getpid()}\n")  # a run still going
    write_records(tmp_path / "in.jsonl", [Example(instruction="one two three four five six")])
    code, _, err = run_cli("curate", "dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert code == 0, err
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".curate-dedup-running", "in.jsonl", "out.jsonl"]


@pytest.mark.parametrize("rows", [[], [{"instruction": "!!!"}, {"instruction": "..."}]])
@pytest.mark.parametrize("against", [False, True])
def test_no_records_or_no_words_is_not_an_error(tmp_path, run_cli, rows, against):
    """An empty input, or one whose texts have no words to shingle, used to crash the grouping."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for row in rows))
    extra = []
    if against:
        (tmp_path / "eval.jsonl").write_text(json.dumps({"instruction": "???"}) + "\n")
        extra = ["--against", str(tmp_path / "eval.jsonl")]
    code, _, err = run_cli("curate", "dedup", str(src), "-o", str(tmp_path / "out.jsonl"), *extra)
    assert code == 0, err
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == len(rows)


def test_the_folder_of_a_killed_run_not_yet_reaped_is_removed(tmp_path, run_cli):
    """A run killed a moment ago may still be a zombie, which answers kill(pid, 0) like a live one."""
    import signal
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(child.pid, signal.SIGKILL)
    time.sleep(0.3)  # dead now, and not reaped: no wait() yet
    stale = tmp_path / ".curate-dedup-zombie"
    stale.mkdir()
    (stale / "owner").write_text(f"{_this_machine()}-{child.pid}\n")
    write_records(tmp_path / "in.jsonl", [Example(instruction="one two three four five six")])
    code, _, err = run_cli("curate", "dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    child.wait()
    assert code == 0, err
    assert not stale.exists()


@pytest.mark.parametrize("flags", [["--ngram-size", "8"], ["--match", "exact"],
                                   ["--against", "EVAL", "--match", "minhash", "--ngram-size", "8"]])
def test_decontamination_flags_without_what_they_modify_are_refused(contaminated, run_cli, flags):
    # a flag that would change nothing is an error, not silently ignored (found by a user walk-through)
    folder, _ = contaminated
    flags = [str(folder / "eval.jsonl") if flag == "EVAL" else flag for flag in flags]
    code, _, err = run_cli("curate", "dedup", str(folder / "train.jsonl"), "-o", str(folder / "clean.jsonl"), *flags)
    assert code == 2 and "applies with --against" in err and not (folder / "clean.jsonl").exists()
