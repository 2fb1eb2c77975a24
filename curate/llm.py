"""One client for every model endpoint: an async core, and a sync wrapper for scripts.

`LLM.chat(messages, sampling)` answers one conversation. Behind it sit a request cache
(SQLite, so a re-run asks nothing twice), a bound on requests in flight, usage counts,
and a backend: `OpenAIHTTP` for vLLM's server, OpenAI or any compatible endpoint, or an
in-process `transformers` / `vllm` model (curate/llm_local.py).

The HTTP hot path is a bare aiohttp loop: the request body is serialised once, the reply
is read as plain JSON, and nothing else runs per request. The openai SDK's client costs
several times more CPU per request (see bench/llm_client.py), which caps throughput on
small machines long before a vLLM server is busy.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from curate.errors import UsageError
from curate.llm_cache import RequestCache

Messages = list[dict[str, str]]
T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524})


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters; part of the cache key."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p,
                                  "max_tokens": self.max_tokens}
        if self.seed is not None:
            params["seed"] = self.seed
        if self.n != 1:
            params["n"] = self.n
        if self.stop:
            params["stop"] = list(self.stop)
        return params

    def but(self, **changes: Any) -> Sampling:
        return replace(self, **changes)


@dataclass
class Reply:
    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    @property
    def text(self) -> str:
        return self.texts[0]

    @property
    def truncated(self) -> bool:
        return self.finish_reasons[0] == "length"


class RequestFailed(Exception):
    """A request that failed for good; `reason` is a short slug for summaries and rejects."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Usage:
    requests: int = 0
    cached: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[tuple[str, str]]:
        rows = [("requests", f"{self.requests:,} (+{self.cached:,} from cache)"),
                ("tokens", f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion")]
        if self.retries:
            rows.append(("retries", f"{self.retries:,}"))
        return rows


class Backend(Protocol):
    model: str
    retries: int

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply: ...

    async def aclose(self) -> None: ...


class LLM:
    """The client stages use: cache, concurrency bound and usage around one backend."""

    def __init__(self, backend: Backend, cache: RequestCache | None = None, concurrency: int = 64):
        self.backend = backend
        self.cache = cache
        self.concurrency = concurrency
        self.usage = Usage()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        key = RequestCache.key(self.backend.model, messages, sampling.params()) if self.cache else ""
        if self.cache and (hit := self.cache.get(key)):
            self.usage.cached += 1
            return hit
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            try:
                reply = await self.backend.chat(messages, sampling)
            except RequestFailed as error:
                self.usage.failed[error.reason] += 1
                raise
            finally:
                self.usage.retries = self.backend.retries
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


# ---------------------------------------------------------------- HTTP backend


def redact_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


class OpenAIHTTP:
    """OpenAI-compatible chat or completions over aiohttp, with retries and backoff."""

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None,
                 endpoint: str = "chat", timeout: float = 600.0, max_retries: int = 6,
                 connections: int = 512, retry_base: float = 0.5, retry_cap: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.model = model or ""
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_retries = max_retries
        self.connections = connections
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.retries = 0
        self._api_key = api_key
        self._session: Any = None
        self._model_lock: asyncio.Lock | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _open_session(self) -> Any:
        import aiohttp

        if self._session is None:
            # the connection pool must exceed the concurrency, or requests queue inside aiohttp
            connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers(),
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def resolve_model(self) -> str:
        """With no --model, ask the server (vLLM serves one model) which it has."""
        if self.model:
            return self.model
        if self._model_lock is None:
            self._model_lock = asyncio.Lock()
        async with self._model_lock:
            if not self.model:
                body = await self._request("GET", "/models", None)
                try:
                    self.model = body["data"][0]["id"]
                except (KeyError, IndexError, TypeError):
                    raise UsageError(f"{redact_url(self.base_url)}/models lists no model; pass --model") from None
        return self.model

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        model = self.model or await self.resolve_model()
        if self.endpoint == "completions":
            prompt = "\n\n".join(message["content"] for message in messages)
            payload = {"model": model, "prompt": prompt, **sampling.params()}
            return await self._request("POST", "/completions", payload, self._parse)
        payload = {"model": model, "messages": messages, **sampling.params()}
        return await self._request("POST", "/chat/completions", payload, self._parse)

    def _parse(self, body: Any) -> Reply:
        try:
            choices = sorted(body["choices"], key=lambda choice: choice.get("index", 0))
            if self.endpoint == "completions":
                texts = [choice["text"] for choice in choices]
            else:
                texts = [choice["message"]["content"] or "" for choice in choices]
            reasons = [choice.get("finish_reason") or "stop" for choice in choices]
            usage = body.get("usage") or {}
            if not texts or not all(isinstance(text, str) for text in texts):
                raise TypeError("no text")
        except (KeyError, TypeError, AttributeError) as error:
            raise RequestFailed("malformed_response", f"unexpected reply shape ({error})") from None
        return Reply(texts, reasons, int(usage.get("prompt_tokens") or 0),
                     int(usage.get("completion_tokens") or 0))

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None,
                       parse: Callable[[Any], Any] = lambda body: body) -> Any:
        """The parsed reply; a reply that is not JSON or not the expected shape is retried too."""
        import aiohttp

        session = self._open_session()
        data = json.dumps(payload).encode() if payload is not None else None
        url = self.base_url + path
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                async with session.request(method, url, data=data) as response:
                    raw = await response.read()
                    if response.status == 200:
                        try:
                            return parse(json.loads(raw))
                        except ValueError:
                            error = RequestFailed("malformed_response", f"not JSON: {self._snippet(raw)}")
                        except RequestFailed as bad_shape:
                            error = bad_shape
                    else:
                        error = RequestFailed(f"http_{response.status}", self._snippet(raw))
                        if response.status not in RETRY_STATUSES:
                            raise error
                        wait = retry_after(response.headers.get("Retry-After"))
            except asyncio.TimeoutError:
                error = RequestFailed("timeout", f"no complete reply within {self.timeout:g} s")
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                error = RequestFailed("connection", f"{type(exc).__name__} talking to {redact_url(self.base_url)}")
            if attempt == self.max_retries:
                raise error
            self.retries += 1
            await asyncio.sleep(wait if wait is not None else self._backoff(attempt))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        # exponential with "equal jitter": never zero, never in lock-step with other clients
        ceiling = min(self.retry_cap, self.retry_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _snippet(self, raw: bytes) -> str:
        text = raw[:300].decode("utf-8", "replace").strip()
        if self._api_key:
            text = text.replace(self._api_key, "***")  # some servers echo the key in errors
        return " ".join(text.split())

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def retry_after(value: str | None, cap: float = 300.0) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)
