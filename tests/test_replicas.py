"""Several replicas behind one --base-url: spread, a replica killed mid-run, one down at start."""

import threading

import pytest

from curate.errors import EndpointError
from curate.generate.respond import RespondConfig, respond
from curate.io import read_records, write_records
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
