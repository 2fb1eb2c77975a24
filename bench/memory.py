"""Peak memory of the streaming stages at scale, against the 500 MB bound.

Run as:  python bench/memory.py [--records 1000000] [--respond-records 200000] [--work DIR]

Input: the 28,246 real T0 prompts of ../shared/data/t0_prompts.jsonl (about 1.2 KB a record),
repeated with a copy number appended to each instruction until there are --records of them
(so every record is distinct, as in a real log). Each command runs as its own process, as a
user runs it; its peak memory is sampled every 50 ms over the whole process tree (pii's and filter's
workers included) as PSS, so that pages forked workers share with the parent count once. Measured: `curate filter` and `curate pii` over --records; `curate respond` over
--respond-records against a local server with no latency (bench/llm_client.py's), then the
same command again on the finished journal (a resume that has nothing left to do), and a
resume over a journal of --records answered records. The baseline printed beside each is the
RSS of a process that only imports curate's CLI, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
T0 = ROOT.parent / "shared" / "data" / "t0_prompts.jsonl"
BOUND_MB = 500


def peak_rss_mb(argv: list[str]) -> tuple[float, float, int]:
    """(peak PSS of the process tree in MB, seconds, exit code)."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        sampled = time.perf_counter()
        try:
            tree = [watched, *watched.children(recursive=True)]
            # PSS: forked workers share the parent's pages; RSS would count those pages once per process
            peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        # a PSS sample walks the page tables of every mapping: with gigabytes mapped (dedup's
        # sketches at 2M records) each took tens of ms, and sampling every 50 ms took so much of
        # the 2 cores that the command ran 40% slower (238 s against 170 s at 2M). Sampling now
        # takes at most ~5% of one core, and peaks last far longer than the wait between samples.
        time.sleep(max(0.05, 19 * (time.perf_counter() - sampled)))
    seconds = time.perf_counter() - start
    if process.returncode:
        print(process.stderr.read().decode()[-2000:], file=sys.stderr)
    return peak / 2**20, seconds, process.returncode


def make_input(path: Path, count: int) -> None:
    rows = [json.loads(line) for line in T0.open(encoding="utf-8")]
    with path.open("w", encoding="utf-8") as stream:
        for number in range(count):
            row = rows[number % len(rows)]
            record = {"instruction": f"{row['instruction']} (copy {number // len(rows)})", "input": "",
                      "output": row["output"]}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def answered_journal(source: Path, journal: Path) -> None:
    """The output a finished respond run would have written for `source` (ids included)."""
    sys.path.insert(0, str(ROOT))
    from curate.io import read_records
    from curate.sinks import write_records

    write_records(journal, (record.model_copy(update={"meta": {"responses": {"model": "m"}}})
                            for record in read_records(source)))


def report(name: str, result: tuple[float, float, int], records: int, baseline: float) -> None:
    mb, seconds, code = result
    verdict = "ok" if mb < BOUND_MB and code == 0 else "OVER" if code == 0 else f"FAILED (exit {code})"
    print(f"{name:44s} {records:>10,} {mb:8.0f} MB {seconds:8.1f} s {records / seconds:10,.0f}/s "
          f"{mb / baseline:6.1f}x baseline  {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--respond-records", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-memory-bench"))
    args = parser.parse_args()
    if not T0.exists():
        sys.exit(f"{T0} is missing: this benchmark runs on the shared T0 prompts")
    args.work.mkdir(parents=True, exist_ok=True)
    curate = [sys.executable, "-m", "curate.cli"]
    big, small = args.work / "prompts.jsonl", args.work / "respond.jsonl"
    make_input(big, args.records)
    make_input(small, args.respond_records)
    baseline = peak_rss_mb([sys.executable, "-c", "import curate.cli"])[0]
    print(f"baseline (a process importing curate.cli): {baseline:.0f} MB; bound {BOUND_MB} MB; input "
          f"{big.stat().st_size / 2**20:,.0f} MB")
    print(f"{'command':44s} {'records':>10s} {'peak PSS':>11s} {'time':>10s} {'rate':>12s}")
    report("curate filter --workers 2", peak_rss_mb([*curate, "filter", str(big), "-o", str(args.work / "f.jsonl"),
                                                     "--rejects", str(args.work / "f_rej.jsonl")]),
           args.records, baseline)
    report("curate pii --workers 2", peak_rss_mb([*curate, "pii", str(big), "-o", str(args.work / "p.jsonl")]),
           args.records, baseline)
    sys.path.insert(0, str(ROOT / "bench"))
    from llm_client import start_server

    server, url = start_server(latency=0.0)
    try:
        respond = [*curate, "respond", str(small), "-o", str(args.work / "r.jsonl"), "--base-url", url, "--model", "m",
                   "--no-cache", "--restart"]
        report("curate respond (scripted server)", peak_rss_mb(respond), args.respond_records, baseline)
        report("curate respond, re-run of the finished job", peak_rss_mb(respond[:-1]), args.respond_records,
               baseline)
        journal = args.work / "done.jsonl"
        answered_journal(big, journal)
        resume = [*curate, "respond", str(big), "-o", str(journal), "--base-url", url, "--model", "m", "--no-cache"]
        report("curate respond, resume over a full journal", peak_rss_mb(resume), args.records, baseline)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
