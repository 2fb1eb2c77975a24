import re

import pytest

from curate.io import write_records

LLM_OPTIONS = ["--base-url", "--model", "--api-key", "--concurrency", "--temperature", "--max-tokens", "--seed",
               "--cache", "--no-cache", "--timeout", "--max-retries", "--backend", "--endpoint", "--config"]
CURATE_COMMANDS = {
    "export": ["--output", "--format", "--pairs", "--dataset-info", "--dataset-name", "--rejects", "--map"],
    "convert": ["--output", "--map"],
    "stats": ["--tokenizer", "--json", "--map"],
    "evol": ["INPUT", "--output", "--rejects", "--rounds", "--op-weights", "--lang", "--prompts", *LLM_OPTIONS],
    "self-instruct": ["INPUT", "--output", "--num-instructions", "--rouge-threshold", "--max-instances", *LLM_OPTIONS],
    "respond": ["--output", "--rejects", "--restart", "--allow-failures", "--summary-json", "--n", "--skip-answered", "--keep-truncated", "--map", *LLM_OPTIONS],
    "judge": ["--output", "--min-score", "--lang", *LLM_OPTIONS],
    "dedup": ["--output", "--fields", "--threshold", "--num-perm", "--ngram", "--keep", "--workers", "--rejects"],
    "filter": ["--output", "--min-instruction-words", "--max-output-words", "--refusal-words", "--blacklist",
               "--max-symbol-ratio", "--max-repeated-ngrams", "--rejects"],
    "rank": ["--output", "--kind", "--min-gap", "--rejects"],
    "report": ["--output", "--rejects", "--splits"],
    "pii": ["--output", "--mode", "--salt", "--types", "--names", "--workers", "--report", "--map"],
    "split": ["--output", "--by", "--splits", "--max-per-user", "--salt", "--missing", "--drop-leaks",
              "--leak-threshold", "--suffix", "--rejects", "--config"],
}


@pytest.mark.parametrize("prog, command, options", [
    ("curate", None, ["--debug"]),
    ("train", None, ["--debug"]),
    ("train", "preview", ["--data", "--tokenizer", "--limit"]),
    ("train", "sft", ["--data", "--output", "--model", "--epochs", "--learning-rate", "--batch-size",
                      "--gradient-accumulation", "--max-length", "--chat-template", "--lora", "--lora-rank",
                      "--lora-alpha", "--lora-target-modules", "--packing", "--config"]),
    ("train", "rm", ["--data", "--output", "--model", "--max-steps", "--lora"]),
    ("train", "dpo", ["--data", "--output", "--model", "--beta", "--loss-type", "--precompute-ref", "--pairs"]),
    ("train", "score", ["--model", "--data", "--output", "--max-length"]),
    *(("curate", name, options) for name, options in CURATE_COMMANDS.items()),
])
def test_help_explains_every_option(run_cli, prog, command, options):
    code, out, _ = run_cli(prog, *([command] if command else []), "--help")
    assert code == 0
    for option in options:
        # each option is listed with a line of explanation after it
        assert re.search(re.escape(option) + r"\b.*\w{3,}", out), option


def test_top_level_help_lists_the_commands(run_cli):
    _, out, _ = run_cli("curate", "--help")
    assert all(name in out for name in CURATE_COMMANDS)


@pytest.mark.parametrize("argv", [
    ["export", "in.jsonl"],  # missing --output
    ["export", "in.jsonl", "-o", "o.json", "--format", "yaml"],
    ["export", "in.jsonl", "-o", "o.json", "--no-such-option"],
    ["frobnicate"],
])
def test_bad_usage_exits_2(tmp_path, run_cli, examples, argv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_records(tmp_path / "in.jsonl", examples)
    code, _, err = run_cli("curate", *argv)
    assert code == 2 and err.strip()


def test_missing_input_file_exits_2(tmp_path, run_cli):
    code, _, err = run_cli("curate", "stats", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "nope.jsonl: no such file" in err


def test_errors_are_one_line_unless_debug(tmp_path, run_cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": 1}\n')
    code, _, err = run_cli("curate", "stats", str(bad))
    assert code == 1
    assert err.strip().splitlines() == [f"curate: error: {bad}:1: field 'instruction': "
                                        "Input should be a valid string (got int 1)"]
    code, _, err = run_cli("curate", "--debug", "stats", str(bad))
    assert code == 1 and "Traceback" in err and err.strip().endswith("(got int 1)")


def test_split_command(tmp_path, run_cli):
    from curate.io import read_records, write_records
    from curate.records import Example

    records = [Example(instruction=f"Question {i} on topic {i}", output="a", user_id=f"u{i % 40}") for i in range(200)]
    write_records(tmp_path / "in.jsonl", records)
    code, _, err = run_cli("curate", "split", str(tmp_path / "in.jsonl"), "--out-dir", str(tmp_path / "out"),
                           "--max-per-user", "3", "--splits", "train=0.5,test=0.5")
    assert code == 0, err
    parts = {name: list(read_records(tmp_path / "out" / f"{name}.jsonl")) for name in ("train", "test")}
    users = {name: {r.user_id for r in rows} for name, rows in parts.items()}
    assert not users["train"] & users["test"] and len(users["train"] | users["test"]) == 40
    assert sum(map(len, parts.values())) == 40 * 3 and "dropped: over_user_cap" in err


def test_help_keeps_angle_bracket_placeholders(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli("curate", "pii", "--help")
    assert code == 0 and "placeholder: <EMAIL>;" in out


def test_seeds_are_the_input_and_folders_are_dash_o(server, seeds_file, tmp_path, run_cli, examples):
    from curate.io import write_records

    common = ["--base-url", server.url, "--no-cache", "--rounds", "1"]
    code, _, err = run_cli("curate", "evol", str(seeds_file), "-o", str(tmp_path / "a.jsonl"), *common)
    assert code == 0, err
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(tmp_path / "b.jsonl"), *common)
    lines = [sorted((tmp_path / name).read_text().splitlines()) for name in ("a.jsonl", "b.jsonl")]
    assert code == 0 and lines[0] == lines[1]  # the same records (lineages finish in any order)
    code, _, err = run_cli("curate", "evol", str(seeds_file), "--seeds", str(seeds_file), "-o",
                           str(tmp_path / "c.jsonl"), *common)
    assert code == 2 and "not both" in err
    src = tmp_path / "records.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "split", str(src), "-o", str(tmp_path / "splits"), "--missing", "singleton")
    assert code == 0 and (tmp_path / "splits" / "train.jsonl").exists(), err
    code, _, err = run_cli("curate", "report", str(src), "-o", str(tmp_path / "report"))
    assert code == 0 and (tmp_path / "report" / "index.html").exists(), err
