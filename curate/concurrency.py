"""How many requests a client keeps in flight: a fixed number, or one found as the run goes.

`--concurrency auto` (AdaptiveLimit) treats the server the way TCP treats a network. It works in
epochs: an epoch ends once as many requests have finished as the limit allows (half as many in
slow start), and at least 8.

- Slow start: from 8, the limit doubles each epoch while the epoch's median latency stays near
  its floor (within 1.5x of the lowest epoch median seen), i.e. while the server keeps up.
- Then, while latency stays near the floor, or while throughput still rises (batching servers
  such as vLLM get slower per request but faster overall), it grows: quickly back to just under
  the limit of the last overload, stays there for 8 epochs, then probes past it, faster the
  longer it goes unharmed.
  When latency has left the floor and throughput no longer rises, requests only queue on the
  server, and the limit shrinks by a tenth.
- Overload (429, 502, 503, 504, a timeout, a dropped connection) cuts it to 0.8x, once per
  batch of requests in flight, and ends slow start. `Retry-After`, and OpenAI's
  `x-ratelimit-remaining-*` reaching 0 with its `x-ratelimit-reset-*`, pause new requests.
- An epoch in which the limit was not used (fewer requests in flight than it allows: the stage
  had no more work) does not move the limit: idle time says nothing about the server's capacity
  (its latencies still count towards the floor).

`settled` is the median limit over the last epochs: where the limit spent its time.

Memory: the latencies of one epoch, and the limits of the last 32 epochs.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections import deque
from collections.abc import Mapping

AUTO_START = 8
AUTO_MAX = 512  # sockets stay well under the usual limit of 1,024 open files
NEAR_FLOOR = 1.5  # an epoch whose median latency is within this factor of the floor: no queueing
MIN_EPOCH = 8
HOLD_EPOCHS = 8  # epochs just under the limit of the last overload before trying it again
OVERLOAD_STATUSES = frozenset({429, 502, 503, 504})


class Limit:
    """A fixed number of requests in flight, with pauses asked for by the server."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0
        self.peak = limit
        self._paused_until = 0.0
        self._changed: asyncio.Condition | None = None

    @property
    def adaptive(self) -> bool:
        return False

    async def acquire(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Condition()
        while True:
            while (delay := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            async with self._changed:
                try:
                    await self._changed.wait_for(lambda: self.in_flight < self.limit)
                except asyncio.CancelledError:
                    self._changed.notify(1)  # a wakeup meant for this waiter goes to the next one
                    raise
                if self._paused_until <= time.monotonic():  # a pause that began while it waited holds it too
                    self.in_flight += 1
                    return
                self._changed.notify(1)

    async def release(self) -> None:
        self.in_flight -= 1
        await self._notify()

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify(max(self.limit - self.in_flight, 1))

    def pause(self, seconds: float) -> None:
        """Send nothing new for `seconds` (a Retry-After, or a spent rate-limit window)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, started: float, latency: float | None) -> None:
        """One attempt's outcome: when it was sent (time.monotonic()), and its latency when it was
        answered, or None for an overload (429/502/503/504, a timeout or a dropped connection)."""

    def rate_limit(self, headers: Mapping[str, str]) -> None:
        """OpenAI's x-ratelimit headers: a window with nothing left pauses until it resets."""
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            if remaining is not None and remaining.strip() in ("0", "0.0"):
                reset = duration(headers.get(f"x-ratelimit-reset-{kind}"))
                if reset:
                    self.pause(reset)


class AdaptiveLimit(Limit):
    def __init__(self, start: int = AUTO_START, maximum: int = AUTO_MAX, minimum: int = 1):
        super().__init__(start)
        self.minimum, self.maximum = minimum, maximum
        self.slow_start = True
        self.floor = float("inf")  # the lowest epoch median latency seen
        self.best_rate = 0.0
        self.overloads = 0
        self.overloaded_at = 0  # the limit at the last overload (0: none yet)
        self._probe = 1  # growth past overloaded_at: doubles with each epoch that passes it unharmed
        self._held = 0  # epochs spent just under overloaded_at
        self._last_cut = 0.0
        self._history: deque[int] = deque(maxlen=32)
        self._new_epoch()

    @property
    def adaptive(self) -> bool:
        return True

    @property
    def settled(self) -> int:
        return int(statistics.median(self._history)) if self._history else self.limit

    def _new_epoch(self) -> None:
        self._latencies: list[float] = []
        self._started = time.monotonic()
        self._busiest = self.in_flight

    async def acquire(self) -> None:
        await super().acquire()
        self._busiest = max(self._busiest, self.in_flight)

    def observe(self, started: float, latency: float | None) -> None:
        if latency is None:
            self.overloads += 1
            if started < self._last_cut or self.in_flight > self.limit:
                return  # sent before the last cut, or still draining since: the same overload, answered
            self._last_cut = time.monotonic()
            self.overloaded_at = self.limit
            self._probe, self._held = 1, 0
            self.slow_start = False
            self._set(max(self.minimum, int(self.limit * 0.8)))
            self._new_epoch()
            return
        self._latencies.append(latency)
        if len(self._latencies) >= max(self.limit // 2 if self.slow_start else self.limit, MIN_EPOCH):
            self._end_epoch()

    def _end_epoch(self) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        median = statistics.median(self._latencies)
        rate = len(self._latencies) / elapsed
        used = self._busiest >= 0.9 * self.limit
        self.floor = min(self.floor, median)
        if used and (median <= NEAR_FLOOR * self.floor or rate > 1.05 * self.best_rate):
            if median > NEAR_FLOOR * self.floor:
                self.slow_start = False  # growing on throughput alone: carefully
            self._set(self._grown())
        elif used:
            self.slow_start = False
            self._set(max(self.minimum, int(self.limit * 0.9)))
        self.best_rate = max(self.best_rate * 0.98, rate)  # decays: a stale best must not block growth
        self._history.append(self.limit)
        self._new_epoch()

    def _grown(self) -> int:
        if self.slow_start:
            return self.limit * 2
        if self.limit < self.overloaded_at - 1:  # well below the last overload: back towards it, fast
            return min(self.limit + max(1, (self.overloaded_at - self.limit) // 2), self.overloaded_at - 1)
        if self.overloaded_at:
            if self._held < HOLD_EPOCHS:  # just under it: stay a while before trying it again
                self._held += 1
                return self.limit
            step, self._probe = self._probe, min(self._probe * 2, 64)  # then probe, faster the longer it holds
            return self.limit + step
        return self.limit + max(1, self.limit // 8)

    def _set(self, limit: int) -> None:
        grew = limit > self.limit
        self.limit = min(max(limit, self.minimum), self.maximum)
        self.peak = max(self.peak, self.limit)
        if grew and self._changed is not None:
            asyncio.ensure_future(self._notify())  # waiters may go now


def limit_for(concurrency: int | str) -> Limit:
    return AdaptiveLimit() if concurrency == "auto" else Limit(int(concurrency))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(value: str | None) -> float | None:
    """Seconds from OpenAI's reset headers ("1s", "6m0s", "20ms", "1h2m3.5s"), or a bare number."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _UNIT[unit] for number, unit in parts)
