"""A scripted OpenAI-compatible server on 127.0.0.1, run on a background thread.

Replies depend on which of our templates sent the request, so generators run end to end
through the real client and real HTTP. Markers in an instruction steer the script:
EQUAL (the judge calls evolutions equal), SORRY (answers apologise), STOPWORDS (answers
are empty words), LEAK (evolutions copy template words). Faults are injected by a
`fault(payload, count)` hook returning "429", "500", "hang", "malformed", "drop",
"bad_shape" or None; `max_in_flight` answers 429 above that many requests at once. Like
vLLM, it serves the models in `models` and answers 404 for any other; with `api_key` set, a
request without that bearer key gets OpenAI's 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

# distinct words, so generated tasks share only their template's few words (ROUGE-L < 0.7)
_NOUNS = ("harbor glacier violin orchard compiler tapestry lantern meadow falcon quarry saddle beacon "
          "canyon ledger monsoon turbine parchment citadel lagoon furnace prism orbit nectar basalt "
          "carousel dune emerald fjord gazebo hammock igloo jasmine kiln lattice mosaic nebula oasis "
          "pagoda quiver rampart sonnet trellis umbrella vortex walnut yacht zephyr anchor bramble").split()


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _between(text: str, start: str, end: str) -> str:
    match = re.search(re.escape(start) + r"\s*(.*?)\s*" + re.escape(end), text, re.S)
    return match.group(1) if match else ""


def scripted_reply(prompt: str, seed: int | None = None) -> str:
    """What a well-behaved model would answer to each of our templates (seeded like a sampler)."""
    if "Come up with a series of new tasks" in prompt:
        start = int(re.findall(r"(\d+)\.\s*$", prompt.strip())[-1])
        base = _digest(prompt)
        tasks = []
        verbs = ("Describe", "Compare", "Explain", "Imagine", "Contrast", "Praise", "Critique", "Narrate")
        for i in range(8):
            words = [_NOUNS[(base + i * 7 + k * 13) % len(_NOUNS)] for k in range(5)]
            tasks.append(f"{verbs[(base + i) % len(verbs)]} {' '.join(words)} {base % 9973 + i}.")
        tasks[4] = f"Classify review {base % 9973} of the {tasks[4].split()[1]} as positive or negative."
        tasks[5] = "Draw a picture of your favourite animal and describe its colours."  # blacklisted
        tasks[6] = "Sing."  # too short
        shown = re.findall(r"^\d+\.\s*(.+)$", prompt, re.MULTILINE)
        tasks[7] = f"{shown[0]} Keep it short."  # a near copy of a pool task: ROUGE-L above 0.7
        return " " + tasks[0] + "\n" + "\n".join(f"{start + i}. {t}" for i, t in enumerate(tasks[1:], 1))
    if "Is it classification?" in prompt:
        task = prompt.rsplit("Task:", 1)[1]
        return " Yes" if "positive or negative" in task or "Classify" in task else " No"
    if "generate an input that corresponds to each" in prompt or "write an input that belongs to each" in prompt:
        return "Class label: Positive\nInput: I loved every minute.\nClass label: Negative\nInput: Dull and slow."
    if "Come up with examples for the following tasks" in prompt:
        task = prompt.rsplit("Task:", 1)[1].strip()
        return f"Example 1\nInput: first input for {task[:20]}\nOutput: first output\nExample 2\nOutput: second output"
    if "#Given Prompt#" in prompt:
        given = _between(prompt, "#Given Prompt#:", "\n\nReply with")
        label = "#Created Prompt#:" if "#Created Prompt#" in prompt else "#Rewritten Prompt#:"
        extra = " Follow the given prompt closely." if "LEAK" in given else ""
        return f"{label} {given} Explain step {_digest(f'{prompt}{seed}') % 1000}.{extra}"
    if "Compare two instructions" in prompt:
        second = _between(prompt, "Second instruction:", "Answer with Equal")
        return "Equal" if "EQUAL" in second else "Not Equal"
    if "Rate how good the AI assistant's answer" in prompt:
        answer = prompt.split("Answer:", 1)[1]
        if "WEAK" in answer:
            return "Thin.\nScore: 2"
        return "Excellent.\nScore: 5" if "IMPROVED" in answer else "Clear and complete.\nScore: 4"
    if "Write the instruction a user could have given" in prompt:
        document = _between(prompt, "Text:", "Reply with the instruction only.")
        return "" if "UNANSWERABLE" in document else f"Explain this: {' '.join(document.split()[:6])}?"
    if "reviewing a student's answer" in prompt:
        answer = _between(prompt, "Student's answer:", "Reply with the improved answer only.")
        return answer if "NOFIX" in prompt else f"IMPROVED: {answer} With the missing details added."
    if "SORRY" in prompt:
        return "Sorry, I cannot help with that."
    if "STOPWORDS" in prompt:
        return "The, and of it."
    return f"Here is a careful answer to: {prompt[:60]}"


class ScriptedServer:
    def __init__(self, latency: float = 0.0, reply: Callable[..., str] = scripted_reply):
        self.latency = latency
        self.reply = reply
        self.fault: Callable[[dict[str, Any], int], str | None] = lambda payload, count: None
        self.payloads: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.hang_seconds = 30.0
        self.hold = False  # while set, requests wait, unanswered (a test's way to freeze a client mid-run)
        self.ignore_n = False  # like `transformers serve`, which answers n > 1 with one choice
        self.models = ["scripted-model"]
        self.api_key: str | None = None
        self.models_requests = 0
        self.max_in_flight = 0  # above this many requests at once, answer 429 (0: no limit)
        self.reject_response_format = False  # answer 400 to requests with response_format
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_hold = False  # batches stay in_progress while set
        self.batch_expire = False  # batches expire with half their lines answered
        self.batch_lines = 0  # request lines the batches answered
        self.in_flight = 0
        self.refused = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in p.get("messages", [])) or p.get("prompt", "") for p in self.payloads]

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "Incorrect API key provided: sk-***", "type":
                                                "invalid_request_error", "code": "invalid_api_key"}}, status=401)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        self.payloads.append(payload)
        self.headers.append(dict(request.headers))
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if payload.get("model") not in self.models:
            return web.json_response({"error": {"message": f"The model `{payload.get('model')}` does not exist.",
                                                "type": "NotFoundError", "code": 404}}, status=404)
        if self.max_in_flight and self.in_flight >= self.max_in_flight:  # a server that is full
            self.refused += 1
            return web.json_response({"error": {"message": "too many requests in flight"}}, status=429)
        self.in_flight += 1
        try:
            return await self._answer(payload, request)
        finally:
            self.in_flight -= 1

    async def _answer(self, payload: dict[str, Any], request: web.Request) -> web.StreamResponse:
        fault = self.fault(payload, len(self.payloads))
        if self.latency:
            await asyncio.sleep(self.latency)
        while self.hold:
            await asyncio.sleep(0.01)
        if fault == "429":
            return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0"})
        if fault == "500":
            return web.json_response({"error": {"message": "internal error"}}, status=500)
        if fault == "400":
            return web.json_response({"error": {"message": "bad request"}}, status=400)
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)
        if fault == "malformed":
            return web.Response(text='{"choices": [', content_type="application/json")
        if fault == "bad_shape":
            return web.json_response({"result": "no choices here"})
        if fault == "drop":
            request.transport.abort()
            return web.Response()
        if payload.get("response_format", {}).get("type") == "json_schema" and self.reject_response_format:
            # like a server without guided decoding
            return web.json_response({"error": {"message": "response_format json_schema is not supported"}},
                                     status=400)
        return web.json_response(self.completion(payload, request.path.endswith("/chat/completions")))

    def completion(self, payload: dict[str, Any], chat: bool = True) -> dict[str, Any]:
        """The reply body to a chat or completions request (also for each line of a batch)."""
        prompt = "\n".join(m["content"] for m in payload["messages"]) if chat else payload["prompt"]
        text = self.reply(prompt, payload.get("seed"))
        if payload.get("response_format", {}).get("type") == "json_schema":
            score = re.search(r"Score:\s*([1-5])", text)  # the scripted rating, as the schema's JSON
            text = json.dumps({"reason": re.sub(r"\s*Score:.*", "", text).strip(),
                               "score": int(score.group(1)) if score else 3})
        choices = []
        for i in range(1 if self.ignore_n else payload.get("n", 1)):
            answer = text if i == 0 else f"{text} (variant {i})"
            finish = "length" if "<<CUT>>" in answer else "stop"  # a reply that hit max_tokens
            answer = answer.replace("<<CUT>>", "")
            body = {"message": {"role": "assistant", "content": answer}} if chat else {"text": answer}
            choices.append({"index": i, "finish_reason": finish, **body})
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4}
        return {"id": "x", "object": "chat.completion", "choices": choices, "usage": usage}

    # -- the Batch API: files, and batches that advance one status each time they are looked at

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        content = upload.file.read() if hasattr(upload, "file") else bytes(upload)
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = content
        return web.json_response({"id": file_id, "object": "file", "bytes": len(content), "purpose": form["purpose"]})

    async def _file_content(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["file_id"])
        if content is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=content, content_type="application/jsonl")

    async def _create_batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        batch = {"id": f"batch-{len(self.batches) + 1}", "object": "batch", "status": "validating",
                 "input_file_id": body["input_file_id"], "endpoint": body["endpoint"],
                 "output_file_id": None, "error_file_id": None}
        self.batches[batch["id"]] = batch
        return web.json_response(batch)

    async def _list_batches(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": list(self.batches.values())})

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        if batch["status"] == "validating":
            batch["status"] = "in_progress"
        elif batch["status"] == "in_progress" and not self.batch_hold:
            self._finish_batch(batch)
        return web.json_response(batch)

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(line) for line in self.files[batch["input_file_id"]].splitlines() if line.strip()]
        if self.batch_expire:  # the window closed with half the work done
            lines = lines[: len(lines) // 2]
        output, errors = [], []
        for line in lines:
            self.batch_lines += 1
            body = line["body"]
            if "BATCHFAIL" in json.dumps(body):
                errors.append({"id": "r", "custom_id": line["custom_id"], "response": {"status_code": 500, "body":
                               {"error": {"message": "the model crashed on this one"}}}, "error": None})
            else:
                output.append({"id": "r", "custom_id": line["custom_id"], "error": None, "response":
                               {"status_code": 200, "body": self.completion(body, line["url"].endswith("/chat/completions"))}})
        for key, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(row) + "\n" for row in rows).encode()
                batch[key] = file_id
        batch["status"] = "expired" if self.batch_expire else "completed"

    async def _models(self, request: web.Request) -> web.Response:
        self.models_requests += 1
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model"} for name in self.models]})

    def start(self) -> ScriptedServer:
        started = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            app.router.add_post("/v1/completions", self._handle)
            app.router.add_get("/v1/models", self._models)
            app.router.add_post("/v1/files", self._upload)
            app.router.add_get("/v1/files/{file_id}/content", self._file_content)
            app.router.add_post("/v1/batches", self._create_batch)
            app.router.add_get("/v1/batches", self._list_batches)
            app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()
            self._loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        started.wait(10)
        return self

    def stop(self) -> None:
        """Close the server (once; a second call does nothing)."""
        runner, self._runner = self._runner, None
        if self._loop and runner:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    def reset(self) -> None:
        self.hold = False
        self.payloads.clear()
        self.headers.clear()
        self.fault = lambda payload, count: None
        self.reply = scripted_reply
        self.ignore_n = False
        self.models = ["scripted-model"]
        self.api_key = None
        self.models_requests = 0
        self.max_in_flight = self.refused = 0
        self.reject_response_format = False
        self.files, self.batches = {}, {}
        self.batch_hold = self.batch_expire = False
        self.batch_lines = 0
