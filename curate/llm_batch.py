"""Requests through OpenAI's Batch API (`--batch`), or through files for `vllm run-batch`.

A stage asks as it always does; this backend holds the requests instead of sending them. Once
no new request has come for a moment (every record in flight is waiting for an answer) or a
chunk is full (50,000 requests or 200 MB), the chunk goes out as one batch: its JSONL is
uploaded to /v1/files, a batch is created at /v1/batches, polled every --batch-poll seconds,
and its output (and error) files are read back, each line matched to its request by
`custom_id`, a hash of the request. Stages of several steps (evol: evolve, then answer and
compare) send one batch per step, as each step's requests only exist once the last is answered.

Never twice: the batches of an output are listed in a sidecar (`OUT.batches.json`), written
after the upload and again once the batch exists. A re-run (after a kill, say) reads it first:
requests of a batch still running wait for that batch, and those of a finished one are answered
from its output file; only requests in no batch are sent again.

Offline (`--batch-file REQUESTS.jsonl`): the requests are written to a file in the Batch API's
format instead, and the run stops there; `vllm run-batch -i REQUESTS.jsonl -o RESULTS.jsonl`
answers them, and `--batch-results RESULTS.jsonl` reads the answers back on the next run
(with --batch-file again, for the next step's requests).

Memory: the requests of the chunk being filled, and the answers of the batches of this output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import EndpointError, UsageError
from curate.llm_http import OpenAIHTTP, server_message
from curate.llm_types import Messages, Reply, RequestFailed, Sampling

MAX_REQUESTS = 50_000  # the Batch API's limits per batch
MAX_BYTES = 200 * 2**20
IDLE = 0.2  # seconds without a new request before a chunk goes out
BATCH_DISCOUNT = 0.5  # what the Batch API charges against the live price
FINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass
class _Chunk:
    lines: list[bytes] = field(default_factory=list)
    waiting: dict[str, asyncio.Future[Reply]] = field(default_factory=dict)
    size: int = 0


class BatchBackend:
    batch = True  # the client sends every request it has at once (no concurrency limit)
    accepts_response_format = True
    price_factor = BATCH_DISCOUNT

    def __init__(self, http: OpenAIHTTP, poll: float = 30.0, request_file: Path | None = None,
                 results_file: Path | None = None, online: bool = True):
        self.http = http
        self.poll = poll
        self.request_file, self.results_file, self.online = request_file, results_file, online
        self.retries = 0
        self._answers: dict[str, Reply | RequestFailed] = {}
        self._running: dict[str, asyncio.Future[None]] = {}  # custom_id -> its batch, still running
        self._chunk = _Chunk()
        self._last_request = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sidecar: Path | None = None
        self._resuming: asyncio.Future[None] | None = None

    @property
    def model(self) -> str:
        return self.http.model

    @model.setter
    def model(self, value: str) -> None:
        self.http.model = value

    def identity(self) -> dict[str, Any]:
        return self.http.identity()  # a batch answer is the same answer: the cache keys agree

    def attach(self, output: Path, restart: bool) -> None:
        """Keep the list of batches beside the output (emptied by --restart)."""
        self._sidecar = output.with_name(output.name + ".batches.json")
        if restart and self._sidecar.exists():
            self._sidecar.unlink()
        if self.request_file is not None and self.request_file.exists():
            self.request_file.unlink()  # this run's requests only

    async def prepare(self) -> None:
        if self.online:
            await self.http.prepare()
        elif not self.http.model:
            raise UsageError("--batch-file/--batch-results without a server need --model: the model the "
                             "requests name")
        if self.results_file is not None:
            self._read_results(self.results_file.read_bytes().splitlines(), str(self.results_file))

    # -- asking

    def request_id(self, messages: Messages, sampling: Sampling) -> str:
        payload = json.dumps([self.identity(), messages, sampling.key_params()], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    async def chat(self, messages: Messages, sampling: Sampling) -> Reply:
        if self._resuming is None:  # every request waits for it: none may go out before the old batches are known
            self._resuming = asyncio.ensure_future(self._resume())
        await asyncio.shield(self._resuming)
        custom_id = self.request_id(messages, sampling)
        while True:
            answer = self._answers.get(custom_id)
            if answer is not None:
                if isinstance(answer, RequestFailed):
                    raise answer
                return answer
            running = self._running.get(custom_id)
            if running is None:
                break
            await asyncio.shield(running)  # sent by an earlier run, or already in this chunk's batch
        waiting = self._chunk.waiting.get(custom_id)
        if waiting is None:
            path, body = self.http._route(messages, sampling)
            line = json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1" + path, "body": body},
                              ensure_ascii=False).encode("utf-8") + b"\n"
            if self._chunk.lines and (len(self._chunk.lines) >= MAX_REQUESTS or self._chunk.size + len(line) > MAX_BYTES):
                self._send(self._chunk)
                self._chunk = _Chunk()
            waiting = asyncio.get_running_loop().create_future()
            self._chunk.lines.append(line)
            self._chunk.size += len(line)
            self._chunk.waiting[custom_id] = waiting
        self._last_request = time.monotonic()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_when_idle())
        return await asyncio.shield(waiting)

    async def _flush_when_idle(self) -> None:
        while self._chunk.lines:
            wait = self._last_request + IDLE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            chunk, self._chunk = self._chunk, _Chunk()
            self._send(chunk)

    def _send(self, chunk: _Chunk) -> None:
        if self.request_file is not None:
            work = self._write_requests(chunk)
        elif self.online:
            work = self._run_batch(chunk)
        else:  # --batch-results alone: what it does not answer has nowhere to go
            work = self._refuse(chunk)
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- offline: a request file for `vllm run-batch`

    async def _write_requests(self, chunk: _Chunk) -> None:
        assert self.request_file is not None
        with self.request_file.open("ab") as stream:
            stream.writelines(chunk.lines)
        stop = RequestFailed("batch_file", f"written to {self.request_file} for an offline batch run")
        for waiting in chunk.waiting.values():
            if not waiting.done():
                waiting.set_exception(stop)

    async def _refuse(self, chunk: _Chunk) -> None:
        missing = RequestFailed("not_in_batch_results", f"not answered in {self.results_file}; pass --batch-file "
                                "to write such requests out for the next batch run, or --batch to send them")
        for waiting in chunk.waiting.values():
            if not waiting.done():
                waiting.set_exception(missing)

    # -- online: the Batch API

    async def _run_batch(self, chunk: _Chunk) -> None:
        done = asyncio.get_running_loop().create_future()
        for custom_id in chunk.waiting:
            self._running[custom_id] = done
        try:
            file_id = await self._upload(b"".join(chunk.lines))
            entry = {"input_file_id": file_id, "batch_id": None, "requests": len(chunk.lines),
                     "custom_ids": list(chunk.waiting)}
            self._save_entry(entry)  # before the batch exists: a re-run looks for it by its file
            batch = await self._api("POST", "/batches", {"input_file_id": file_id, "completion_window": "24h",
                                                         "endpoint": "/v1" + self.http._route([], Sampling())[0]})
            entry["batch_id"] = batch["id"]
            self._save_entry(entry)
            await self._collect(batch["id"], list(chunk.waiting))
        except Exception as error:  # the API, the network or a reply of the wrong shape: the chunk fails, and retries
            failure = error if isinstance(error, RequestFailed) else RequestFailed(
                "batch_api", f"{type(error).__name__}: {error}"[:300])
            for custom_id in chunk.waiting:
                self._answers.setdefault(custom_id, failure)
        finally:
            for custom_id, waiting in chunk.waiting.items():
                self._running.pop(custom_id, None)
                if not waiting.done():
                    answer = self._answers.get(custom_id) or RequestFailed("batch_missing", "not in the batch's output")
                    if isinstance(answer, RequestFailed):
                        waiting.set_exception(answer)
                    else:
                        waiting.set_result(answer)
            done.set_result(None)

    async def _collect(self, batch_id: str, custom_ids: list[str], missing_fail: bool = True) -> None:
        """Poll a batch until it ends, then take its answers (and failures) in. What an expired or
        cancelled batch did not answer fails this run (`missing_fail`), or, for a batch of an
        earlier run, is simply sent again."""
        while True:
            batch = await self._api("GET", f"/batches/{batch_id}")
            if batch.get("status") in FINAL:
                break
            await asyncio.sleep(self.poll)
        for key in ("output_file_id", "error_file_id"):
            if batch.get(key):
                self._read_results((await self._download(batch[key])).splitlines(), f"batch {batch_id}")
        status = batch["status"]
        if status != "completed" and missing_fail:  # expired, cancelled, failed: asked again next run
            for custom_id in custom_ids:
                self._answers.setdefault(custom_id, RequestFailed(f"batch_{status}", f"batch {batch_id} {status}"))

    async def _resume(self) -> None:
        """The batches an earlier run of this output created: wait for or read each."""
        if not self.online or self._sidecar is None or not self._sidecar.exists():
            return
        entries = json.loads(self._sidecar.read_text(encoding="utf-8"))
        listed: list[dict[str, Any]] | None = None
        for entry in entries:
            if entry.get("batch_id") is None:  # killed between upload and creation: did the batch get made?
                if listed is None:
                    listed = (await self._api("GET", "/batches?limit=100")).get("data", [])
                entry["batch_id"] = next((b["id"] for b in listed if b.get("input_file_id") == entry["input_file_id"]),
                                         None)
                if entry["batch_id"] is None:
                    continue  # it never was: its requests are sent again
            done = asyncio.get_running_loop().create_future()
            for custom_id in entry["custom_ids"]:
                self._running[custom_id] = done
            task = asyncio.ensure_future(self._follow(entry["batch_id"], entry["custom_ids"], done))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _follow(self, batch_id: str, custom_ids: list[str], done: asyncio.Future[None]) -> None:
        try:
            await self._collect(batch_id, custom_ids, missing_fail=False)
        except Exception:  # noqa: BLE001 - whatever went wrong, its requests are sent again
            pass
        finally:
            for custom_id in custom_ids:
                if self._running.get(custom_id) is done:
                    del self._running[custom_id]
            done.set_result(None)

    def _read_results(self, lines: list[bytes], where: str) -> None:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                custom_id = row["custom_id"]
            except (ValueError, KeyError, TypeError):
                raise EndpointError(f"{where}, line {number}: not a batch result line (custom_id, response)") from None
            response, error = row.get("response") or {}, row.get("error")
            if response.get("status_code") == 200 and not error:
                try:
                    self._answers[custom_id] = self.http._parse(response.get("body"))
                except RequestFailed as bad:
                    self._answers[custom_id] = bad
            else:
                message = error.get("message") if isinstance(error, dict) else None
                code = response.get("status_code") or (error.get("code") if isinstance(error, dict) else None)
                self._answers[custom_id] = RequestFailed(f"batch_line_{code or 'error'}",
                                                         message or json.dumps(response.get("body"))[:300])

    def _save_entry(self, entry: dict[str, Any]) -> None:
        if self._sidecar is None:
            return
        entries = json.loads(self._sidecar.read_text(encoding="utf-8")) if self._sidecar.exists() else []
        entries = [e for e in entries if e["input_file_id"] != entry["input_file_id"]] + [entry]
        temporary = self._sidecar.with_name(self._sidecar.name + ".tmp")
        temporary.write_text(json.dumps(entries), encoding="utf-8")
        temporary.replace(self._sidecar)  # never half-written: the ids are what prevents a second submission

    # -- HTTP

    async def _upload(self, content: bytes) -> str:
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", content, filename="requests.jsonl", content_type="application/jsonl")
        body = form()  # multipart; its own content type, not the session's JSON one
        async with self.http._open_session().post(self.http.base_url + "/files", data=body,
                                                  headers={"Content-Type": body.content_type}) as response:
            raw = await response.read()
            if response.status != 200:
                raise RequestFailed(f"http_{response.status}", f"uploading the batch: {server_message(raw)}")
            return json.loads(raw)["id"]

    async def _download(self, file_id: str) -> bytes:
        async with self.http._open_session().get(f"{self.http.base_url}/files/{file_id}/content") as response:
            raw = await response.read()
            if response.status != 200:
                raise RequestFailed(f"http_{response.status}", f"reading batch file {file_id}: {server_message(raw)}")
            return raw

    async def _api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return await self.http._request(method, path, payload)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.aclose()
