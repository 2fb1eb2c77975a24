"""Request-loop throughput: our client against the openai SDK and a bare aiohttp loop, and
`--concurrency auto` against fixed settings on servers of three kinds.

Run as:  python bench/llm_client.py [--requests 3000] [--latency 0.1]   clients at c=64 and 256
         python bench/llm_client.py --auto                               auto against fixed settings

A local OpenAI-compatible server (its own process) answers every request after a fixed
latency with no concurrency limit, so the ideal rate is concurrency / latency. Each client
sends the same chat requests at concurrency 64 and 256; the table shows requests/s and the
ratios the LLM-client issue sets targets for (ours >= 0.8x the bare loop at 256).

--auto: our client with --concurrency auto and with fixed numbers, on (1) a server that serves
at most 16 requests at once (the rest queue), latency 100 ms; (2) one that answers 429 to any
request above 48 in flight, latency 100 ms; (3) one with no limit, latency 200 ms. Printed for
each: requests/s of every setting, auto's share of the best fixed one (or of c=512 for the
unlimited server), the limit auto settled on, and the share of requests answered 429.
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


def serve(port: int, latency: float, capacity: int = 0, reject_above: int = 0) -> None:
    """capacity: serve at most this many at once (the rest wait their turn); reject_above: answer
    429 to a request that arrives with this many already in flight. /stats counts both."""
    from aiohttp import web

    body = json.dumps(REPLY).encode()
    slots = asyncio.Semaphore(capacity) if capacity else None
    stats = {"served": 0, "rejected": 0, "in_flight": 0}

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        if reject_above and stats["in_flight"] >= reject_above:
            stats["rejected"] += 1
            return web.json_response({"error": {"message": "too many requests"}}, status=429)
        stats["in_flight"] += 1
        try:
            if slots is not None:
                async with slots:
                    await asyncio.sleep(latency)
            else:
                await asyncio.sleep(latency)
        finally:
            stats["in_flight"] -= 1
        stats["served"] += 1
        return web.Response(body=body, content_type="application/json")

    async def read_stats(request: web.Request) -> web.Response:
        answer = web.json_response(dict(stats))
        if request.method == "POST":
            stats.update(served=0, rejected=0)
        return answer

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", read_stats)
    app.router.add_post("/stats", read_stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"}]


async def ours(url: str, n: int, concurrency: int | str, settled: list[int] | None = None,
               finished: list[float] | None = None) -> None:
    from curate.llm import LLM, Sampling, map_unordered
    from curate.llm_config import connections_for
    from curate.llm_http import OpenAIHTTP

    backend = OpenAIHTTP(url, "bench-key", "m", connections=connections_for(concurrency), max_retries=20,
                         retry_base=0.05)
    llm = LLM(backend, cache=None, concurrency=concurrency)
    async for _, reply in map_unordered(range(n), lambda i: llm.chat(messages(i), Sampling(max_tokens=32)),
                                        limit=llm.width):
        assert not isinstance(reply, BaseException), reply
        if finished is not None:
            finished.append(time.perf_counter())
    if settled is not None:
        settled.append(llm.limit.settled)
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


def start_server(latency: float, capacity: int = 0, reject_above: int = 0) -> tuple[subprocess.Popen, str]:
    """This file's scripted server in its own process, once it accepts connections; (process, URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--latency", str(latency),
                               "--capacity", str(capacity), "--reject-above", str(reject_above)],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}/v1"


