"""One client for every model endpoint: an async core, and a sync wrapper for scripts.

`LLM.chat(messages, sampling)` answers one conversation. Before the first request the
backend checks that it can serve at all (`prepare`: the server answers, the key is taken,
the model exists and is resolved), so a wrong flag stops a run within seconds. Behind it
sit a request cache (SQLite, keyed by the endpoint, the resolved model, the messages and
the sampling, so a re-run asks nothing twice), a bound on requests in flight, usage
counts, and a backend: `OpenAIHTTP` (curate/llm_http.py) for vLLM's server, OpenAI or any
compatible endpoint, or an in-process `transformers` / `vllm` model (curate/llm_local.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from curate.llm_cache import RequestCache
from curate.llm_types import Messages, Reply, RequestFailed, Sampling

__all__ = ["LLM", "Backend", "Messages", "Reply", "RequestFailed", "Sampling", "Usage", "map_unordered"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Usage:
    requests: int = 0
    cached: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        """The numbers for a stage's summary (failures are counted there by reason already)."""
        return {"requests": self.requests, "from_cache": self.cached, "retries": self.retries,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


class Backend(Protocol):
    model: str
    retries: int

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply: ...

    async def aclose(self) -> None: ...


class LLM:
    """The client stages use: cache, concurrency limit (curate/concurrency.py) and usage around
    one backend.

    `cache_salt` goes into every cache key: a run that sends no seed gets a fresh salt, so its
    samples are not replayed from another run's.
    """

    def __init__(self, backend: Backend, cache: RequestCache | None = None, concurrency: int | str = "auto",
                 cache_salt: str = ""):
        self.backend = backend
        self.cache = cache
        self.concurrency = concurrency
        self.cache_salt = cache_salt
        self.usage = Usage()
        self.limit = _limit_for(backend, concurrency)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._preparing: asyncio.Future[None] | None = None
        self._ready = False
        self._hooks: list[Callable[[str], None]] = []
        self._refused: set[str] = set()  # request parameters the server turned down this run

    def accepts(self, feature: str) -> bool:
        """Can requests carry this parameter (e.g. response_format)? Servers over HTTP can, until
        one refuses it (`refuses`); in-process models do not."""
        return feature not in self._refused and getattr(self.backend, "accepts_response_format", False)

    def refuses(self, feature: str) -> None:
        self._refused.add(feature)

    @property
    def width(self) -> int:
        """How many requests are worth having ready at once: the fixed limit, or auto's ceiling."""
        from curate.concurrency import AUTO_MAX

        return AUTO_MAX if self.limit.adaptive else self.limit.limit

    def concurrency_counts(self) -> dict[str, int]:
        """For the summary: the limit at the end of the run (what auto settled on) and its peak."""
        return {"concurrency": self.limit.settled, "concurrency_peak": self.limit.peak} if self.limit.adaptive \
            else {"concurrency": self.limit.limit}

    def when_ready(self, hook: Callable[[str], None]) -> None:
        """Call `hook(model)` once the model is resolved, before any request is sent; an error it
        raises stops the run (a journal uses this to refuse answers from another model)."""
        if self._ready:
            hook(self.backend.model)
        else:
            self._hooks.append(hook)

    def forget(self, hook: Callable[[str], None]) -> None:
        """Unregister a `when_ready` hook (its stage ended without asking anything)."""
        if hook in self._hooks:
            self._hooks.remove(hook)

    async def ready(self) -> None:
        """Check the endpoint and resolve the model, once; every caller waits for the same check."""
        if self._ready:
            return
        if self._preparing is None:
            self._preparing = asyncio.ensure_future(self._prepare())
        await asyncio.shield(self._preparing)

    async def _prepare(self) -> None:
        prepare = getattr(self.backend, "prepare", None)
        if prepare is not None:
            await prepare()
        for hook in self._hooks:
            hook(self.backend.model)
        self._ready = True

    def identity(self) -> dict[str, Any]:
        """Who answers: endpoint and resolved model (never a credential), for the cache key."""
        identity = getattr(self.backend, "identity", None)
        return identity() if identity is not None else {"model": self.backend.model}

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        await self.ready()
        key = RequestCache.key(self.identity(), messages, sampling.key_params(), self.cache_salt) if self.cache else ""
        if self.cache and (hit := self.cache.get(key)):
            self.usage.cached += 1
            return hit
        await self.limit.acquire()
        try:
            reply = await self.backend.chat(messages, sampling)
        except RequestFailed as error:
            self.usage.failed[error.reason] += 1
            raise
        finally:
            self.usage.retries = self.backend.retries
            await self.limit.release()
        self.usage.requests += 1
        self.usage.prompt_tokens += reply.prompt_tokens
        self.usage.completion_tokens += reply.completion_tokens
        if self.cache:
            self.cache.put(key, reply)
        return reply

    async def aclose(self) -> None:
        await self.backend.aclose()
        if self.cache:
            self.cache.close()

    # -- sync wrapper, for scripts and notebooks that do not run an event loop

    def chat_sync(self, messages: Messages, sampling: Sampling | None = None) -> Reply:
        return self.run(self.chat(messages, sampling or Sampling()))

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run a coroutine on this client's own loop (its HTTP session lives there).

        On Ctrl-C or any error, every task still running is cancelled and the connections
        are closed before the exception goes on, so nothing is left half-done in the loop.
        """
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._loop.set_exception_handler(quiet_interrupts)
        loop = self._loop
        main = asyncio.ensure_future(awaitable, loop=loop)
        try:
            return loop.run_until_complete(main)
        except BaseException:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(self.backend.aclose())
            raise

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self.aclose())
            self._loop.close()
            self._loop = None


def quiet_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's error handler: a Ctrl-C that landed inside a task (an HTTP write, say) leaves
    that task finished with KeyboardInterrupt, and asyncio would print its traceback as "never
    retrieved" after the run has said it was interrupted. Everything else is reported as usual."""
    if isinstance(context.get("exception"), (KeyboardInterrupt, SystemExit)):
        return
    loop.default_exception_handler(context)


def _limit_for(backend: Backend, concurrency: int | str) -> Any:
    """The concurrency limit for a backend: a batch takes every request there is at once; the
    servers we talk to over HTTP tell the limit how each attempt went (so auto can adapt), and
    in-process models tell it nothing (auto is 64 there)."""
    from curate.concurrency import Limit, limit_for

    if getattr(backend, "batch", False):
        from curate.llm_batch import MAX_REQUESTS

        return Limit(MAX_REQUESTS)
    if not hasattr(backend, "limit"):
        return limit_for(64 if concurrency == "auto" else concurrency)
    limit = limit_for(concurrency)
    backend.limit = limit  # type: ignore[attr-defined]
    return limit


async def map_unordered(
    items: Iterable[T], work: Callable[[T], Awaitable[R]], limit: int
) -> AsyncIterator[tuple[T, R | BaseException]]:
    """Run `work` over items with at most `limit` in flight; yield each as it finishes.

    Tasks are created lazily, so a million items cost `limit` tasks, not a million.
    """
    iterator = iter(items)
    pending: dict[asyncio.Task[R], T] = {}

    def refill() -> None:
        for item in iterator:
            pending[asyncio.ensure_future(work(item))] = item
            if len(pending) >= limit:
                return

    refill()
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                item = pending.pop(task)
                yield item, (task.exception() or task.result())
            refill()
    finally:
        for task in pending:
            task.cancel()
