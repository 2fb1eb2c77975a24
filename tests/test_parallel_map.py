"""The process-parallel map path gives the same files as the sequential one, and its errors name
the file's own line, not the line within a chunk."""

import json

import pytest

from curate.errors import DataError
from curate.filters.quality import FilterConfig, filter_records
from curate import parallel


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 4096)  # many chunks from a small file


def write_rows(path, count, bad_line=None):
    with open(path, "w") as stream:
        for i in range(count):
            if i + 1 == bad_line:
                stream.write('{"instruction": "broken", "output": \n')
                continue
            answer = "" if i % 7 == 0 else f"A full answer number {i} with enough words in it to pass."
            stream.write(json.dumps({"instruction": f"Write item {i} of the list, please.", "output": answer}) + "\n")


def test_processes_write_what_one_process_writes(tmp_path, small_chunks):
    src = tmp_path / "in.jsonl"
    write_rows(src, 3000)
    one = filter_records(src, tmp_path / "one.jsonl", FilterConfig(workers=1), tmp_path / "one_rej.jsonl")
    two = filter_records(src, tmp_path / "two.jsonl", FilterConfig(workers=2), tmp_path / "two_rej.jsonl")
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (tmp_path / "one_rej.jsonl").read_bytes() == (tmp_path / "two_rej.jsonl").read_bytes()
    assert (one.read, one.written, one.dropped) == (two.read, two.written, two.dropped)
    assert two.dropped["empty_output"] == 3000 // 7 + 1


def test_an_error_in_a_later_chunk_names_the_files_line(tmp_path, small_chunks):
    src = tmp_path / "in.jsonl"
    write_rows(src, 3000, bad_line=2345)
    with pytest.raises(DataError, match=r"in\.jsonl:2345: invalid JSON"):
        filter_records(src, tmp_path / "out.jsonl", FilterConfig(workers=2))
    assert not (tmp_path / "out.jsonl").exists()


def _running(pid):
    """Alive and not a zombie (a dead child its parent has not reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_their_parent_even_on_sigkill():
    """A parent killed outright used to leave its pool's workers waiting for work forever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = ("import time\n"
              "from curate.parallel import process_pool\n"
              "pool = process_pool(2, time.sleep, (0,))\n"
              "futures = [pool.submit(time.sleep, 60) for _ in range(2)]\n"
              "time.sleep(1)\n"
              "print(*pool._processes, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(_running(pid) for pid in workers)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers), "a worker outlived its parent"


def _deaf_to_sigterm(parent: int, *_: object) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a worker that missed its SIGTERM


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc")
def test_a_pool_left_by_an_error_leaves_no_worker_alive_even_one_that_missed_sigterm(monkeypatch):
    """A worker forked just before the pool was left lost the SIGTERM that stopped it (its
    handler was being reset), lived on, and the interpreter's exit waited for it forever."""
    import time

    from curate import parallel

    monkeypatch.setattr(parallel, "_start_worker", _deaf_to_sigterm)
    pool = parallel.process_pool(2, time.sleep, (0,))
    with pytest.raises(GeneratorExit), pool:
        pool.submit(time.sleep, 0).result()
        pool.submit(time.sleep, 60)  # busy: the pool's stop signal (a None task) never reaches it
        processes = list(pool._processes.values())
        time.sleep(0.5)
        raise GeneratorExit  # what closing a half-read scrub_records raises inside it
    # by /proc, not is_alive(): the pool's own thread may reap a worker first, and then
    # is_alive() asks waitpid about a child that is gone and reads that as running
    assert not any(_running(process.pid) for process in processes)


def test_pii_in_processes_writes_what_one_process_writes(tmp_path, small_chunks, monkeypatch):
    """pii on byte ranges (each worker reads, scrubs and serialises) against one process: the
    output, rejects and report are the same bytes and the summary the same counts."""
    from curate.pii import PiiConfig, scrub
    from tests.pii_corpus import corpus

    src = tmp_path / "in.jsonl"
    samples = corpus(600, seed=3) * 2  # every record twice: ids repeat, the report's record numbers tell them apart
    src.write_text("".join(json.dumps({"instruction": sample.text, "output": "Noted."}, ensure_ascii=False) + "\n"
                           for sample in samples))
    runs = {}
    for workers in (1, 2):
        files = {name: tmp_path / f"{name}{workers}.jsonl" for name in ("out", "rej", "report")}
        summary = scrub(src, files["out"], PiiConfig(workers=workers, drop=["SSN"]), report=files["report"],
                        rejects=files["rej"])
        runs[workers] = summary, {name: path.read_bytes() for name, path in files.items()}
    (one, one_files), (two, two_files) = runs[1], runs[2]
    assert one_files == two_files and one_files["report"] and one_files["rej"]
    assert (one.read, one.written, one.dropped, one.counts) == (two.read, two.written, two.dropped, two.counts)
    assert list(two.counts)[0] == "records_with_pii" and two.counts["replaced:PHONE"] > 50
    assert two.dropped["pii:SSN"] > 0
    # numbered by place in the file across byte ranges: record N + 600 is record N again, found the same
    report = {row["record"]: row for row in map(json.loads, two_files["report"].decode().splitlines())}
    assert len(report) > 600 and all(1 <= number <= 1200 for number in report)
    assert {n: (r["id"], r["spans"]) for n, r in report.items() if n <= 600} == {
        n - 600: (r["id"], r["spans"]) for n, r in report.items() if n > 600}


def test_pii_spreads_over_byte_ranges_when_the_file_is_large(tmp_path, small_chunks, monkeypatch):
    from curate.pii import PiiConfig, scrub

    sent = []
    submit = parallel.ProcessPoolExecutor.submit
    monkeypatch.setattr(parallel.ProcessPoolExecutor, "submit", lambda self, fn, *a: sent.append(fn) or submit(self, fn, *a))
    src = tmp_path / "in.jsonl"
    write_rows(src, 300)
    scrub(src, tmp_path / "out.jsonl", PiiConfig(workers=2))
    assert sent and all(fn is parallel._map_chunk for fn in sent)


def test_invalid_rows_of_a_late_range_cost_no_read_from_the_top(tmp_path, monkeypatch):
    """convert --skip-invalid on byte ranges: a range does not count the lines before it (that
    would read the file from the top once a range); the parent, which knows them, names the line."""
    import curate.parallel as parallel
    from curate.io import InvalidRow

    rows = [json.dumps({"instruction": f"q{i}"}) for i in range(2000)]
    rows[1500] = '{"instruction": 7}'
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(rows) + "\n")
    counted = []
    monkeypatch.setattr(parallel, "_lines_before", lambda *args: counted.append(args) or 0)
    start = len("\n".join(rows[:1000])) + 1
    items = list(parallel.read_chunk(path, start, path.stat().st_size, invalid_ok=True))
    assert len(items) == 1000 and isinstance(items[500], InvalidRow) and not counted
