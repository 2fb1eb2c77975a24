"""The settings every LLM stage shares, and the client they build.

The same names are CLI options (`--base-url --model --api-key --concurrency ...`), keys
of a `--config` YAML file, and keyword arguments from Python.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from curate.errors import UsageError
from curate.executors import ExecutorOptions, ShardOptions
from curate.llm_types import DEFAULT_MODEL, Sampling

if TYPE_CHECKING:  # the client and its backends load when one is built, not with a stage's options
    from curate.llm import LLM


def default_cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "curate" / "requests.sqlite"


class RunOptions(ShardOptions, ExecutorOptions):
    """How a resumable stage treats its journals and its failures (not how it samples)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    restart: bool = Field(False, description="Start over: delete the output, its rejects and its run manifest "
                          "first (cached answers are still reused). Without it a re-run continues the journal, "
                          "and refuses one made from another input or other settings.")
    allow_failures: bool = Field(False, description="Exit 0 even when some items failed for good (they stay in "
                                 "--rejects as failed:*, and a re-run tries them again).")


class LLMConfig(RunOptions):

    backend: Literal["auto", "openai", "transformers", "vllm"] = Field(
        "auto", description="openai: any OpenAI-compatible server (vLLM, OpenAI, ...); transformers or vllm: "
        "generate in this process. auto: openai when a base URL is set, else transformers.")
    base_url: str | None = Field(None, description="Server URL, e.g. http://localhost:8000/v1 "
                                 "(default: $OPENAI_BASE_URL). Several replicas of one model: comma-separated "
                                 "URLs; each request goes to the least busy, a failing one is rested.")
    model: str | None = Field(None, description="Model name on the server, or (in-process) a local model "
                              "directory or Hub id. Default: the one model the server lists, or "
                              f"{DEFAULT_MODEL} in-process.")
    api_key: SecretStr | None = Field(None, description="API key (default: $OPENAI_API_KEY). Never logged, "
                                      "cached or written.")
    endpoint: Literal["chat", "completions"] = Field("chat", description="chat: /chat/completions with "
                                                     "messages; completions: /completions with the raw prompt, "
                                                     "for base models.")
    concurrency: int | Literal["auto"] = Field(
        "auto", description="Requests in flight at once: a number, or auto: start at 8 and raise it while the "
        "server keeps up (latency near its floor, or throughput still rising), cut it to 0.8x on 429/503/timeouts, "
        "honour Retry-After and x-ratelimit headers; the summary shows where it settled.",
        json_schema_extra={"cli_text": True})
    temperature: float = Field(0.7, ge=0, description="Sampling temperature for generation.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(1024, ge=1, description="Most tokens per reply.")
    seed: int | None = Field(0, description="Seed for every random choice, also sent with each request. `none`: "
                             "send no seed (vLLM's CPU build crashes on seeded requests); answers are then cached "
                             "for this run only, unless --cache is given.", json_schema_extra={"cli_text": True})
    timeout: float = Field(600.0, gt=0, description="Seconds one request may take before it is retried.")
    max_retries: int = Field(6, ge=0, description="Retries on 429, 5xx, timeouts and dropped connections.")
    max_connection_failures: int = Field(20, ge=1, description="Stop the run after this many connection failures "
                                         "in a row (the server is down), instead of failing every item.")
    price: str | None = Field(None, description="Dollars per million prompt/completion tokens, e.g. 0.15/0.60: the "
                              "summary then shows what this run's requests cost (answers from the cache cost "
                              "nothing).")
    batch: bool = Field(False, description="Send the requests through the server's Batch API (/v1/files, "
                        "/v1/batches; OpenAI charges half), one batch per step of the stage, polled every "
                        "--batch-poll seconds; a re-run after a kill picks up the batches already created.")
    batch_poll: float = Field(30.0, gt=0, description="With --batch: seconds between looks at a running batch.")
    batch_file: Path | None = Field(None, description="Write the requests to this JSONL file in the Batch API's "
                                    "format (for `vllm run-batch`) instead of sending them, then stop.")
    batch_results: Path | None = Field(None, description="Answers from a batch run (`vllm run-batch -o`, or a "
                                       "Batch API output file): requests found there are not sent.")
    cache: Path | None = Field(None, description="Request cache (SQLite) [default: ~/.cache/curate/requests.sqlite].")
    no_cache: bool = Field(False, description="Ask the model again even when an identical request was answered.")

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() in ("none", "null", ""):
                return None
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"expected a whole number or none, got {value!r}") from None
        return value

    @field_validator("price")
    @classmethod
    def _two_prices(cls, value: str | None) -> str | None:
        if value is not None:
            parse_price(value)
        return value

    @field_validator("concurrency", mode="before")
    @classmethod
    def _auto_or_count(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() == "auto":
                return "auto"
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"expected a whole number or auto, got {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError("Input should be greater than or equal to 1")
        return value

    @field_validator("base_url", mode="before")
    @classmethod
    def _http_urls(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):  # YAML or Python: a list of replicas
            value = ",".join(str(url) for url in value)
        for url in split_urls(value) if isinstance(value, str) else []:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} needs http:// or https://, e.g. http://localhost:8000/v1")
        return value

    @property
    def base_seed(self) -> int:
        """The seed for our own random choices and derived request seeds; 0 with --seed none."""
        return 0 if self.seed is None else self.seed

    def sampling(self, **changes: object) -> Sampling:
        base = Sampling(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                        seed=self.base_seed, send_seed=self.seed is not None)
        return base.but(**changes) if changes else base


