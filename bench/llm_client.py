"""Request-loop throughput: our client against the openai SDK and a bare aiohttp loop.

Run as:  python bench/llm_client.py [--requests 3000] [--latency 0.1]

A local OpenAI-compatible server (its own process) answers every request after a fixed
latency with no concurrency limit, so the ideal rate is concurrency / latency. Each client
sends the same chat requests at concurrency 64 and 256; the table shows requests/s and the
ratios the LLM-client issue sets targets for (ours >= 0.8x the bare loop at 256).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPLY = {"id": "bench", "object": "chat.completion", "model": "m",
         "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok " * 20}}],
         "usage": {"prompt_tokens": 12, "completion_tokens": 20}}


def serve(port: int, latency: float) -> None:
    from aiohttp import web

    body = json.dumps(REPLY).encode()

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency)
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"}]


async def ours(url: str, n: int, concurrency: int) -> None:
    from curate.llm import LLM, Sampling, map_unordered
    from curate.llm_http import OpenAIHTTP

    llm = LLM(OpenAIHTTP(url, "bench-key", "m", connections=2 * concurrency), cache=None, concurrency=concurrency)
    async for _, reply in map_unordered(range(n), lambda i: llm.chat(messages(i), Sampling(max_tokens=32)),
                                        limit=concurrency):
        assert not isinstance(reply, BaseException), reply
    await llm.aclose()


async def openai_sdk(url: str, n: int, concurrency: int) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="bench-key", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            reply = await client.chat.completions.create(model="m", messages=messages(i), max_tokens=32,
                                                         temperature=0.7)
            assert reply.choices[0].message.content

    await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()


async def bare_aiohttp(url: str, n: int, concurrency: int) -> None:
    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer bench-key", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * concurrency), headers=headers) as session:

        async def one(i: int) -> None:
            payload = {"model": "m", "messages": messages(i), "max_tokens": 32, "temperature": 0.7}
            async with slots, session.post(f"{url}/chat/completions", data=json.dumps(payload)) as response:
                body = json.loads(await response.read())
                assert body["choices"][0]["message"]["content"]

        await asyncio.gather(*(one(i) for i in range(n)))


def measure(client, url: str, n: int, concurrency: int) -> float:
    asyncio.run(client(url, min(n, 2 * concurrency), concurrency))  # warm-up: imports, connections
    start = time.perf_counter()
    asyncio.run(client(url, n, concurrency))
    return n / (time.perf_counter() - start)


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    """This file's scripted server in its own process, once it accepts connections; (process, URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--latency", str(latency)],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--latency", type=float, default=0.1, help="server latency in seconds")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency)
        return
    server, url = start_server(args.latency)
    try:
        clients = {"ours": ours, "openai SDK (AsyncOpenAI default)": openai_sdk, "bare aiohttp loop": bare_aiohttp}
        rates = {(name, c): measure(fn, url, args.requests, c) for c in (64, 256) for name, fn in clients.items()}
    finally:
        server.terminate()
        server.wait()
    print(f"{'client':36s} {'c=64':>10s} {'c=256':>10s}   (requests/s; ideal {64 / args.latency:,.0f} and "
          f"{256 / args.latency:,.0f})")
    for name in clients:
        print(f"{name:36s} {rates[name, 64]:10,.0f} {rates[name, 256]:10,.0f}")
    bare, sdk = "bare aiohttp loop", "openai SDK (AsyncOpenAI default)"
    for c in (64, 256):
        print(f"c={c}: ours / bare aiohttp = {rates['ours', c] / rates[bare, c]:.2f}x   "
              f"ours / openai SDK = {rates['ours', c] / rates[sdk, c]:.2f}x   "
              f"bare / openai SDK = {rates[bare, c] / rates[sdk, c]:.2f}x")


if __name__ == "__main__":
    main()
