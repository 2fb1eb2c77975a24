"""One client for every model endpoint: an async core, and a sync wrapper for scripts.

`LLM.chat(messages, sampling)` answers one conversation. Before the first request the
backend checks that it can serve at all (`prepare`: the server answers, the key is taken,
the model exists and is resolved), so a wrong flag stops a run within seconds. Behind it
sit a request cache (SQLite, keyed by the endpoint, the resolved model, the messages and
the sampling, so a re-run asks nothing twice), a bound on requests in flight, usage
counts, and a backend: `OpenAIHTTP` for vLLM's server, OpenAI or any compatible endpoint, or an
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

from curate.errors import EndpointError
from curate.llm_cache import RequestCache

Messages = list[dict[str, str]]
T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524})
PREFLIGHT_TIMEOUT = 10.0  # seconds the check before the first request may take


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters; part of the cache key.

    `seed` always tells requests apart in the cache; `send_seed=False` keeps it off the wire,
    for servers that must not get one (vLLM's CPU build dies on seeded requests).
    """

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    send_seed: bool = True

    def params(self) -> dict[str, Any]:
        """What the server is sent."""
        params: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p,
                                  "max_tokens": self.max_tokens}
        if self.seed is not None and self.send_seed:
            params["seed"] = self.seed
        if self.n != 1:
            params["n"] = self.n
        if self.stop:
            params["stop"] = list(self.stop)
        return params

    def key_params(self) -> dict[str, Any]:
        """What the cache key holds: the sent parameters, and the seed even when it is not sent."""
        return {**self.params(), "seed": self.seed}

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
    """The client stages use: cache, concurrency bound and usage around one backend.

    `cache_salt` goes into every cache key: a run that sends no seed gets a fresh salt, so its
    samples are not replayed from another run's.
    """

    def __init__(self, backend: Backend, cache: RequestCache | None = None, concurrency: int = 64,
                 cache_salt: str = ""):
        self.backend = backend
        self.cache = cache
        self.concurrency = concurrency
        self.cache_salt = cache_salt
        self.usage = Usage()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._preparing: asyncio.Future[None] | None = None
        self._ready = False
        self._hooks: list[Callable[[str], None]] = []

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
    """The URL without user:password or a query string (either may hold a key), for messages
    and cache keys."""
    parts = urlsplit(url)._replace(query="", fragment="")
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def server_message(raw: bytes) -> str:
    """The server's own words from an error reply: OpenAI's error.message, FastAPI's detail, or
    the start of the body."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        for candidate in (error.get("message") if isinstance(error, dict) else error, body.get("detail"),
                          body.get("message")):
            if isinstance(candidate, str) and candidate.strip():
                return " ".join(candidate.split())[:300]
    return " ".join(raw[:300].decode("utf-8", "replace").split()) or "(empty reply)"


class OpenAIHTTP:
    """OpenAI-compatible chat or completions over aiohttp, with retries and backoff."""

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None,
                 endpoint: str = "chat", timeout: float = 600.0, max_retries: int = 6,
                 connections: int = 512, retry_base: float = 0.5, retry_cap: float = 60.0,
                 max_connection_failures: int = 20):
        self.base_url = base_url.rstrip("/")
        self.model = model or ""
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_retries = max_retries
        self.connections = connections
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.retries = 0
        self.max_connection_failures = max_connection_failures
        self._connection_failures = 0  # in a row, over all requests: the server is down, not flaky
        self._api_key = api_key
        self._session: Any = None

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

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": redact_url(self.base_url), "endpoint": self.endpoint,
                "model": self.model}

    async def prepare(self) -> None:
        """One GET /models before the first request: an unreachable server, a refused key or an
        unknown model stops the run here, within seconds, instead of failing every item after
        its retries. With no --model, the one model the server lists is used."""
        import aiohttp

        url = redact_url(self.base_url)
        try:
            async with self._open_session().get(self.base_url + "/models",
                                                timeout=aiohttp.ClientTimeout(total=PREFLIGHT_TIMEOUT)) as response:
                status, raw = response.status, await response.read()
        except asyncio.TimeoutError:
            raise EndpointError(f"{url}/models did not answer within {PREFLIGHT_TIMEOUT:g} s; is the server up? "
                                "Check --base-url (or OPENAI_BASE_URL)") from None
        except aiohttp.ClientError as error:
            raise EndpointError(f"cannot reach {url}: {_describe(error)}; is the server running? "
                                "Check --base-url (or OPENAI_BASE_URL)") from None
        if status in (401, 403):
            raise self._refused(f"{url}/models", status, raw)
        ids = _model_ids(raw) if status == 200 else None
        if self.model:
            if ids and self.model not in ids:
                raise EndpointError(f"{url} does not serve model {self.model!r} (it lists {_listing(ids)}); "
                                    "check --model")
            return  # a server without /models: the first request will tell
        if not ids:
            if status == 200:
                raise EndpointError(f"{url}/models lists no model; pass --model")
            hint = "; OpenAI-compatible URLs usually end in /v1" if not url.rstrip("/").endswith("/v1") else ""
            raise EndpointError(f"{url}/models answered {status}: {self._redact(server_message(raw))}; check "
                                f"--base-url{hint} (or pass --model for a server without /models)")
        if len(ids) > 1:
            raise EndpointError(f"{url} serves {len(ids)} models ({_listing(ids)}); choose one with --model")
        self.model = ids[0]

    def _refused(self, where: str, status: int, raw: bytes) -> EndpointError:
        return EndpointError(f"{where} answered {status}: {self._redact(server_message(raw))}; "
                             "check --api-key (or OPENAI_API_KEY)")

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        model = self.model
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
                    self._connection_failures = 0
                    if response.status in (401, 403):
                        raise self._refused(redact_url(url), response.status, raw)
                    if response.status == 404:  # a wrong model name or path fails every request alike
                        raise EndpointError(f"{redact_url(url)} answered 404: {self._redact(server_message(raw))}; "
                                            "check --model, --base-url and --endpoint")
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
                self._connection_failures += 1
                if self._connection_failures >= self.max_connection_failures:
                    raise EndpointError(
                        f"{self._connection_failures} connections in a row to {redact_url(self.base_url)} failed "
                        f"(last: {_describe(exc)}); the server looks down. Finished records are saved: start it "
                        "again and run the same command to continue (or check --base-url)", exit_code=1) from None
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
        return self._redact(" ".join(raw[:300].decode("utf-8", "replace").split()))

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")  # some servers echo the key in errors
        return text

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _model_ids(raw: bytes) -> list[str] | None:
    try:
        return [str(entry["id"]) for entry in json.loads(raw)["data"]]
    except (ValueError, KeyError, TypeError):
        return None


def _listing(ids: list[str], shown: int = 8) -> str:
    more = f", ... {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


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