def parse_price(value: str) -> tuple[float, float]:
    """"0.15/0.60" -> dollars per million (prompt, completion) tokens."""
    parts = value.split("/")
    try:
        prompt, completion = (float(part) for part in parts)
    except ValueError:
        raise ValueError(f"expected IN/OUT dollars per million tokens, e.g. 0.15/0.60, got {value!r}") from None
    if prompt < 0 or completion < 0:
        raise ValueError(f"prices cannot be negative, got {value!r}")
    return prompt, completion


def cost_facts(prompt_tokens: int, completion_tokens: int, price: str, discount: float = 1.0) -> dict[str, float]:
    """What the tokens cost at `price`, in dollars (times `discount`, e.g. 0.5 for a batch job)."""
    per_prompt, per_completion = parse_price(price)
    cost = (prompt_tokens * per_prompt + completion_tokens * per_completion) / 1e6 * discount
    return {"cost_usd": round(cost, 6)}


def _batch_backend(config: LLMConfig, servers: list[Any]) -> Any:
    from curate.llm_batch import BatchBackend

    if config.batch and len(servers) > 1:
        raise UsageError("--batch goes to one server's Batch API; give one --base-url")
    return BatchBackend(servers[0], config.batch_poll, config.batch_file, config.batch_results, online=config.batch)


def split_urls(value: str) -> list[str]:
    """`http://a/v1,http://b/v1` -> the replicas' URLs."""
    return [url.strip() for url in value.split(",") if url.strip()]


def connections_for(concurrency: int | str) -> int:
    """The HTTP connection pool: above the most requests in flight, or they queue inside aiohttp."""
    from curate.concurrency import AUTO_MAX

    return AUTO_MAX + 64 if concurrency == "auto" else max(2 * int(concurrency), 100)


def build_llm(config: LLMConfig) -> LLM:
    """The client a config describes; the API key goes to the backend and nowhere else."""
    from curate.llm import LLM
    from curate.llm_cache import RequestCache
    from curate.llm_http import OpenAIHTTP
    from curate.llm_local import TransformersBackend, VLLMBackend

    base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
    backend_name = config.backend if config.backend != "auto" else ("openai" if base_url else "transformers")
    if config.batch and config.batch_file:
        raise UsageError("--batch sends the requests to the server; --batch-file writes them to a file: choose one")
    if config.batch_results is not None and not config.batch_results.is_file():
        raise UsageError(f"--batch-results {config.batch_results}: no such file")
    if config.batch and not base_url:
        raise UsageError("--batch needs the server whose Batch API takes the requests: --base-url (or OPENAI_BASE_URL)")
    offline = (config.batch_file or config.batch_results) and not config.batch
    if backend_name == "openai" or (config.batch and base_url):
        if not base_url:
            raise UsageError("the openai backend needs --base-url (or OPENAI_BASE_URL)")
        if not all(url.startswith(("http://", "https://")) for url in split_urls(base_url)):
            raise UsageError(f"OPENAI_BASE_URL={base_url!r} needs http:// or https://, e.g. http://localhost:8000/v1")
        key = config.api_key.get_secret_value() if config.api_key else os.environ.get("OPENAI_API_KEY")
        servers = [OpenAIHTTP(url, key, config.model, config.endpoint, config.timeout, config.max_retries,
                              connections=connections_for(config.concurrency),
                              max_connection_failures=config.max_connection_failures) for url in split_urls(base_url)]
        if config.batch or offline:
            backend = _batch_backend(config, servers)
        elif len(servers) > 1:
            from curate.llm_replicas import Replicas

            backend = Replicas(servers, config.max_retries, config.max_connection_failures)
        else:
            backend = servers[0]
    elif offline:  # --batch-file / --batch-results alone: nothing is sent anywhere
        backend = _batch_backend(config, [OpenAIHTTP("http://offline.invalid/v1", None, config.model, config.endpoint)])
    elif backend_name == "vllm":
        backend = VLLMBackend(config.model or DEFAULT_MODEL)
    else:
        backend = TransformersBackend(config.model or DEFAULT_MODEL)
    cache = None if config.no_cache else RequestCache(config.cache or default_cache_path())
    # unseeded answers differ from run to run: another run's are not this run's, unless the user
    # shares a cache on purpose
    salt = uuid.uuid4().hex if config.seed is None and config.cache is None else ""
    return LLM(backend, cache, config.concurrency, cache_salt=salt)
