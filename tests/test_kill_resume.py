"""A real `curate evol` process is killed mid-run (kill -9, or Ctrl-C); the re-run finishes
the job with no record lost, none duplicated, and nothing finished asked for again."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from curate.io import read_records


def evol_command(server, seeds_file, out, *extra):
    return [sys.executable, "-m", "curate.cli", "evol", "--seeds", str(seeds_file), "-o", str(out),
            "--base-url", server.url, "--rounds", "3", "--concurrency", "2", "--no-cache", *extra]


def complete_lines(path):
    if not path.exists():
        return []
    data = path.read_bytes()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_exactly(server, seeds_file, tmp_path, signum):
    clean = tmp_path / "clean.jsonl"
    subprocess.run(evol_command(server, seeds_file, clean), check=True, capture_output=True)
    expected = sorted(r.id for r in read_records(clean))

    server.reset()
    server.latency = 0.05
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(evol_command(server, seeds_file, out, "--rejects", str(tmp_path / "rejects.jsonl")),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(complete_lines(out)) < 6 and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be interrupted"
    os.kill(process.pid, signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 130)
    if signum == signal.SIGINT:
        assert b"interrupted" in err and b"Traceback" not in err
    finished = complete_lines(out)
    assert 6 <= len(finished) < len(expected)
    asked_before = len(server.payloads)

    server.latency = 0.0
    subprocess.run(evol_command(server, seeds_file, out, "--rejects", str(tmp_path / "rejects.jsonl")),
                   check=True, capture_output=True)
    ids = [r.id for r in read_records(out)]
    assert len(ids) == len(set(ids)), "a record was written twice"
    assert sorted(ids) == expected, "a record was lost"
    # nothing finished was asked for again: no finished record was answered a second time
    rerun_questions = {p["messages"][-1]["content"] for p in server.payloads[asked_before:]}
    assert not rerun_questions & {row["instruction"] for row in finished}
