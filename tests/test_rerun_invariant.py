"""The invariant for every LLM stage: after a kill, failures and re-runs, each input is in
exactly one of output and rejects, and a re-run of the finished job asks nothing and changes
no file. (respond and evol get the long version in test_soak.py.)"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from curate.sinks import write_records
from curate.records import Example, content_id


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def answered(n):
    return [Example(instruction=f"Explain idea {i} in one line.", output="WEAK" if i % 4 == 0 else f"Idea {i} is neat.")
            for i in range(n)]


STAGES = {
    # stage: (input rows, extra flags, the input key of an output row, every input key)
    "judge": (lambda: answered(24), [], lambda row: row["id"], lambda records: {r.id for r in records}),
    "revise": (lambda: answered(24), [], lambda row: row["meta"]["revise"]["source"],
               lambda records: {r.id for r in records}),
    "backtranslate": (lambda: [{"text": f"Paragraph number {i} about tides and the moon."} for i in range(24)], [],
                      lambda row: row["meta"]["backtranslate"]["source"],
                      lambda rows: {content_id("document", row["text"]) for row in rows}),
}


def write_input(path, rows):
    if rows and isinstance(rows[0], Example):
        write_records(path, rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def command(stage, src, out, rejects, server, *extra):
    return [sys.executable, "-m", "curate.cli", stage, str(src), "-o", str(out), "--rejects", str(rejects),
            "--base-url", server.url, "--no-cache", "--concurrency", "2", *extra]


def kill_after_first_line(argv, out):
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while process.poll() is None and time.time() < deadline and not (out.exists() and out.stat().st_size):
        time.sleep(0.01)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    return killed


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_kill_failures_and_reruns_keep_each_input_in_one_file(server, tmp_path, stage):
    make_rows, extra, output_key, all_keys = STAGES[stage]
    rows = make_rows()
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    write_input(src, rows)
    server.latency = 0.05
    assert kill_after_first_line(command(stage, src, out, rejects, server, *extra), out), "finished before the kill"
    server.latency = 0.0
    rng = random.Random(3)
    server.fault = lambda payload, count: "500" if rng.random() < 0.3 else None
    failing = subprocess.run(command(stage, src, out, rejects, server, "--max-retries", "0", *extra),
                             capture_output=True, text=True)
    assert failing.returncode == 1 and "failed for good" in failing.stderr
    server.fault = lambda payload, count: None
    subprocess.run(command(stage, src, out, rejects, server, *extra), check=True, capture_output=True)
    keys = [output_key(row) for row in lines(out)] + [row["meta"]["rejected"]["key"] for row in lines(rejects)]
    assert sorted(keys) == sorted(all_keys(rows)), "an input is missing, or in both files"
    assert not [row for row in lines(rejects) if row["meta"]["rejected"]["reason"].startswith("failed:")]
    before = {path: path.read_bytes() for path in (out, rejects, tmp_path / "out.jsonl.run.json")}
    server.payloads.clear()
    subprocess.run(command(stage, src, out, rejects, server, *extra), check=True, capture_output=True)
    assert server.payloads == [] and {path: path.read_bytes() for path in before} == before


def test_self_instruct_after_failures_and_reruns(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "tasks.jsonl", tmp_path / "rej.jsonl"
    argv = [sys.executable, "-m", "curate.cli", "self-instruct", "--seeds", str(seeds_file), "-o", str(out),
            "--rejects", str(rejects), "--base-url", server.url, "--no-cache", "--num-instructions", "10",
            "--concurrency", "2"]
    rng = random.Random(5)
    server.fault = lambda payload, count: "500" if rng.random() < 0.3 else None
    assert subprocess.run([*argv, "--max-retries", "0"], capture_output=True).returncode == 1
    server.fault = lambda payload, count: None
    subprocess.run(argv, check=True, capture_output=True)
    tasks = {row["instruction"] for row in lines(out)}
    accepted = tasks | {row["instruction"] for row in lines(rejects) if row["meta"]["rejected"]["key"].startswith("task:")}
    assert len(accepted) == 10
    assert not [row for row in lines(rejects) if row["meta"]["rejected"]["reason"].startswith("failed:")]
    before = {path: path.read_bytes() for path in (out, rejects)}
    server.payloads.clear()
    subprocess.run(argv, check=True, capture_output=True)
    assert server.payloads == [] and {path: path.read_bytes() for path in before} == before
