import json

import numpy as np

from curate.sinks import write_records
from curate.records import Example
from curate.stats import collect_stats


def test_counts_and_percentiles(examples, preferences):
    stats = collect_stats([*examples, *preferences, examples[0]])
    counts = stats["counts"]
    assert counts["records"] == 7 and counts["examples"] == 5 and counts["preferences"] == 2
    assert counts["with_history"] == 2 and counts["users"] == 3 and counts["duplicate_ids"] == 1
    outputs = [len(e.output) for e in [*examples, examples[0]]]
    chars = stats["lengths"]["output"]["chars"]
    assert chars["max"] == max(outputs) and chars["min"] == min(outputs)
    assert chars["p90"] == round(float(np.percentile(outputs, 90)), 1)
    assert stats["lengths"]["responses"]["count"] == 3  # each response counts on its own
    assert stats["lengths"]["input"]["count"] == 2  # empty inputs are not lengths


def test_chinese_lengths_are_characters():
    stats = collect_stats([Example(instruction="解释光合作用")])
    assert stats["lengths"]["instruction"]["chars"]["max"] == 6


def test_cli_json_with_tokenizer(tmp_path, run_cli, examples, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    src = tmp_path / "in.parquet"
    write_records(src, examples)
    code, out, _ = run_cli("curate", "stats", str(src), "--json", "--tokenizer", str(tiny_tokenizer_dir))
    assert code == 0
    result = json.loads(out)
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    lengths = [len(tokenizer(e.instruction, add_special_tokens=False)["input_ids"]) for e in examples]
    assert result["lengths"]["instruction"]["tokens"]["max"] == max(lengths)
    assert result["counts"]["records"] == len(examples)


def test_cli_table(tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, out, _ = run_cli("curate", "stats", str(src))
    assert code == 0
    assert "instruction" in out and "p90" in out and "records" in out
