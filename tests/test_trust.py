"""Runs that never lie: the cache answers only for its own server, re-runs neither re-ask nor
double-write, rejects and summary agree, files are never clobbered, and a run that lost work
says so. Each test here failed on the code before these guarantees."""

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from curate.filters.judge import JudgeConfig, judge
from curate.generate.evol_instruct import EvolConfig, evol_instruct
from curate.generate.respond import RespondConfig, respond
from curate.generate.self_instruct import SelfInstructConfig, self_instruct
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example
from tests.fake_server import ScriptedServer


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def reasons(path):
    return Counter(row["meta"]["rejected"]["reason"] for row in lines(path))


def snapshot(*paths):
    return {path: path.read_bytes() if path.exists() else None for path in paths}


def chat_requests(server):
    return len(server.payloads)


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    write_records(path, [Example(instruction=f"Name a use for item {i}.") for i in range(12)])
    return path


@pytest.fixture
def second_server():
    other = ScriptedServer(reply=lambda prompt, seed: f"The other server says: {prompt[:30]}").start()
    other.models = ["other-model"]
    yield other
    other.stop()


# 1. the request cache -----------------------------------------------------------------


def test_the_cache_never_answers_for_another_server(server, second_server, prompts, tmp_path, run_cli):
    cache = tmp_path / "cache.sqlite"
    common = [str(prompts), "--cache", str(cache), "--concurrency", "4"]
    code, _, err = run_cli("curate", "respond", *common, "-o", str(tmp_path / "a.jsonl"), "--base-url", server.url)
    assert code == 0, err
    assert {r.meta["responses"]["model"] for r in read_records(tmp_path / "a.jsonl")} == {"scripted-model"}
    code, _, err = run_cli("curate", "respond", *common, "-o", str(tmp_path / "b.jsonl"),
                           "--base-url", second_server.url)
    assert code == 0, err
    assert chat_requests(second_server) == 12, "answered from the other server's cache entries"
    answered = list(read_records(tmp_path / "b.jsonl"))
    assert {r.meta["responses"]["model"] for r in answered} == {"other-model"}
    assert all(r.output.startswith("The other server says") for r in answered)
    # the same server and model again: all from the cache
    server.payloads.clear()
    code, _, err = run_cli("curate", "respond", *common, "-o", str(tmp_path / "c.jsonl"), "--base-url", server.url)
    assert code == 0 and chat_requests(server) == 0


def test_the_cache_key_covers_endpoint_and_model(server, prompts, tmp_path, run_cli):
    cache = ["--cache", str(tmp_path / "cache.sqlite"), "--base-url", server.url]
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "a.jsonl"), *cache)
    server.payloads.clear()
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "b.jsonl"), *cache,
                           "--endpoint", "completions")
    assert code == 0, err
    assert chat_requests(server) == 12 and all("prompt" in p for p in server.payloads)


# 2. re-runs -----------------------------------------------------------------------------


def test_a_finished_judge_rerun_asks_nothing_and_changes_nothing(server, tmp_path):
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    write_records(src, [Example(instruction=f"Task {i}", output="WEAK answer" if i % 3 == 0 else "fine")
                        for i in range(9)])
    config = JudgeConfig(base_url=server.url, no_cache=True, concurrency=3)
    judge(src, out, config, rejects)
    assert reasons(rejects) == {"score_below_4": 3}
    before = snapshot(out, rejects, tmp_path / "out.jsonl.run.json")
    server.payloads.clear()
    summary = judge(src, out, config, rejects)
    assert chat_requests(server) == 0 and snapshot(out, rejects, tmp_path / "out.jsonl.run.json") == before
    assert summary.resumed == 9 and summary.written == 0
    ids = [row["id"] for row in lines(out) + lines(rejects)]
    assert sorted(ids) == sorted(r.id for r in read_records(src))  # each id in exactly one file


