import asyncio
import time

import pytest

from curate.errors import UsageError
from curate.llm import LLM, RequestFailed, Sampling, map_unordered
from curate.llm_http import OpenAIHTTP, retry_after
from curate.llm_cache import RequestCache
from curate.llm_config import LLMConfig, build_llm

HELLO = [{"role": "user", "content": "hello"}]


def client(server, tmp_path=None, **kwargs):
    options = {"model": "scripted-model", "timeout": 2.0, "max_retries": 3, "retry_base": 0.01, **kwargs}
    cache = RequestCache(tmp_path / "cache.sqlite") if tmp_path else None
    return LLM(OpenAIHTTP(server.url, **options), cache, concurrency=8)


def test_chat_counts_usage(server):
    llm = client(server)
    reply = llm.chat_sync(HELLO)
    assert reply.text == "Here is a careful answer to: hello" and reply.finish_reasons == ["stop"]
    assert (llm.usage.requests, llm.usage.prompt_tokens) == (1, len("hello") // 4)
    assert server.payloads[0]["model"] == "scripted-model" and server.payloads[0]["max_tokens"] == 1024
    llm.close()


def test_cache_answers_a_repeat_without_a_request(server, tmp_path):
    llm = client(server, tmp_path)
    first = llm.chat_sync(HELLO, Sampling(seed=1))
    second = llm.chat_sync(HELLO, Sampling(seed=1))
    other = llm.chat_sync(HELLO, Sampling(seed=2))  # different sampling: a different entry
    assert second.text == first.text and second.cached and not first.cached and not other.cached
    assert len(server.payloads) == 2 and (llm.usage.requests, llm.usage.cached) == (2, 1)
    llm.close()


@pytest.mark.parametrize("fault", ["429", "500", "hang", "malformed", "drop", "bad_shape"])
def test_transient_faults_are_retried(server, fault):
    server.hang_seconds = 5
    server.fault = lambda payload, count: fault if count <= 2 else None
    llm = client(server, timeout=0.5)
    assert llm.chat_sync(HELLO).text.startswith("Here is a careful answer")
    assert len(server.payloads) == 3 and llm.usage.retries == 2
    llm.close()


@pytest.mark.parametrize("fault, reason", [("500", "http_500"), ("hang", "timeout"), ("drop", "connection"),
                                           ("malformed", "malformed_response")])
def test_a_lasting_fault_fails_with_its_reason(server, fault, reason):
    server.hang_seconds = 5
    server.fault = lambda payload, count: fault
    llm = client(server, timeout=0.3, max_retries=2)
    with pytest.raises(RequestFailed) as error:
        llm.chat_sync(HELLO)
    assert error.value.reason == reason and len(server.payloads) == 3
    assert llm.usage.failed == {reason: 1}
    llm.close()


def test_client_errors_are_not_retried(server):
    server.fault = lambda payload, count: "400"
    llm = client(server)
    with pytest.raises(RequestFailed, match="http_400: .*bad request"):
        llm.chat_sync(HELLO)
    assert len(server.payloads) == 1
    llm.close()


def test_retry_after_is_honoured(server):
    waits = []
    server.fault = lambda payload, count: "429" if count == 1 else None
    llm = client(server, retry_base=5.0)  # backoff alone would wait >= 2.5 s
    start = time.perf_counter()
    llm.chat_sync(HELLO)
    waits.append(time.perf_counter() - start)
    assert waits[0] < 1.0  # the server said Retry-After: 0
    llm.close()


def test_retry_after_parsing():
    assert retry_after("3") == 3.0 and retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert retry_after("100000") == 300.0


def test_api_key_goes_in_the_header_and_nowhere_else(server, tmp_path):
    key = "sk-test-SECRET-1234567890"
    server.fault = lambda payload, count: "400"
    echoing = server.reply
    llm = LLM(OpenAIHTTP(server.url, key, "scripted-model", max_retries=0), RequestCache(tmp_path / "c.sqlite"))
    with pytest.raises(RequestFailed) as error:
        llm.chat_sync(HELLO)
    assert server.headers[0]["Authorization"] == f"Bearer {key}"
    assert key not in str(error.value)
    server.fault = lambda payload, count: None
    server.reply = lambda prompt, seed: f"your key is {key}"  # a server that echoes it: our message hides it
    assert llm.chat_sync(HELLO).text.endswith(key)  # (a model's own words are data, not logs)
    server.reply = echoing
    llm.close()
    assert key.encode() not in (tmp_path / "c.sqlite").read_bytes().replace(f"your key is {key}".encode(), b"")


def test_secret_is_hidden_in_config_repr():
    config = LLMConfig(api_key="sk-hidden-42")
    assert "sk-hidden-42" not in repr(config) and "sk-hidden-42" not in config.model_dump_json()


def test_model_is_resolved_from_the_server(server):
    llm = LLM(OpenAIHTTP(server.url))
    llm.chat_sync(HELLO)
    assert server.payloads[-1]["model"] == "scripted-model"
    llm.close()


def test_completions_endpoint_sends_a_prompt(server):
    llm = client(server, endpoint="completions")
    assert llm.chat_sync(HELLO).text == "Here is a careful answer to: hello"
    assert server.payloads[0]["prompt"] == "hello" and "messages" not in server.payloads[0]
    llm.close()


def test_concurrency_is_bounded_and_results_stream(server):
    server.latency = 0.05
    in_flight, peak = 0, 0
    llm = client(server)
    llm.concurrency = 4

    async def work(i):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await llm.chat([{"role": "user", "content": f"q{i}"}], Sampling())
        finally:
            in_flight -= 1

    async def collect():
        order = []
        async for item, reply in map_unordered(range(20), work, limit=6):
            order.append(item)
        return order

    start = time.perf_counter()
    order = llm.run(collect())
    elapsed = time.perf_counter() - start
    assert sorted(order) == list(range(20)) and peak <= 6
    assert 0.05 * 20 / 4 * 0.8 < elapsed < 0.05 * 20 * 0.8  # 4 at a time: ~0.25 s; one at a time would be 1 s
    llm.close()


def test_auto_backend_needs_a_base_url_for_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UsageError, match="--base-url"):
        build_llm(LLMConfig(backend="openai", no_cache=True))
    assert type(build_llm(LLMConfig(no_cache=True)).backend).__name__ == "TransformersBackend"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert type(build_llm(LLMConfig(no_cache=True)).backend).__name__ == "OpenAIHTTP"


