"""--batch through a scripted Batch API on 127.0.0.1, and --batch-file / --batch-results offline."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from curate.generate.evol_instruct import EvolConfig, evol_instruct
from curate.generate.respond import RespondConfig, respond
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example


def prompts(count, fail=()):
    return [Example(instruction=("BATCHFAIL " if i in fail else "") + f"Give tip number {i} about tea.")
            for i in range(count)]


def batch_config(server, **changes):
    return RespondConfig(**({"base_url": server.url, "no_cache": True, "batch": True, "batch_poll": 0.01,
                             "allow_failures": True} | changes))


def test_respond_through_the_batch_api(server, tmp_path):
    records = prompts(30, fail={7})
    write_records(tmp_path / "in.jsonl", records)
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_config(server, price="2/10"),
                      tmp_path / "rej.jsonl")
    assert server.payloads == []  # nothing went to /chat/completions: all of it in one batch
    assert len(server.batches) == 1 and server.batch_lines == 30
    answered = {r.id: r.output for r in read_records(tmp_path / "out.jsonl")}
    assert len(answered) == 29 and all(text.startswith("Here is a careful answer") for text in answered.values())
    [failed] = read_records(tmp_path / "rej.jsonl")
    assert failed.id == records[7].id and failed.meta["rejected"]["reason"] == "failed:batch_line_500"
    assert summary.counts["requests"] == 29
    live_price = (summary.counts["prompt_tokens"] * 2 + summary.counts["completion_tokens"] * 10) / 1e6
    assert summary.facts["cost_usd"] == pytest.approx(live_price / 2, abs=1e-6)  # the Batch API's half price
    assert summary.facts["batch_discount"] == "50% (Batch API)"


def test_batches_are_chunked(server, tmp_path, monkeypatch):
    monkeypatch.setattr("curate.llm_batch.MAX_REQUESTS", 10)
    write_records(tmp_path / "in.jsonl", prompts(25))
    respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_config(server, concurrency=4))
    assert [b["status"] for b in server.batches.values()] == ["completed"] * 3
    assert len(list(read_records(tmp_path / "out.jsonl"))) == 25


def test_evol_runs_one_batch_per_step_and_matches_a_live_run(server, seeds_file, tmp_path):
    live = EvolConfig(base_url=server.url, no_cache=True, rounds=2)
    evol_instruct(seeds_file, tmp_path / "live.jsonl", live, tmp_path / "live_rej.jsonl")
    server.reset()
    evol_instruct(seeds_file, tmp_path / "batch.jsonl", live.model_copy(update={"batch": True, "batch_poll": 0.01}),
                  tmp_path / "batch_rej.jsonl")
    assert server.payloads == [] and len(server.batches) >= 3  # seeds' answers and round 1, then round 2...
    ids = lambda name: sorted(r.id for r in read_records(tmp_path / name))  # noqa: E731
    assert ids("batch.jsonl") == ids("live.jsonl") and ids("batch_rej.jsonl") == ids("live_rej.jsonl")


def test_a_run_killed_while_its_batch_runs_picks_that_batch_up(server, tmp_path):
    write_records(tmp_path / "in.jsonl", prompts(20))
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "curate.cli", "respond", str(tmp_path / "in.jsonl"), "-o", str(out),
               "--base-url", server.url, "--no-cache", "--batch", "--batch-poll", "0.05"]
    server.batch_hold = True  # the batch stays in progress
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 60
    while not server.batches and time.time() < deadline:
        time.sleep(0.05)
    sidecar = tmp_path / "out.jsonl.batches.json"
    while not (sidecar.exists() and json.loads(sidecar.read_text())[0]["batch_id"]) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # between submit and completion
    process.wait()
    assert len(server.batches) == 1 and (not out.exists() or not list(read_records(out)))
    server.batch_hold = False
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert len(server.batches) == 1  # never submitted twice: the re-run polled the batch it had
    assert len(list(read_records(out))) == 20 and server.payloads == []


def test_an_expired_batch_sends_only_what_is_missing_again(server, tmp_path):
    write_records(tmp_path / "in.jsonl", prompts(10))
    server.batch_expire = True
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_config(server), tmp_path / "rej.jsonl")
    assert summary.written == 5 and summary.failed == {"batch_expired": 5}
    server.batch_expire = False
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_config(server), tmp_path / "rej.jsonl")
    assert summary.written == 5 and not summary.failed
    second = list(server.batches.values())[-1]
    assert len(server.files[second["input_file_id"]].splitlines()) == 5  # only the missing half
    assert len(list(read_records(tmp_path / "out.jsonl"))) == 10


def test_offline_request_file_and_results_as_vllm_run_batch_writes_them(server, tmp_path, run_cli):
    write_records(tmp_path / "in.jsonl", prompts(12))
    requests, results = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    common = ["curate", "respond", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
              "--model", "scripted-model", "--no-cache"]
    code, _, err = run_cli(*common, "--batch-file", str(requests))
    assert code == 0, err
    assert "12 requests wait in" in " ".join(err.split()) and "--batch-results" in err
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(lines) == 12 and all(line["url"] == "/v1/chat/completions" and line["method"] == "POST" for line in lines)
    assert all(line["body"]["model"] == "scripted-model" for line in lines)
    # what `vllm run-batch -i requests.jsonl -o results.jsonl` writes: one line per request
    with results.open("w") as stream:
        for line in lines:
            stream.write(json.dumps({"id": "vllm", "custom_id": line["custom_id"], "error": None,
                                     "response": {"status_code": 200, "body": server.completion(line["body"])}}) + "\n")
    code, _, err = run_cli(*common, "--batch-results", str(results))
    assert code == 0, err
    assert len(list(read_records(tmp_path / "out.jsonl"))) == 12 and server.payloads == []


def test_batch_flags_that_cannot_work_are_usage_errors(tmp_path, run_cli):
    write_records(tmp_path / "in.jsonl", prompts(2))
    base = ["curate", "respond", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl")]
    code, _, err = run_cli(*base, "--batch")
    assert code == 2 and "--base-url" in err
    code, _, err = run_cli(*base, "--batch-results", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(*base, "--batch-file", str(tmp_path / "r.jsonl"))
    assert code == 2 and "--model" in err
    assert not (tmp_path / "out.jsonl").exists() or not list(read_records(tmp_path / "out.jsonl"))


def test_results_alone_send_nothing_for_what_they_do_not_answer(server, tmp_path, run_cli):
    write_records(tmp_path / "in.jsonl", prompts(4))
    requests, results = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    common = ["curate", "respond", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
              "--model", "scripted-model", "--no-cache", "--base-url", server.url]
    code, _, err = run_cli(*common, "--batch-file", str(requests))
    assert code == 0, err
    lines = [json.loads(line) for line in requests.read_text().splitlines()][:2]  # half of them answered
    results.write_text("".join(json.dumps({"custom_id": line["custom_id"], "error": None, "response": {
        "status_code": 200, "body": server.completion(line["body"])}}) + "\n" for line in lines))
    code, _, err = run_cli(*common, "--batch-results", str(results))
    assert code == 1 and "not_in_batch_results" in err
    assert server.batches == {} and server.files == {} and server.payloads == []  # nothing was sent anywhere
    assert len(list(read_records(tmp_path / "out.jsonl"))) == 2


def test_a_batch_line_refusing_the_schema_counts_as_a_refusal():
    from curate.llm_types import RequestFailed
    from curate.rating import rejects_schema

    assert rejects_schema(RequestFailed("batch_line_400", "response_format json_schema is not supported"))
    assert not rejects_schema(RequestFailed("batch_line_400", "context length exceeded"))