def test_a_failure_that_later_succeeds_leaves_the_rejects(server, prompts, tmp_path):
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    server.fault = lambda payload, count: "500" if "item 3." in json.dumps(payload) else None
    config = RespondConfig(base_url=server.url, no_cache=True, max_retries=1, concurrency=4)
    summary = respond(prompts, out, config, rejects)
    assert summary.failed == {"http_500": 1} and reasons(rejects) == {"failed:http_500": 1}
    server.fault = lambda payload, count: None
    server.payloads.clear()
    summary = respond(prompts, out, config, rejects)
    assert chat_requests(server) == 1 and summary.written == 1
    assert lines(rejects) == [] and summary.failures_left() == {}
    assert sorted(row["id"] for row in lines(out)) == sorted(r.id for r in read_records(prompts))


def test_a_finished_evol_rerun_without_cache_asks_nothing(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "rej.jsonl"
    config = EvolConfig(base_url=server.url, no_cache=True, rounds=3, concurrency=4)
    evol_instruct(seeds_file, out, config, rejects)
    before = snapshot(out, rejects, tmp_path / "evol.jsonl.run.json")
    for _ in range(3):
        server.payloads.clear()
        evol_instruct(seeds_file, out, config, rejects)
        assert chat_requests(server) == 0 and snapshot(out, rejects, tmp_path / "evol.jsonl.run.json") == before
    slots = Counter(f"{row['meta']['evol']['root']}:{row['meta']['evol']['round']}"
                    for row in lines(out) + lines(rejects))
    assert len(slots) == 8 * 4 and set(slots.values()) == {1}  # every (root, round) in exactly one file


# 3. rejects and summary agree ---------------------------------------------------------------


def test_every_drop_has_its_line_and_the_summary_counts_lines(server, seeds_file, tmp_path):
    # every lineage evolves into the same text: all but one are duplicates, in every round
    def same_evolution(prompt, seed):
        if "#Given Prompt#" in prompt:
            return "#Rewritten Prompt#: Describe a lighthouse keeper's morning in detail."
        return "Not Equal" if "Compare two instructions" in prompt else "A long and careful answer."
    server.reply = same_evolution
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "rej.jsonl"
    summary = evol_instruct(seeds_file, out, EvolConfig(base_url=server.url, no_cache=True, rounds=2), rejects)
    written = reasons(rejects)
    assert written["duplicate_id"] == summary.dropped["duplicate_id"] >= 8
    assert written == Counter({**summary.dropped, **{f"failed:{r}": n for r, n in summary.failed.items()}})
    assert summary.totals == Counter({"written": len(lines(out)), **written})


def test_self_instruct_rejects_match_its_summary(server, seeds_file, tmp_path):
    rejects = tmp_path / "rej.jsonl"
    config = SelfInstructConfig(base_url=server.url, no_cache=True, num_instructions=12, concurrency=4)
    summary = self_instruct(seeds_file, tmp_path / "tasks.jsonl", config, rejects)
    assert summary.dropped["too_short"] > 1  # "Sing." comes back from every request
    assert reasons(rejects) == Counter(summary.dropped)


# 4. the same file twice -------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["dedup", "{a}", "-o", "{b}", "--rejects", "{a}"],
    ["judge", "{a}", "-o", "{a}"],
    ["filter", "{a}", "-o", "{link}"],
    ["respond", "{a}", "-o", "{b}", "--rejects", "{b}"],
    ["export", "{a}", "-o", "{a}"],
])
def test_two_flags_naming_one_file_is_a_usage_error(tmp_path, run_cli, argv):
    a, b, link = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "link.jsonl"
    write_records(a, [Example(instruction=f"Say {i}.", output=f"{i}") for i in range(3)])
    link.symlink_to(a)
    before = a.read_bytes()
    code, _, err = run_cli("curate", *[part.format(a=a, b=b, link=link) for part in argv],
                           "--base-url", "http://127.0.0.1:9/v1") if argv[0] in ("judge", "respond") else \
        run_cli("curate", *[part.format(a=a, b=b, link=link) for part in argv])
    assert code == 2 and "name the same file" in err
    assert a.read_bytes() == before and not b.exists()


