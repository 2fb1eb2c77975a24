"""Start-up time of the commands, against their bounds and a bare interpreter.

Run as:  python bench/startup.py [--repeat 5]

Each command runs --repeat times as its own process; the best time is printed beside its bound
and beside the best time of `python -c pass` (the baseline, measured in the same run), since
no command can start faster than the interpreter does. Bytecode is cached as on a user's
machine (pip compiles installed packages; Python caches the checkout's modules on first use):
PYTHONDONTWRITEBYTECODE, which some sandboxes set, is dropped for the measurement, and each
command runs once before it is timed. (With PYTHONDONTWRITEBYTECODE=1 and an editable install,
curate's own modules are compiled at every start: about 0.15-0.25 s more here.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

COMMANDS = {  # argv after the interpreter: bound in seconds
    ("-m", "curate.cli", "--help"): 0.5,
    ("-m", "curate.cli", "filter", "--help"): 0.5,
    ("-m", "curate.cli", "respond", "--help"): 0.5,
    ("-m", "train.cli", "--help"): 1.5,
}


USER_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def best_of(argv: list[str], repeat: int, env: dict[str, str] = USER_ENV) -> float:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    baseline = best_of([sys.executable, "-c", "pass"], args.repeat)
    print(f"baseline (python -c pass): {baseline:.3f} s")
    for command, bound in COMMANDS.items():
        seconds = best_of([sys.executable, *command], args.repeat)
        name = " ".join(command[1:]).replace(".cli", "")
        verdict = "ok" if seconds <= bound else "OVER"
        print(f"{name:24s} {seconds:6.3f} s  bound {bound:.1f} s  {seconds / baseline:5.1f}x baseline  {verdict}")


if __name__ == "__main__":
    main()
