"""What a request to a model is and what comes back: messages, sampling, reply, failure.

Plain values, importable without the client or an event loop (a stage's config and its
`--help` need them; the client loads with the first request).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

Messages = list[dict[str, str]]
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # what runs in-process when no --model is given


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
    response_format: str | None = None  # OpenAI's response_format as JSON text (kept hashable)

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
        if self.response_format:
            import json

            params["response_format"] = json.loads(self.response_format)
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