def test_vllm_backend_explains_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # as if the extra were not installed, even where it is
    llm = build_llm(LLMConfig(backend="vllm", no_cache=True))
    with pytest.raises(UsageError, match=r"pip install 'curate\[vllm\]'"):
        llm.chat_sync(HELLO)


def test_transformers_backend_generates_in_process(tiny_model_dir):
    llm = build_llm(LLMConfig(backend="transformers", model=str(tiny_model_dir), no_cache=True, max_tokens=8))

    async def both():
        return await asyncio.gather(llm.chat(HELLO, Sampling(max_tokens=8, n=2)),
                                    llm.chat([{"role": "user", "content": "again"}], Sampling(max_tokens=8, n=2)))

    first, second = llm.run(both())
    assert len(first.texts) == 2 and len(second.texts) == 2
    assert first.completion_tokens > 0 and first.finish_reasons[0] in ("stop", "length")
    llm.close()


def test_a_ctrl_c_inside_a_task_is_not_printed_as_a_traceback(capsys, caplog):
    """Ctrl-C can land in an HTTP write: that task ends with KeyboardInterrupt, and asyncio would
    report it as "never retrieved" after the run already said it was interrupted."""
    import asyncio
    import logging

    from curate.llm import quiet_interrupts

    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            quiet_interrupts(loop, {"message": "Task exception was never retrieved", "exception": KeyboardInterrupt()})
            assert not caplog.records
            quiet_interrupts(loop, {"message": "Task exception was never retrieved", "exception": ValueError("real")})
            assert caplog.records and "never retrieved" in caplog.records[0].getMessage()
    finally:
        loop.close()
