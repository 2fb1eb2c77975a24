"""--concurrency auto: how the limit moves, and that it finds a server's capacity end to end."""

import asyncio
import time

import pytest

from curate.concurrency import AUTO_START, AdaptiveLimit, Limit, duration


async def _fill(limit, count):
    for _ in range(count):
        await limit.acquire()


def _epoch(limit, latency):
    """One epoch: the limit used in full, and every request answered after `latency`."""
    async def run():
        await _fill(limit, limit.limit - limit.in_flight)
        started = time.monotonic()
        before = limit.limit
        while limit.limit == before and len(limit._latencies) < 10_000:
            limit.observe(started, latency)
        for _ in range(limit.in_flight):
            await limit.release()
    asyncio.run(run())


def test_slow_start_doubles_while_latency_stays_at_its_floor():
    limit = AdaptiveLimit()
    seen = [limit.limit]
    for _ in range(4):
        _epoch(limit, 0.1)
        seen.append(limit.limit)
    assert seen == [AUTO_START, 16, 32, 64, 128]


def test_queueing_latency_without_more_throughput_shrinks_the_limit():
    limit = AdaptiveLimit()
    _epoch(limit, 0.1)
    _epoch(limit, 0.1)
    limit.best_rate = float("inf")  # throughput does not rise any more
    before = limit.limit
    _epoch(limit, 0.5)  # five times the floor: requests only wait in the server's queue
    assert limit.limit == int(before * 0.9) and not limit.slow_start


def test_an_overload_cuts_once_for_the_requests_already_in_flight():
    limit = AdaptiveLimit()
    limit.limit = 64

    async def run():
        await _fill(limit, 64)
        sent = time.monotonic()
        for _ in range(20):  # a burst of 429s for requests sent before the cut, and their retries
            limit.observe(sent, None)
        assert limit.limit == 51 and limit.overloaded_at == 64
        limit.observe(time.monotonic(), None)  # a retry while 64 are still in flight: same overload
        assert limit.limit == 51
        for _ in range(20):
            await limit.release()
        limit.observe(time.monotonic(), None)  # drained below the limit: a new overload
        assert limit.limit == 40

    asyncio.run(run())


def test_an_unused_limit_does_not_grow():
    limit = AdaptiveLimit()

    async def run():
        await limit.acquire()  # one request in flight where eight are allowed: the stage has no more work
        started = time.monotonic()
        for _ in range(40):
            limit.observe(started, 0.1)

    asyncio.run(run())
    assert limit.limit == AUTO_START


def test_pauses_hold_back_new_requests():
    async def run():
        limit = Limit(4)
        limit.pause(0.3)
        start = time.monotonic()
        await limit.acquire()
        waited = time.monotonic() - start
        limit.rate_limit({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
        start = time.monotonic()
        await limit.acquire()
        return waited, time.monotonic() - start

    first, second = asyncio.run(run())
    assert first >= 0.29 and second >= 0.19


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5),
                                           ("2.5", 2.5), ("", None), ("soon", None), ("5x", None)])
def test_reset_durations(text, seconds):
    assert duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_auto_finds_a_servers_capacity_without_many_429s(server):
    """A server that answers 429 to any request beyond 12 in flight: auto ends at or just under
    12, and few requests are refused. Nothing here depends on timing: the rule counts requests."""
    from curate.llm import LLM, Sampling, map_unordered
    from curate.llm_http import OpenAIHTTP

    server.latency, server.max_in_flight = 0.02, 12
    llm = LLM(OpenAIHTTP(server.url, max_retries=30, retry_base=0.01), cache=None, concurrency="auto")

    async def run():
        async for _, reply in map_unordered(range(600), lambda i: llm.chat(
                [{"role": "user", "content": f"q{i}"}], Sampling(max_tokens=8)), limit=llm.width):
            assert not isinstance(reply, BaseException), reply

    llm.run(run())
    llm.close()
    assert 6 <= llm.limit.settled <= 13 and llm.limit.peak >= 12
    assert server.refused / 600 < 0.1