# 5. a journal from other input or settings --------------------------------------------------


def test_a_journal_from_other_input_is_refused_unless_restarted(server, tmp_path, run_cli):
    a, b, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "out.jsonl"
    write_records(a, [Example(instruction=f"First file {i}.") for i in range(3)])
    write_records(b, [Example(instruction=f"Second file {i}.") for i in range(4)])
    common = ["-o", str(out), "--base-url", server.url, "--no-cache"]
    assert run_cli("curate", "respond", str(a), *common)[0] == 0
    before = out.read_bytes()
    code, _, err = run_cli("curate", "respond", str(b), *common)
    assert code == 2 and "its input was" in err and str(a) in err and "--restart" in err
    assert out.read_bytes() == before
    code, _, err = run_cli("curate", "respond", str(a), *common, "--temperature", "0.2")
    assert code == 2 and "--temperature was 0.7, now 0.2" in err
    code, _, err = run_cli("curate", "respond", str(b), *common, "--restart")
    assert code == 0, err
    assert sorted(r.instruction for r in read_records(out)) == [f"Second file {i}." for i in range(4)]


def test_answers_of_another_model_are_refused(server, prompts, tmp_path, run_cli):
    common = [str(prompts), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.url, "--no-cache"]
    server.fault = lambda payload, count: "400" if count > 6 else None  # the first run stops half-way
    assert run_cli("curate", "respond", *common, "--max-retries", "0", "--concurrency", "1")[0] == 1
    server.reset()
    server.models = ["a-newer-model"]
    code, _, err = run_cli("curate", "respond", *common)
    assert code == 2 and "'scripted-model'" in err and "'a-newer-model'" in err and chat_requests(server) == 0


# 6. a run that lost work ------------------------------------------------------------------------


def test_failed_items_make_the_exit_code_1_unless_allowed(server, prompts, tmp_path, run_cli):
    server.fault = lambda payload, count: "500" if "item 5." in json.dumps(payload) else None
    common = [str(prompts), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.url, "--no-cache",
              "--max-retries", "0"]
    code, _, err = run_cli("curate", "respond", *common)
    assert code == 1 and "1 items failed for good (http_500 x1)" in err and "--allow-failures" in err
    code, _, err = run_cli("curate", "respond", *common, "--allow-failures")
    assert code == 0 and len(lines(tmp_path / "out.jsonl")) == 11


def test_a_run_that_lost_work_says_what_the_server_said(server, prompts, tmp_path, run_cli):
    # transformers serve 5.25 refuses prompts longer than the model's context with a 400 that says
    # so; the run said only "http_400 x7" and the reason sat in the server's log
    server.fault = lambda payload, count: "400" if "item 5." in json.dumps(payload) else None
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out.jsonl"), "--base-url",
                           server.url, "--no-cache")
    assert code == 1 and "http_400 x1" in err and "http_400: bad request" in " ".join(err.split())


def test_a_server_that_dies_mid_run_stops_it(server, prompts, tmp_path, run_cli):
    server.fault = lambda payload, count: "drop" if count > 3 else None
    start = time.perf_counter()
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out.jsonl"),
                           "--base-url", server.url, "--no-cache", "--concurrency", "8")
    assert code == 1 and "connections in a row" in err and "the server looks down" in err
    assert time.perf_counter() - start < 10
    assert len(lines(tmp_path / "out.jsonl")) == 3  # what was finished is kept


# 7. fail fast -------------------------------------------------------------------------------------


def test_nothing_listening_stops_within_seconds(prompts, tmp_path, run_cli):
    start = time.perf_counter()
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out.jsonl"),
                           "--base-url", "http://127.0.0.1:9/v1", "--no-cache")
    assert time.perf_counter() - start < 10
    assert code == 2 and "cannot reach http://127.0.0.1:9/v1" in err and "--base-url" in err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.rejects.jsonl").exists()


