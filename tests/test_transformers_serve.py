"""Against a real server implementation: `transformers serve` with a tiny random model."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from curate.io import read_records


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tiny_model_dir, tmp_path_factory):
    executable = shutil.which("transformers")
    if executable is None:
        pytest.skip("transformers[serving] is not installed")
    cache = tmp_path_factory.mktemp("hf-cache")  # must exist, or /v1/models fails
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_CACHE": str(cache),
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    process = subprocess.Popen([executable, "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port),
                                "--device", "cpu"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}")
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("transformers serve did not start within 120 s")
    yield f"http://127.0.0.1:{port}/v1", str(tiny_model_dir)
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True, timeout=300)


def test_evol_and_self_instruct_through_transformers_serve(served_model, tmp_path: Path):
    url, model = served_model
    seeds = tmp_path / "seeds.json"
    seeds.write_text('["Name three rivers in Europe.", "Explain why the sky is blue."]')
    common = ["--base-url", url, "--model", model, "--max-tokens", "24", "--no-cache", "--concurrency", "4"]
    evol = _run(["evol", "--seeds", str(seeds), "-o", str(tmp_path / "evol.jsonl"), "--rounds", "4",
                 "--rejects", str(tmp_path / "evol_rejects.jsonl"), *common])
    assert evol.returncode == 0, evol.stderr
    kept = list(read_records(tmp_path / "evol.jsonl"))
    removed = list(read_records(tmp_path / "evol_rejects.jsonl")) if (tmp_path / "evol_rejects.jsonl").exists() else []
    assert len([r for r in kept if r.meta["evol"]["round"] == 0]) == 2
    assert len(kept) + len(removed) == 2 * 5  # every lineage: the seed and 4 rounds, kept or eliminated
    assert "requests" in evol.stderr

    # one-token replies are cut off (finish_reason "length"), and a cut-off last item is never a
    # task: the run cannot fill its pool, so it must stop
    # by itself after --max-barren requests in a row, say so and exit 1, not ask forever
    self_instruct = _run(["self-instruct", "--seeds", str(seeds), "-o", str(tmp_path / "si.jsonl"),
                          "--num-instructions", "2", "--max-barren", "3", "--rejects", str(tmp_path / "si_rejects.jsonl"),
                          "--base-url", url, "--model", model, "--max-tokens", "1", "--no-cache", "--concurrency", "1"])
    assert "Traceback" not in self_instruct.stderr
    assert self_instruct.returncode == 1 and "3 requests in a row gave no new task" in self_instruct.stderr
    assert re.search(r"requests\s*│\s*3 ", self_instruct.stderr)  # it really asked, exactly 3 times
    assert re.search(r"from cache\s*│\s*0 ", self_instruct.stderr)
    assert not (tmp_path / "si.jsonl").exists() or not list(read_records(tmp_path / "si.jsonl"))
