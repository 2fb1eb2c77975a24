"""`--executor ray` against `--executor local` on this machine: pii and dedup over 200k records.

Run as:  python bench/ray.py [--records 200000]

The input is the real T0 prompts (../shared/data/t0_prompts.jsonl) plus perturbed copies up to
--records (bench/dedup.py's scale input). Each stage runs as a CLI process, locally (2 worker
processes) and on a local Ray started for the run (2 CPUs), twice: once timed, once with its
peak memory sampled (PSS of the process tree: Ray's own processes, raylet and GCS, are children
of the driver). The two are kept apart because sampling costs CPU: reading the memory maps of
Ray's dozen processes 20 times a second added about 8 s to a 25 s dedup run on these 2 cores.
Printed: wall time, peak memory and ray / local (target: <= 1.5x the time on one machine). The
outputs are compared byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from dedup import perturbed
    from memory import peak_rss_mb

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "in.jsonl"
        perturbed(source, args.records)
        print(f"{'stage':6s} {'executor':8s} {'seconds':>8s} {'peak MB':>8s}   ({args.records:,} records: T0 + "
              "perturbed copies)")
        for stage in ("pii", "dedup"):
            results = {}
            for executor in ("local", "ray"):
                out = work / f"{stage}_{executor}.jsonl"
                argv = [sys.executable, "-m", "curate.cli", stage, str(source), "-o", str(out), "--executor",
                        executor, "--workers", "2"]
                start = time.perf_counter()
                subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                seconds = time.perf_counter() - start
                peak, _, code = peak_rss_mb(argv)
                assert code == 0, f"curate {stage} --executor {executor} failed"
                results[executor] = (seconds, peak)
                print(f"{stage:6s} {executor:8s} {seconds:8.1f} {peak:8,.0f}")
            same = filecmp.cmp(work / f"{stage}_local.jsonl", work / f"{stage}_ray.jsonl", shallow=False)
            print(f"  ray / local: {results['ray'][0] / results['local'][0]:.2f}x the time (target <= 1.5x), "
                  f"{results['ray'][1] / results['local'][1]:.2f}x the memory; outputs identical: {same}")


if __name__ == "__main__":
    main()