def test_a_refused_key_stops_at_once_with_the_servers_words(server, prompts, tmp_path, run_cli):
    server.api_key = "sk-right"
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out.jsonl"),
                           "--base-url", server.url, "--api-key", "sk-wrong", "--no-cache")
    assert code == 2 and "401" in err and "Incorrect API key provided" in err and "--api-key" in err
    assert "sk-wrong" not in err and chat_requests(server) == 0 and server.models_requests == 1


def test_an_unknown_model_is_named_with_the_served_ones(server, prompts, tmp_path, run_cli):
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out.jsonl"),
                           "--base-url", server.url, "--model", "gpt-nine", "--no-cache")
    assert code == 2 and "'gpt-nine'" in err and "scripted-model" in err and "--model" in err
    assert chat_requests(server) == 0


# 8. the main job's first run ---------------------------------------------------------------------------


@pytest.mark.parametrize("hub", ["offline", "unreachable"])
def test_first_run_without_server_or_model_fails_fast_and_writes_nothing(tmp_path, hub):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "HF_HUB_OFFLINE")}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"} if hub == "offline" else \
        {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9"}  # a Hub that refuses connections
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(["Write a haiku about rain."]))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "curate.cli", "evol", "--seeds", str(seeds), "--rounds", "1",
                             "-o", str(tmp_path / "out" / "evol.jsonl"), "--rejects",
                             str(tmp_path / "out" / "evol_rejects.jsonl")],
                            env=env, capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - start < 15
    assert result.returncode == 2, result.stderr
    assert "Qwen/Qwen2.5-0.5B-Instruct" in result.stderr and "--base-url" in result.stderr
    assert "OPENAI_BASE_URL" in result.stderr and "--model DIR" in result.stderr
    assert not (tmp_path / "out" / "evol.jsonl").exists() and not (tmp_path / "out" / "evol_rejects.jsonl").exists()


# 9. --seed none ---------------------------------------------------------------------------------------


def test_seed_none_sends_no_seed_and_shares_no_cache_between_runs(server, prompts, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    common = ["--base-url", server.url, "--seed", "none", "--n", "2"]
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "a.jsonl"), *common)
    assert code == 0, err
    assert server.payloads and all("seed" not in payload for payload in server.payloads)
    server.payloads.clear()
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "b.jsonl"), *common)
    assert chat_requests(server) == 12  # the default cache does not replay another unseeded run
    server.payloads.clear()
    shared = ["--cache", str(tmp_path / "shared.sqlite")]
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "c.jsonl"), *common, *shared)
    server.payloads.clear()
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "d.jsonl"), *common, *shared)
    assert chat_requests(server) == 0  # a cache named on purpose is shared
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "e.jsonl"), "--base-url", server.url,
            "--seed", "7", "--no-cache")
    assert {payload["seed"] for payload in server.payloads} == {7}


# 10. figures ---------------------------------------------------------------------------------------------


def test_the_rate_counts_only_this_runs_work(server, prompts, tmp_path):
    config = RespondConfig(base_url=server.url, no_cache=True)
    respond(prompts, tmp_path / "out.jsonl", config)
    summary = respond(prompts, tmp_path / "out.jsonl", config)
    assert summary.resumed == 12 and summary.processed() == 0 and summary.as_dict()["records_per_s"] == 0.0


# the journal itself ------------------------------------------------------------------------------------------


def test_a_second_run_into_the_same_output_at_once_is_refused(server, prompts, tmp_path):
    from curate.errors import UsageError
    from curate.runner import StageRun

    with StageRun("respond", tmp_path / "out.jsonl", input=prompts):
        with pytest.raises(UsageError, match="being written by another run"):
            StageRun("respond", tmp_path / "out.jsonl", input=prompts).__enter__()


