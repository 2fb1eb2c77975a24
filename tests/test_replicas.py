"""Several replicas behind one --base-url: spread, a replica killed mid-run, one down at start."""

import threading

import pytest

from curate.errors import EndpointError
from curate.generate.respond import RespondConfig, respond
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example
from tests.fake_server import ScriptedServer


@pytest.fixture
def replicas():
    servers = [ScriptedServer(latency=0.01).start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def prompts(count):
    return [Example(instruction=f"Give tip number {i} about tea.") for i in range(count)]


def test_requests_spread_and_a_killed_replica_loses_nothing(replicas, tmp_path):
    first, doomed, third = replicas

    def stop_mid_run(payload, count):
        if count == 40:
            threading.Thread(target=doomed.stop).start()  # killed while it has requests in flight
        return None

    doomed.fault = stop_mid_run
    records = prompts(400)
    write_records(tmp_path / "in.jsonl", records)
    urls = ",".join(server.url for server in replicas)
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl",
                      RespondConfig(base_url=urls, no_cache=True, concurrency=8, timeout=2.0),
                      tmp_path / "rejects.jsonl")
    answered = list(read_records(tmp_path / "out.jsonl"))
    assert sorted(r.id for r in answered) == sorted(r.id for r in records) and not summary.failed
    assert all(r.output.startswith("Here is a careful answer") for r in answered)
    # least-outstanding balancing used all three; the other two finished the job
    assert len(doomed.payloads) >= 40 and len(first.payloads) > 100 and len(third.payloads) > 100
    assert len(first.payloads) + len(third.payloads) + len(doomed.payloads) >= 400


def test_the_cache_does_not_care_which_replica_answered(replicas, tmp_path):
    records = prompts(30)
    write_records(tmp_path / "in.jsonl", records)
    cache = tmp_path / "cache.sqlite"
    urls = [server.url for server in replicas]
    respond(tmp_path / "in.jsonl", tmp_path / "a.jsonl", RespondConfig(base_url=",".join(urls), cache=cache,
                                                                      concurrency=4))
    for server in replicas:
        server.payloads.clear()
    # the same replicas listed in another order: every answer comes from the cache
    summary = respond(tmp_path / "in.jsonl", tmp_path / "b.jsonl",
                      RespondConfig(base_url=",".join(reversed(urls)), cache=cache, concurrency=4))
    assert summary.counts["from_cache"] == 30 and not any(server.payloads for server in replicas)
    lines = lambda name: sorted((tmp_path / name).read_text().splitlines())  # noqa: E731 - finish order varies
    assert lines("a.jsonl") == lines("b.jsonl")


def test_a_replica_down_at_the_start_is_left_out_and_all_down_is_an_error(replicas, tmp_path, capsys):
    live, dead, other = replicas
    dead.stop()
    write_records(tmp_path / "in.jsonl", prompts(20))
    urls = ",".join(server.url for server in replicas)
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl",
                      RespondConfig(base_url=urls, no_cache=True, concurrency=4))
    assert summary.written == 20 and "cannot be reached" in capsys.readouterr().err
    live.stop()
    other.stop()
    with pytest.raises(EndpointError, match="cannot reach"):
        respond(tmp_path / "in.jsonl", tmp_path / "out2.jsonl",
                RespondConfig(base_url=urls, no_cache=True, concurrency=4))


def test_a_failed_attempt_is_retried_on_another_replica_and_429s_back_off(replicas, tmp_path):
    broken, healthy, third = replicas
    third.stop()
    order = []

    def log(name, answer):
        def fault(payload, count):
            order.append(name)
            return answer
        return fault

    broken.fault, healthy.fault = log("A", "500"), log("B", None)
    write_records(tmp_path / "in.jsonl", prompts(6))
    urls = ",".join(server.url for server in replicas)
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl",
                      RespondConfig(base_url=urls, no_cache=True, concurrency=1))
    assert summary.written == 6 and "AA" not in "".join(order)  # never twice in a row on the failing one
    assert order.count("A") <= 3  # then it rests
    # every replica answers 429 with no Retry-After: the retries wait, as one server's client would
    broken.fault = healthy.fault = lambda payload, count: "429"
    from curate.llm_http import OpenAIHTTP
    from curate.llm_replicas import Replicas

    backend = Replicas([OpenAIHTTP(broken.url, model="scripted-model"), OpenAIHTTP(healthy.url, model="scripted-model")],
                       max_retries=3)
    import asyncio
    import time

    from curate.llm_types import RequestFailed, Sampling

    async def ask():
        try:
            await backend.chat([{"role": "user", "content": "hi"}], Sampling())
        finally:
            await backend.aclose()

    start = time.monotonic()
    with pytest.raises(RequestFailed, match="http_429"):
        asyncio.run(ask())
    assert time.monotonic() - start > 0.5  # backoffs of 0.25-0.5 s, 0.5-1 s, ... not a burst in milliseconds
