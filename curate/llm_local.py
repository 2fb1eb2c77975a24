"""In-process backends: a local or Hub model through transformers, or vLLM's offline engine.

Concurrent `chat` calls are gathered into batches and generated on a worker thread, so
the event loop (and the progress bar) keep moving while the model works.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from curate.errors import EndpointError, UsageError
from curate.llm_types import DEFAULT_MODEL, Messages, Reply, Sampling

HUB_CHECK_TIMEOUT = 10.0
_ADVICE = ("Point curate at a server with --base-url URL (or OPENAI_BASE_URL), or at a local model directory "
           "with --model DIR")


def ensure_model_available(model: str) -> None:
    """A local directory, a model in the Hugging Face cache, or one the Hub answers for within
    seconds; otherwise one line of advice, instead of minutes of download retries."""
    path = Path(model).expanduser()
    if path.is_dir():
        return
    if path.exists() or model.startswith((".", "/", "~")):
        raise UsageError(f"--model {model}: no such model directory")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise EndpointError(f"model {model} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. {_ADVICE}")
    problem = _hub_problem(model)
    if problem:
        raise EndpointError(f"model {model} is not in the Hugging Face cache and cannot be downloaded ({problem}). "
                            f"{_ADVICE}")


def _hub_problem(model: str) -> str | None:
    """Why the Hub cannot give us `model` now, or None; asked once, on a thread we need not wait
    for past the timeout."""
    from huggingface_hub import model_info

    outcome: list[BaseException | None] = []

    def ask() -> None:
        try:
            model_info(model, timeout=HUB_CHECK_TIMEOUT)
            outcome.append(None)
        except Exception as error:  # noqa: BLE001 - any failure is reported as it is
            outcome.append(error)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(HUB_CHECK_TIMEOUT + 1)
    if not outcome:
        return f"the Hub did not answer within {HUB_CHECK_TIMEOUT:g} s"
    error = outcome[0]
    return None if error is None else f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"


class BatchingBackend:
    """Queue requests; a worker takes up to `max_batch` with the same sampling at a time."""

    max_batch = 8

    def __init__(self, model: str):
        self.model = model
        self.retries = 0
        self._queue: list[tuple[Messages, Sampling, asyncio.Future[Reply]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._queue.append((messages, sampling, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the other requests of this tick join the batch
        while self._queue:
            sampling = self._queue[0][1]
            batch = [item for item in self._queue if item[1] == sampling][: self.max_batch]
            self._queue = [item for item in self._queue if item not in batch]
            try:
                replies = await asyncio.to_thread(self.generate_batch, [m for m, _, _ in batch], sampling)
            except Exception as error:  # noqa: BLE001 - every waiter must hear of it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), reply in zip(batch, replies):
                if not future.done():
                    future.set_result(reply)

    def identity(self) -> dict[str, Any]:
        local = Path(self.model).expanduser()  # a directory is known by where it is, not how it was named
        return {"backend": type(self).__name__, "model": str(local.resolve()) if local.is_dir() else self.model}

    async def prepare(self) -> None:
        await asyncio.to_thread(ensure_model_available, self.model)

    def generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[Reply]:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class TransformersBackend(BatchingBackend):
    """Generation with `model.generate`, left-padded batches, on GPU when there is one."""

    def __init__(self, model: str = DEFAULT_MODEL):
        super().__init__(model)
        self._tokenizer: Any = None
        self._model: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model, padding_side="left")
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        cuda = torch.cuda.is_available()
        self._model = AutoModelForCausalLM.from_pretrained(
            self.model, dtype=torch.bfloat16 if cuda else torch.float32).to("cuda" if cuda else "cpu")
        self._model.eval()

    def generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[Reply]:
        import torch

        if self._model is None:
            self._load()
        tok = self._tokenizer
        texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self._model.device)
        if sampling.seed is not None and sampling.send_seed:
            torch.manual_seed(sampling.seed)
        sample = sampling.temperature > 0
        with torch.no_grad():
            output = self._model.generate(
                **inputs, max_new_tokens=sampling.max_tokens, do_sample=sample,
                temperature=sampling.temperature if sample else None, top_p=sampling.top_p if sample else None,
                num_return_sequences=sampling.n, pad_token_id=tok.pad_token_id)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        replies = []
        for i in range(len(conversations)):
            rows = new_tokens[i * sampling.n:(i + 1) * sampling.n]
            texts_out, reasons = [], []
            for row in rows:
                ended = bool((row == tok.eos_token_id).any()) or bool((row == tok.pad_token_id).any())
                text, stopped = _cut_at_stop(tok.decode(row, skip_special_tokens=True), sampling.stop)
                texts_out.append(text)
                reasons.append("stop" if ended or stopped else "length")
            prompt_tokens = int(inputs["attention_mask"][i].sum())
            completion_tokens = int(sum(int((r != tok.pad_token_id).sum()) for r in rows))
            replies.append(Reply(texts_out, reasons, prompt_tokens, completion_tokens))
        return replies


class VLLMBackend(BatchingBackend):
    """vLLM's offline engine in this process: the fastest path on a GPU box without a server."""

    max_batch = 256

    def __init__(self, model: str = DEFAULT_MODEL):
        super().__init__(model)
        self._engine: Any = None

    async def prepare(self) -> None:
        _import_vllm()
        await super().prepare()

    def generate_batch(self, conversations: list[Messages], sampling: Sampling) -> list[Reply]:
        Engine, SamplingParams = _import_vllm()
        if self._engine is None:
            self._engine = Engine(model=self.model)
        params = SamplingParams(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                                max_tokens=sampling.max_tokens, seed=sampling.seed if sampling.send_seed else None, stop=list(sampling.stop) or None)
        outputs = self._engine.chat(conversations, params, use_tqdm=False)
        return [Reply([c.text for c in out.outputs], [c.finish_reason or "stop" for c in out.outputs],
                      len(out.prompt_token_ids or []), sum(len(c.token_ids) for c in out.outputs))
                for out in outputs]



def _import_vllm() -> tuple[Any, Any]:
    try:
        from vllm import LLM as Engine
        from vllm import SamplingParams
    except ImportError:
        raise UsageError("the vllm backend needs vLLM: pip install 'curate[vllm]'") from None
    return Engine, SamplingParams
