import json

import pytest

from curate.generate.respond import RespondConfig, respond
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example


def config(server, **changes):
    return RespondConfig(**({"base_url": server.url, "no_cache": True, "concurrency": 4, "timeout": 2.0} | changes))


def test_answers_with_k_candidates(server, examples, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_records(src, examples)
    summary = respond(src, out, config(server, n=3))
    records = list(read_records(out))
    assert sorted(r.id for r in records) == sorted(e.id for e in examples)
    for record in records:
        info = record.meta["responses"]
        assert len(info["candidates"]) == 3 and len(set(info["candidates"])) == 3
        assert record.output == info["candidates"][0] and info["model"] == "scripted-model"
    assert summary.written == len(examples) and all(p["n"] == 3 for p in server.payloads)
    # the conversation is sent as it is: system, history, then the user turn
    german = next(p for p in server.payloads if "German" in json.dumps(p))
    assert [m["role"] for m in german["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_servers_that_ignore_n_are_topped_up(server, examples, tmp_path):
    server.ignore_n = True
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_records(src, examples[:1])
    respond(src, out, config(server, n=3))
    [record] = read_records(out)
    assert len(record.meta["responses"]["candidates"]) == 3
    assert [p.get("seed") for p in server.payloads] == [0, 1, 2]


def test_truncated_and_empty_answers_are_dropped(server, tmp_path):
    replies = {"empty": "", "long": "and so on and so<<CUT>>", "short": "fine"}
    server.reply = lambda prompt, seed: next(v for k, v in replies.items() if k in prompt)
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    write_records(src, [Example(instruction=f"answer {kind}") for kind in replies])
    summary = respond(src, out, config(server), rejects)
    assert [r.output for r in read_records(out)] == ["fine"]
    assert summary.dropped == {"empty_response": 1, "truncated": 1}
    assert {r.meta["rejected"]["reason"] for r in read_records(rejects)} == {"empty_response", "truncated"}
    kept = tmp_path / "kept.jsonl"
    respond(src, kept, config(server, keep_truncated=True))
    assert sorted(r.output for r in read_records(kept)) == ["and so on and so", "fine"]


def test_resume_skips_answered_ids_and_skip_answered_passes_outputs_through(server, examples, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_records(src, examples)
    respond(src, out, config(server))
    server.reset()
    summary = respond(src, out, config(server))
    assert server.payloads == [] and summary.resumed == len(examples)
    fresh = tmp_path / "fresh.jsonl"
    respond(src, fresh, config(server, skip_answered=True))
    assert server.payloads == [] and [r.output for r in read_records(fresh)] == [e.output for e in examples]


def test_the_summary_names_the_model_and_prices_the_tokens(server, examples, tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "respond", str(src), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.url,
                           "--no-cache", "--price", "2/10", "--summary-json", str(tmp_path / "summary.json"))
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    counts, facts = summary["counts"], summary["facts"]
    assert facts["model"] == "scripted-model" and counts["prompt_tokens"] > 0 and counts["completion_tokens"] > 0
    expected = (counts["prompt_tokens"] * 2 + counts["completion_tokens"] * 10) / 1e6
    assert facts["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert "cost usd" in err and "scripted-model" in err
    code, _, err = run_cli("curate", "respond", str(src), "-o", str(tmp_path / "out2.jsonl"), "--base-url", server.url,
                           "--price", "cheap")
    assert code == 2 and "--price" in err and "IN/OUT" in err and not (tmp_path / "out2.jsonl").exists()
