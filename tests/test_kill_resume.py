"""A real `curate evol` process is killed mid-run (kill -9, or Ctrl-C); the re-run finishes
the job with no record lost, none duplicated, and nothing finished asked for again."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from curate.io import read_records


def evol_command(server, seeds_file, out, *extra):
    return [sys.executable, "-m", "curate.cli", "evol", "--seeds", str(seeds_file), "-o", str(out),
            "--base-url", server.url, "--rounds", "3", "--concurrency", "2", "--no-cache", *extra]


@contextmanager
def ctrl_c_reaches_children():
    """A shell starts background jobs with SIGINT ignored, and children inherit that: under
    `pytest ... &` the run under test would ignore the Ctrl-C sent to it (and finish, or wait)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
    with ctrl_c_reaches_children():
        process = subprocess.Popen(evol_command(server, seeds_file, out, "--rejects", str(tmp_path / "rejects.jsonl")),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(complete_lines(out)) < 6 and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    # from now on the server answers nothing, so the run cannot finish before the signal lands,
    # however long this process waits to send it
    server.hold = True
    assert process.poll() is None, "the run finished before it could be interrupted"
    os.kill(process.pid, signum)
    _, err = process.communicate(timeout=30)
    server.hold = False
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


@pytest.mark.parametrize("stage", ["dedup", "pii"])
def test_ctrl_c_stops_a_map_stage_with_its_workers_at_once(tmp_path, stage):
    """Ctrl-C reaches the whole process group: the run ends with 130 within seconds, with one
    line and no worker's traceback, and leaves no output and no temporary folder."""
    from pathlib import Path

    slice_lines = (Path(__file__).parent / "data" / "t0_slice.jsonl").read_bytes()
    source = tmp_path / "in.jsonl"
    # ~125 MB: several byte ranges for the two workers, and far more than 2.5 s of work (dedup
    # once did 25 MB in 2.1 s, so the Ctrl-C came after its work and the test failed)
    source.write_bytes(slice_lines * 60)
    out = tmp_path / "out"
    with ctrl_c_reaches_children():
        run = subprocess.Popen([sys.executable, "-m", "curate.cli", stage, str(source), "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(2.5)  # into pass one: the workers are reading and sketching (or scrubbing)
    os.killpg(run.pid, signal.SIGINT)
    try:
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "interrupted; nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_failed_run_exits_at_once_even_where_a_thread_would_hold_the_exit(tmp_path):
    """A run that fails leaves at once, its files already cleaned up: the interpreter's exit
    joins worker-pool threads, which a worker stopped mid-result can leave waiting forever
    (dedup hung in 3 of 8 runs after "No space left on device"). A thread that never ends
    stands in for such a pool thread here."""
    script = ("import sys, threading; threading.Thread(target=threading.Event().wait).start(); "
              "from curate.cli import main; sys.argv = ['curate', *sys.argv[1:]]; main()")
    for argv, code in ((["dedup", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")], 2),
                       (["filter", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.jsonl")], 1)):
        (tmp_path / "bad.jsonl").write_text("{not json\n")
        run = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60)
        assert run.returncode == code, run.stderr
        assert "curate: error:" in run.stderr and not (tmp_path / "o.jsonl").exists()
