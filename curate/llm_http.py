"""The HTTP backend: OpenAI-compatible chat or completions over aiohttp, with retries.

The hot path is a bare aiohttp loop: the request body is serialised once, the reply is read
as plain JSON, and nothing else runs per request. The openai SDK's client costs several
times more CPU per request (see bench/llm_client.py), which caps throughput on small
machines long before a vLLM server is busy.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from curate.concurrency import OVERLOAD_STATUSES, Limit
from curate.errors import EndpointError
from curate.llm_types import Messages, Reply, RequestFailed, Sampling
from curate.run_manifest import redact_url

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524})
PREFLIGHT_TIMEOUT = 10.0  # seconds the check before the first request may take


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


class Retryable(Exception):
    """One attempt failed in a way another attempt may not: the error to report if none
    succeeds, the wait the server asked for (Retry-After), and whether the connection failed."""

    def __init__(self, error: RequestFailed, wait: float | None = None, connection: bool = False):
        super().__init__(error.reason)
        self.error, self.wait, self.connection = error, wait, connection


class OpenAIHTTP:
    """OpenAI-compatible chat or completions over aiohttp, with retries and backoff."""

    accepts_response_format = True  # OpenAI and vLLM take json_schema; see curate/rating.py

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
        self.limit: Limit | None = None  # the client's concurrency limit, told how each attempt went
        self.one_of_many = False  # a replica: its Retry-After and dead connections concern it alone

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
                                "Check --base-url (or OPENAI_BASE_URL)", unreachable=True) from None
        except aiohttp.ClientError as error:
            raise EndpointError(f"cannot reach {url}: {_describe(error)}; is the server running? "
                                "Check --base-url (or OPENAI_BASE_URL)", unreachable=True) from None
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

    def _route(self, messages: Messages, sampling: Sampling) -> tuple[str, dict[str, Any]]:
        if self.endpoint == "completions":
            prompt = "\n\n".join(message["content"] for message in messages)
            return "/completions", {"model": self.model, "prompt": prompt, **sampling.params()}
        return "/chat/completions", {"model": self.model, "messages": messages, **sampling.params()}

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        path, payload = self._route(messages, sampling)
        return await self._request("POST", path, payload, self._parse)

    async def attempt_chat(self, messages: Messages, sampling: Sampling) -> Reply:
        """One try, no retry: a Reply, a Retryable failure, or a RequestFailed/EndpointError that
        no retry can fix (for Replicas, which retries on another server)."""
        path, payload = self._route(messages, sampling)
        return await self._attempt("POST", self.base_url + path, json.dumps(payload).encode(), self._parse)

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
        data = json.dumps(payload).encode() if payload is not None else None
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(method, self.base_url + path, data, parse)
            except Retryable as failure:
                if attempt == self.max_retries:
                    raise failure.error from None
                self.retries += 1
                await asyncio.sleep(failure.wait if failure.wait is not None else self._backoff(attempt))
        raise AssertionError("unreachable")

    async def _attempt(self, method: str, url: str, data: bytes | None, parse: Callable[[Any], Any]) -> Any:
        import aiohttp

        session = self._open_session()
        started = time.monotonic()
        try:
            async with session.request(method, url, data=data) as response:
                raw = await response.read()
                self._connection_failures = 0
                self._tell_limit(started, response.status, response.headers)
                if response.status in (401, 403):
                    raise self._refused(redact_url(url), response.status, raw)
                if response.status == 404:  # a wrong model name or path fails every request alike
                    raise EndpointError(f"{redact_url(url)} answered 404: {self._redact(server_message(raw))}; "
                                        "check --model, --base-url and --endpoint")
                if response.status == 200:
                    try:
                        return parse(json.loads(raw))
                    except ValueError:
                        raise Retryable(RequestFailed("malformed_response", f"not JSON: {self._snippet(raw)}")) from None
                    except RequestFailed as bad_shape:
                        raise Retryable(bad_shape) from None
                error = RequestFailed(f"http_{response.status}", self._redact(server_message(raw)))
                if response.status not in RETRY_STATUSES:
                    raise error
                wait = retry_after(response.headers.get("Retry-After"))
                if wait and self.limit is not None and not self.one_of_many:
                    self.limit.pause(wait)  # every request waits, not only this one
                raise Retryable(error, wait)
        except asyncio.TimeoutError:
            self._tell_limit(started, None, {})
            raise Retryable(RequestFailed("timeout", f"no complete reply within {self.timeout:g} s")) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            if not self.one_of_many:  # a replica that is down is not a full server: the others go on
                self._tell_limit(started, None, {})
            self._connection_failures += 1
            if self._connection_failures >= self.max_connection_failures:
                raise EndpointError(
                    f"{self._connection_failures} connections in a row to {redact_url(self.base_url)} failed "
                    f"(last: {_describe(exc)}); the server looks down. Finished records are saved: start it "
                    "again and run the same command to continue (or check --base-url)", exit_code=1) from None
            failure = RequestFailed("connection", f"{type(exc).__name__} talking to {redact_url(self.base_url)}")
            raise Retryable(failure, connection=True) from None

    def _tell_limit(self, started: float, status: int | None, headers: Any) -> None:
        """Overloads (no status: a timeout or a dropped connection) and latencies of answers, for
        --concurrency auto; OpenAI's rate-limit headers for every limit."""
        if self.limit is None:
            return
        if status is None or status in OVERLOAD_STATUSES:
            self.limit.observe(started, None)
        elif status == 200:
            self.limit.observe(started, time.monotonic() - started)
        if headers:
            self.limit.rate_limit(headers)

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
