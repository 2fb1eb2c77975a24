"""Soak: real `curate respond` and `curate evol` processes against a faulty server, killed with
SIGKILL at random moments and re-run until they finish. Nothing may be lost or duplicated,
every unit of work ends in exactly one of output and rejects, the rejects agree with the
totals the run recorded, and a re-run of the finished job sends no request. Bounded: about a
minute, every request to 127.0.0.1."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from curate.sinks import write_records
from curate.records import Example

FAULTS = (("429", 0.20), ("500", 0.10), ("hang", 0.03), ("drop", 0.02), ("malformed", 0.02))
KILLS = 5


def faulty(rng):
    def fault(payload, count):
        draw = rng.random()
        for name, share in FAULTS:
            if draw < share:
                return name
            draw -= share
        return None
    return fault


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def kill_and_finish(command, rng, out):
    """Start the command KILLS times and SIGKILL it at a random moment, then run it until it
    exits 0 (a run in which some item failed for good exits 1: run it again)."""
    killed_mid_run = 0
    for _ in range(KILLS):
        size = out.stat().st_size if out.exists() else 0
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30  # start-up is slow on a busy machine: wait for the run's first line
        while process.poll() is None and time.time() < deadline and (out.stat().st_size if out.exists() else 0) <= size:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.8))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed_mid_run += 1
        process.wait(30)
    assert killed_mid_run >= 3, "the job finished before it could be killed: make it longer"
    for _ in range(10):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode == 0:
            return result
        assert result.returncode == 1, result.stderr
    pytest.fail(f"never finished: {result.stderr[-2000:]}")


def check_journals(out, rejects, unit_of, expected_units):
    """Each unit in exactly one file, no record twice, no failure left, totals equal to lines."""
    kept, removed = lines(out), lines(rejects)
    ids = [row["id"] for row in kept]
    assert len(ids) == len(set(ids)), "a record was written twice"
    units = Counter(unit_of(row) for row in kept) + Counter(unit_of(row) for row in removed)
    assert set(units) == expected_units, "a unit of work was lost"
    assert set(units.values()) == {1}, "a unit of work is in both files, or twice in one"
    reasons = Counter(row["meta"]["rejected"]["reason"] for row in removed)
    assert not [reason for reason in reasons if reason.startswith("failed:")]
    manifest = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert manifest["totals"] == {"written": len(kept), **reasons}


def finished_rerun_is_silent(command, server, *paths):
    before = {path: path.read_bytes() for path in paths}
    asked = len(server.payloads)
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    assert len(server.payloads) == asked, "a finished job asked again"
    assert {path: path.read_bytes() for path in paths} == before, "a finished job changed a file"


@pytest.fixture
def soak_server(server):
    rng = random.Random(1234)
    server.fault = faulty(rng)
    server.latency = 0.02
    server.hang_seconds = 1.0
    yield server


COMMON = ["--timeout", "0.5", "--concurrency", "auto"]


def test_respond_survives_kills_and_faults(soak_server, tmp_path):
    rng = random.Random(7)
    src, out, rejects = tmp_path / "prompts.jsonl", tmp_path / "answers.jsonl", tmp_path / "rejects.jsonl"
    records = [Example(instruction=f"Give advice number {i} about {topic}.")
               for i, topic in enumerate(["sleep", "money", "rust", "tea", "chess"] * 40)]
    records.append(Example(instruction="<<CUT>> cut me short"))  # the server marks its answer truncated
    write_records(src, records)
    command = [sys.executable, "-m", "curate.cli", "respond", str(src), "-o", str(out), "--rejects", str(rejects),
               "--base-url", soak_server.url, "--cache", str(tmp_path / "cache.sqlite"), "--n", "2", *COMMON]
    kill_and_finish(command, rng, out)
    check_journals(out, rejects, lambda row: row["meta"].get("rejected", {}).get("key", row["id"]),
                   {record.id for record in records})
    assert Counter(row["meta"]["rejected"]["reason"] for row in lines(rejects)) == {"truncated": 1}
    soak_server.fault = lambda payload, count: None
    finished_rerun_is_silent(command, soak_server, out, rejects, out.with_name(out.name + ".run.json"))


def test_evol_survives_kills_and_faults(soak_server, tmp_path):
    rng = random.Random(11)
    seeds = tmp_path / "seeds.json"
    texts = [f"Explain how {thing} works." for thing in ("a bicycle", "a fridge", "rain", "a compass", "yeast",
                                                         "a lock", "a tide", "a vaccine")]
    texts += ["EQUAL Give a synonym for happy.", "SORRY Tell me a joke.", "LEAK Summarise Hamlet."]
    seeds.write_text(json.dumps(texts))
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "evol_rejects.jsonl"
    command = [sys.executable, "-m", "curate.cli", "evol", "--seeds", str(seeds), "-o", str(out),
               "--rejects", str(rejects), "--base-url", soak_server.url, "--rounds", "3",
               "--cache", str(tmp_path / "cache.sqlite"), *COMMON]
    kill_and_finish(command, rng, out)
    roots = {row["meta"]["evol"]["root"] for row in lines(out) if row["meta"]["evol"]["round"] == 0}
    assert len(roots) == len(texts)
    check_journals(out, rejects, lambda row: f"{row['meta']['evol']['root']}:{row['meta']['evol']['round']}",
                   {f"{root}:{round_}" for root in roots for round_ in range(4)})
    soak_server.fault = lambda payload, count: None
    finished_rerun_is_silent(command, soak_server, out, rejects, out.with_name(out.name + ".run.json"))