def test_duplicate_input_records_are_dropped_once_without_a_request(server, tmp_path):
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    write_records(src, [Example(instruction="Same question."), Example(instruction="Other question."),
                        Example(instruction="Same question.")])
    config = RespondConfig(base_url=server.url, no_cache=True)
    summary = respond(src, out, config, rejects)
    assert chat_requests(server) == 2 and summary.dropped == {"duplicate_id": 1}
    before = snapshot(out, rejects)
    respond(src, out, config, rejects)
    assert snapshot(out, rejects) == before


def test_another_jobs_rejects_are_refused(server, prompts, tmp_path, run_cli):
    from curate.errors import UsageError
    from curate.runner import StageRun

    shared = tmp_path / "first.rejects.jsonl"
    with StageRun("respond", tmp_path / "first.jsonl", input=prompts):  # a job running now
        with pytest.raises(UsageError, match="being written by another run"):
            StageRun("respond", tmp_path / "second.jsonl", shared, input=prompts).__enter__()
    server.fault = lambda payload, count: "400"  # every item fails: the first job leaves only rejects
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "first.jsonl"), "--base-url", server.url,
            "--no-cache", "--max-retries", "0")
    server.reset()
    before = shared.read_bytes()
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "second.jsonl"),
                           "--rejects", str(shared), "--base-url", server.url, "--no-cache")
    assert code == 2 and "rejects of another job" in err and shared.read_bytes() == before


def test_a_run_refused_before_its_first_record_leaves_no_file(prompts, tmp_path, run_cli):
    run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "out" / "a.jsonl"),
            "--base-url", "http://127.0.0.1:9/v1", "--no-cache")
    assert not (tmp_path / "out").exists()  # no folder, lock file, output or rejects


@pytest.mark.parametrize("flags, message", [
    (["--base-url", "127.0.0.1:8000/v1"], "needs http:// or https://"),
    (["--base-url", "http://127.0.0.1:9/v1", "--seed", "banana"], "a whole number or none"),
])
def test_flag_values_are_explained(prompts, tmp_path, run_cli, flags, message):
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "a.jsonl"), *flags)
    assert code == 2 and message in err


def test_a_url_without_v1_gets_a_hint(server, prompts, tmp_path, run_cli):
    code, _, err = run_cli("curate", "respond", str(prompts), "-o", str(tmp_path / "a.jsonl"),
                           "--base-url", server.url.removesuffix("/v1"), "--no-cache")
    assert code == 2 and "404" in err and "usually end in /v1" in err


def test_summary_json_holds_the_numbers_the_files_hold(server, tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction=f"Task {i}", output="WEAK answer" if i % 2 else "fine") for i in range(6)])
    code, _, err = run_cli("curate", "judge", str(src), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.url,
                           "--no-cache", "--summary-json", str(tmp_path / "summary.json"))
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["written"] == 3 and summary["dropped"] == {"score_below_4": 3}
    assert summary["totals"] == {"written": 3, "score_below_4": 3} == dict(
        Counter({"written": len(lines(tmp_path / "out.jsonl"))}) + reasons(tmp_path / "out.rejects.jsonl"))
    code, _, _ = run_cli("curate", "--summary-json", str(tmp_path / "filter.json"), "filter", str(src),
                         "-o", str(tmp_path / "f.jsonl"))
    assert code == 0 and json.loads((tmp_path / "filter.json").read_text())["read"] == 6


def test_a_stage_leaves_open_a_client_it_was_given(server, prompts, tmp_path):
    from curate.llm_config import LLMConfig, build_llm

    given = build_llm(LLMConfig(base_url=server.url, no_cache=True))
    config = RespondConfig(base_url=server.url, no_cache=True)
    respond(prompts, tmp_path / "a.jsonl", config, llm=given)
    assert given.backend._session is not None  # still the caller's, open for its next use
    respond(prompts, tmp_path / "b.jsonl", config, llm=given)
    assert len(lines(tmp_path / "b.jsonl")) == 12
    given.close()
    assert given.backend._session is None