def server_stats(url: str, reset: bool = False) -> dict[str, int]:
    import urllib.request

    request = urllib.request.Request(url.removesuffix("/v1") + "/stats", method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


AUTO_CASES = [  # (name, latency, capacity, reject_above, requests, fixed settings, the setting auto is held to)
    ("serves 16 at once, 100 ms", 0.1, 16, 0, 2400, (8, 16, 32, 64), "best"),
    ("429 above 48 in flight, 100 ms", 0.1, 0, 48, 6000, (16, 32, 48, 64), "best"),
    ("no limit, 200 ms", 0.2, 0, 0, 20000, (64, 256, 512), 512),
]


def auto_against_fixed() -> None:
    print(f"{'server':32s} {'setting':>8s} {'requests/s':>11s} {'2nd half':>9s} {'429 share':>10s}   "
          "(requests/s: the whole run, start-up included; 2nd half: its last half, once settled)")
    for name, latency, capacity, reject_above, n, fixed, target in AUTO_CASES:
        server, url = start_server(latency, capacity, reject_above)
        rates, steady, shares, settled = {}, {}, {}, []
        try:
            for setting in [*fixed, "auto"]:
                server_stats(url, reset=True)
                finished: list[float] = []
                start = time.perf_counter()
                asyncio.run(ours(url, n, setting, settled if setting == "auto" else None, finished))
                rates[setting] = n / (time.perf_counter() - start)
                steady[setting] = (n - n // 2) / max(finished[-1] - finished[n // 2 - 1], 1e-9)
                stats = server_stats(url)
                shares[setting] = stats["rejected"] / max(stats["served"] + stats["rejected"], 1)
                print(f"{name:32s} {setting!s:>8s} {rates[setting]:11,.0f} {steady[setting]:9,.0f} "
                      f"{shares[setting]:10.2%}")
        finally:
            server.terminate()
            server.wait()
        reference = max(fixed, key=lambda s: rates[s]) if target == "best" else target
        print(f"  auto: {rates['auto'] / rates[reference]:.2f}x the rate of c={reference} over the whole run, "
              f"{steady['auto'] / steady[reference]:.2f}x over its second half (target 0.90x); settled at "
              f"{settled[0]}, {shares['auto']:.2%} of requests answered 429"
              + (" (target: at most 48 in flight, < 2% answered 429)" if reject_above else ""))


# distilabel 1.5.3's EvolInstruct (OpenAILLM at its defaults, num_evolutions=4) on 2,000 seeds
# against a server answering every request after 200 ms, on this 2-core machine: 8,000 requests,
# 71.0 s and 73.0 s in two runs (pipeline.run(use_cache=False), wall clock). It sends each input
# batch of 50 at once and runs the batches and their rounds one after another.
DISTILABEL_EVOL_SECONDS = 71.0


def serve_scripted(port_file: str, latency: float) -> None:
    """The tests' scripted server (it answers our templates), in this process until killed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.fake_server import ScriptedServer

    server = ScriptedServer(latency=latency).start()
    server.payloads = _Counter()  # count requests without keeping them
    server.headers = _Counter()
    Path(port_file).write_text(str(server.port))
    while True:
        time.sleep(3600)


class _Counter(list):
    """A list that counts what is appended and keeps none of it."""

    def append(self, item: object) -> None:
        self.received = getattr(self, "received", 0) + 1


def evol_against_distilabel(seeds: int = 2000) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder) / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve-scripted", str(port_file), "--latency", "0.2"])
        try:
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.1)
            url = f"http://127.0.0.1:{port_file.read_text()}/v1"
            seeds_file = Path(folder) / "seeds.json"
            seeds_file.write_text(json.dumps([f"Explain topic number {i} in simple words." for i in range(seeds)]))
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "curate.cli", "evol", str(seeds_file), "-o",
                                  str(Path(folder) / "evol.jsonl"), "--rounds", "4", "--base-url", url, "--no-cache"],
                                 capture_output=True, text=True)
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()
    assert run.returncode == 0, run.stderr[-2000:]
    requests = next(line for line in run.stderr.splitlines() if "requests" in line and "│" in line)
    concurrency = next((line for line in run.stderr.splitlines() if "concurrency " in line and "│" in line), "")
    print(f"curate evol, defaults, {seeds:,} seeds x 4 rounds, 200 ms server: {elapsed:.1f} s "
          f"({' '.join(requests.replace('│', ' ').split())}; {' '.join(concurrency.replace('│', ' ').split())})")
    print(f"  distilabel EvolInstruct, same job (constant measured once, see DISTILABEL_EVOL_SECONDS): "
          f"{DISTILABEL_EVOL_SECONDS:.1f} s, 8,000 requests; curate / distilabel wall time = "
          f"{elapsed / DISTILABEL_EVOL_SECONDS:.2f}x (target < 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--latency", type=float, default=0.1, help="server latency in seconds")
    parser.add_argument("--auto", action="store_true", help="--concurrency auto against fixed settings")
    parser.add_argument("--evol", action="store_true", help="curate evol with defaults against distilabel's time")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-scripted", help=argparse.SUPPRESS)
    parser.add_argument("--capacity", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reject-above", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency, args.capacity, args.reject_above)
        return
    if args.serve_scripted:
        serve_scripted(args.serve_scripted, args.latency)
        return
    if args.auto or args.evol:
        if args.auto:
            auto_against_fixed()
        if args.evol:
            evol_against_distilabel()
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
