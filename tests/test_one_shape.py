"""What the one command shape gave the commands that lacked parts of it: --config on every
command, --rejects where a stage can remove something, -o for stats, and numbers as data."""

from __future__ import annotations

import json
from collections import Counter

from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example
from tests.conftest import write_jsonl

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n-----END RSA PRIVATE KEY-----"


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_pii_drop_sends_whole_records_to_rejects_scrubbed(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Deploy with this key", input=PEM, output="ok, mail me at a.b@example.com"),
                        Example(instruction="Write to a.b@example.com", output="done")])
    code, _, err = run_cli("curate", "pii", str(src), "-o", str(tmp_path / "out.jsonl"), "--drop", "private_key",
                           "--rejects", str(tmp_path / "rej.jsonl"), "--workers", "1")
    assert code == 0, err
    [kept] = read_records(tmp_path / "out.jsonl")
    [dropped] = read_records(tmp_path / "rej.jsonl")
    assert kept.instruction == "Write to <EMAIL>"
    assert dropped.meta["rejected"] == {"stage": "pii", "reason": "pii:PRIVATE_KEY"}
    text = (tmp_path / "rej.jsonl").read_text()
    assert "MIIBOgIBAAJBAKj34" not in text and "a.b@example.com" not in text  # scrubbed like the rest


def test_convert_skip_invalid_keeps_going_and_says_where(tmp_path, run_cli):
    src = write_jsonl(tmp_path / "log.jsonl", [{"instruction": "Fine", "output": "yes", "lang": "en"},
                                               {"instruction": 3, "output": "bad type"},
                                               {"prompt_text": "no instruction at all"},
                                               {"instruction": "Also fine"}])
    code, _, err = run_cli("curate", "convert", str(src), "-o", str(tmp_path / "out.jsonl"))
    assert code == 1 and "log.jsonl:2" in err and not (tmp_path / "out.jsonl").exists()
    code, _, err = run_cli("curate", "convert", str(src), "-o", str(tmp_path / "out.jsonl"), "--skip-invalid",
                           "--no-keep-extra", "--rejects", str(tmp_path / "bad.jsonl"))
    assert code == 0, err
    kept = list(read_records(tmp_path / "out.jsonl"))
    assert [r.instruction for r in kept] == ["Fine", "Also fine"] and "extra" not in kept[0].meta
    bad = rows(tmp_path / "bad.jsonl")
    assert [b["meta"]["rejected"]["where"] for b in bad] == [f"{src}:2", f"{src}:3"]
    assert bad[0]["instruction"] == 3 and "instruction" in bad[0]["meta"]["rejected"]["problem"]
    assert "invalid" in err


def test_mix_rejects_hold_exactly_the_rows_not_drawn(tmp_path, run_cli):
    for name, size in (("a", 50), ("b", 30)):
        write_records(tmp_path / f"{name}.jsonl", [Example(instruction=f"{name} task {i}", output="x")
                                                    for i in range(size)])
    code, _, err = run_cli("curate", "mix", f"{tmp_path / 'a.jsonl'}:0.5", f"{tmp_path / 'b.jsonl'}:0.5",
                           "--total", "40", "-o", str(tmp_path / "mix.jsonl"), "--rejects", str(tmp_path / "rest.jsonl"))
    assert code == 0, err
    mixed = {row["instruction"] for row in rows(tmp_path / "mix.jsonl")}
    rest = rows(tmp_path / "rest.jsonl")
    assert len(mixed) == 40 and len(rest) == 40 and not mixed & {row["instruction"] for row in rest}
    assert {row["meta"]["rejected"]["reason"] for row in rest} == {"not_drawn"}


def test_stats_writes_json_and_counts_earlier_drops(tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "kept.jsonl"), "--rejects",
                           str(tmp_path / "filter.rejects.jsonl"), "--min-instruction-words", "4")
    assert code == 0, err
    dropped = Counter(r.meta["rejected"]["reason"] for r in read_records(tmp_path / "filter.rejects.jsonl"))
    code, out, err = run_cli("curate", "stats", str(tmp_path / "kept.jsonl"), "-o", str(tmp_path / "stats.json"),
                             "--rejects", str(tmp_path / "filter.rejects.jsonl"))
    assert code == 0, err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["counts"]["records"] == len(examples) - sum(dropped.values())
    assert {(d["stage"], d["reason"]): d["records"] for d in stats["dropped"]} == {
        ("filter", reason): n for reason, n in dropped.items()}
    assert "dropped by earlier stages" in out


def test_a_config_file_drives_a_command_that_had_none(tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    (tmp_path / "export.yaml").write_text("format: messages\n")
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "out.jsonl"), "--config",
                           str(tmp_path / "export.yaml"))
    assert code == 0, err
    assert all("messages" in row for row in rows(tmp_path / "out.jsonl"))
    (tmp_path / "bad.yaml").write_text("format: yaml\n")
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "x.jsonl"), "--config",
                           str(tmp_path / "bad.yaml"))
    assert code == 2 and f"format in {tmp_path / 'bad.yaml'}: Input should be" in err  # the file's key, not a flag


def test_request_counts_are_numbers_in_the_summary_json(server, tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction=f"Task {i}") for i in range(5)])
    code, _, err = run_cli("curate", "respond", str(src), "-o", str(tmp_path / "out.jsonl"), "--base-url",
                           server.url, "--no-cache", "--summary-json", str(tmp_path / "summary.json"))
    assert code == 0, err
    counts = json.loads((tmp_path / "summary.json").read_text())["counts"]
    assert counts["requests"] == 5 and counts["from_cache"] == 0 and counts["completion_tokens"] > 0
