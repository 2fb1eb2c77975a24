"""Several servers of one model (`--base-url A,B,C`: vLLM replicas) behind one backend.

Each request goes to the healthy replica with the fewest requests outstanding. A failed attempt
(a refused or dropped connection, a timeout, a 5xx) is tried again on another replica at once;
a replica that fails 3 attempts in a row is taken out for a while (2 s, doubling with each
time out, at most 60 s) and then given requests again. A 429 sends the request elsewhere and
rests that replica for its Retry-After (or a backoff), pausing no other. With nowhere else to
go, a retry waits the usual backoff; when every replica is out, requests wait for the first to
come back; the run stops (exit 1) only after
--max-connection-failures connection failures in a row across all of them.

Who answered does not matter to the cache: the key names the set of replicas, not the one.

Memory: a few counters per replica.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from curate.errors import EndpointError
from curate.llm_http import OpenAIHTTP, Retryable, redact_url
from curate.llm_types import Messages, Reply, Sampling

STRIKES = 3  # failed attempts in a row that take a replica out
COOLDOWN, MAX_COOLDOWN = 2.0, 60.0


class Replica:
    def __init__(self, backend: OpenAIHTTP):
        self.backend = backend
        self.outstanding = 0
        self.strikes = 0
        self.outs = 0  # times taken out; the next cool-down doubles
        self.out_until = 0.0

    @property
    def name(self) -> str:
        return redact_url(self.backend.base_url)

    def healthy(self, now: float) -> bool:
        return self.out_until <= now

    def failed(self, now: float) -> None:
        self.strikes += 1
        if self.strikes >= STRIKES:
            self.out_until = now + min(COOLDOWN * 2**self.outs, MAX_COOLDOWN)
            self.outs += 1
            self.strikes = 0

    def answered(self) -> None:
        self.strikes = 0
        self.outs = 0


class Replicas:
    """An OpenAI-compatible backend over several servers of the same model."""

    accepts_response_format = True  # OpenAI and vLLM take json_schema; see curate/rating.py

    def __init__(self, backends: list[OpenAIHTTP], max_retries: int = 6, max_connection_failures: int = 20):
        self.replicas = [Replica(backend) for backend in backends]
        self.max_retries = max_retries
        self.max_connection_failures = max_connection_failures
        self.model = backends[0].model
        self.endpoint = backends[0].endpoint
        self._retries = 0
        self._connection_failures = 0  # in a row, over every replica
        self._limit: Any = None
        for backend in backends:  # the replicas neither retry nor give up on their own: this does both
            backend.max_retries = 0
            backend.max_connection_failures = 10**9
            backend.one_of_many = True

    @property
    def limit(self) -> Any:
        return self._limit

    @limit.setter
    def limit(self, value: Any) -> None:  # the client's concurrency limit hears every replica
        self._limit = value
        for replica in self.replicas:
            replica.backend.limit = value

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def base_url(self) -> str:
        return ",".join(replica.backend.base_url for replica in self.replicas)

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": sorted(replica.name for replica in self.replicas),
                "endpoint": self.endpoint, "model": self.model}

    async def prepare(self) -> None:
        """Every replica is checked; those that cannot be reached start out of rotation (and are
        tried again later), a refused key or an unknown model on any stops the run, and all of
        them must serve the same model."""
        outcomes = await asyncio.gather(*(replica.backend.prepare() for replica in self.replicas),
                                        return_exceptions=True)
        reachable = []
        for replica, outcome in zip(self.replicas, outcomes):
            if isinstance(outcome, EndpointError) and outcome.unreachable:
                replica.out_until = time.monotonic() + COOLDOWN
                replica.outs = 1
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                reachable.append(replica)
        if not reachable:
            raise next(outcome for outcome in outcomes if isinstance(outcome, BaseException))
        models = {replica.backend.model for replica in reachable}
        if len(models) > 1:
            listing = ", ".join(f"{replica.name}: {replica.backend.model}" for replica in reachable)
            raise EndpointError(f"the replicas serve different models ({listing}); pass --model")
        self.model = models.pop()
        for replica in self.replicas:
            replica.backend.model = self.model
        from curate.summary import stderr

        for replica in self.replicas:
            if replica not in reachable:
                stderr.print(f"[yellow]{replica.name} cannot be reached; it gets requests once it answers[/]")

    def _pick(self, avoid: Replica | None = None) -> Replica | None:
        """The healthy replica with the fewest requests outstanding, other than `avoid` (the one
        that just failed this request) while another is healthy."""
        now = time.monotonic()
        healthy = [replica for replica in self.replicas if replica.healthy(now)]
        others = [replica for replica in healthy if replica is not avoid] or healthy
        return min(others, key=lambda replica: replica.outstanding) if others else None

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        last: Retryable | None = None
        failed_on: Replica | None = None
        for attempt in range(self.max_retries + 1):
            replica = self._pick(avoid=failed_on)
            while replica is None:  # every replica is out: wait for the first to come back
                await asyncio.sleep(max(min(r.out_until for r in self.replicas) - time.monotonic(), 0.01))
                replica = self._pick(avoid=failed_on)
            if attempt:
                self._retries += 1
            replica.outstanding += 1
            try:
                reply = await replica.backend.attempt_chat(messages, sampling)
            except Retryable as failure:
                last, failed_on = failure, replica
                self._failed(replica, failure, attempt)
                if attempt < self.max_retries and self._pick(avoid=replica) in (None, replica):
                    # nowhere else to go: back off, as one server's client would
                    await asyncio.sleep(failure.wait if failure.wait is not None else replica.backend._backoff(attempt))
                continue
            finally:
                replica.outstanding -= 1
            replica.answered()
            self._connection_failures = 0
            return reply
        assert last is not None
        raise last.error

    def _failed(self, replica: Replica, failure: Retryable, attempt: int) -> None:
        now = time.monotonic()
        if failure.error.reason == "http_429":  # busy, not broken: rest it as long as it asked, or a backoff
            rest = failure.wait if failure.wait else replica.backend._backoff(attempt)
            replica.out_until = max(replica.out_until, now + rest)
            return
        replica.failed(now)
        if failure.connection:
            self._connection_failures += 1
            if self._connection_failures >= self.max_connection_failures:
                raise EndpointError(
                    f"{self._connection_failures} connections in a row to the replicas ({self.base_url_redacted()}) "
                    "failed; they look down. Finished records are saved: start them again and run the same command "
                    "to continue (or check --base-url)", exit_code=1)

    def base_url_redacted(self) -> str:
        return ", ".join(replica.name for replica in self.replicas)

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.backend.aclose()
