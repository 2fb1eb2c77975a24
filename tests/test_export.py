import json

import pytest

from curate.export import ExportConfig, export
from curate.formats import FORMATS, dataset_info_entry
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example

EXAMPLE_FORMATS = ("alpaca", "sharegpt", "messages", "trl")
PREFERENCE_FORMATS = ("preference", "sharegpt", "messages", "trl", "ranking")

# LLaMA-Factory's data/README.md, entry by entry (file_name aside).
DOCUMENTED_COLUMNS = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
               "history": "history"},
    "preference": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"},
    "sharegpt": {"messages": "conversations", "system": "system"},
    "messages": {"messages": "messages"},
}
OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "system_tag": "system"}


def load_back(path):
    """What `datasets` reads from an exported file, as plain rows."""
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train").to_list()


def written_rows(path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
@pytest.mark.parametrize("fmt", EXAMPLE_FORMATS)
def test_examples_round_trip_through_datasets(tmp_path, examples, fmt, suffix):
    src = tmp_path / "source.json"
    write_records(src, examples)
    out = tmp_path / f"{fmt}{suffix}"
    summary = export(src, out, ExportConfig(format=fmt))
    assert (summary.read, summary.written) == (len(examples), len(examples))
    rows = load_back(out)
    assert rows == written_rows(out)
    # and reading the export back gives the same conversations
    for original, back in zip(examples, read_records(out), strict=True):
        assert back.output == original.output
        assert back.history == original.history
        assert back.system == original.system
        expected_instruction = original.instruction if fmt == "alpaca" else original.user_message()
        assert back.instruction == expected_instruction


@pytest.mark.parametrize("fmt", PREFERENCE_FORMATS)
def test_preferences_round_trip_through_datasets(tmp_path, preferences, fmt):
    src = tmp_path / "prefs.jsonl"
    write_records(src, preferences)
    out = tmp_path / f"{fmt}.json"
    summary = export(src, out, ExportConfig(format=fmt))
    expected_rows = 1 + (1 if fmt == "ranking" else 3)  # the K=3 ranking becomes 3 pairs
    assert summary.written == expected_rows
    assert load_back(out) == written_rows(out)
    back = list(read_records(out))
    if fmt == "ranking":
        assert [b.ranked_responses() for b in back] == [p.ranked_responses() for p in preferences]
    else:
        sources = [p for p in preferences for _ in p.pairs()]
        assert [(b.chosen, b.rejected) for b in back] == [pair for p in preferences for pair in p.pairs()]
        assert [(b.history, b.system) for b in back] == [(p.history, p.system) for p in sources]


def test_best_worst_pairs(tmp_path, preferences):
    src = tmp_path / "p.jsonl"
    write_records(src, preferences)
    out = tmp_path / "dpo.jsonl"
    export(src, out, ExportConfig(format="preference", pairs="best-worst"))
    assert [(r["chosen"], r["rejected"]) for r in written_rows(out)] == [("Canberra.", "Sydney."), ("2, 5, 9", "9, 5, 2")]


def test_preference_exports_to_alpaca_as_its_best_response(tmp_path, preferences):
    src = tmp_path / "p.jsonl"
    write_records(src, preferences)
    export(src, tmp_path / "a.json", ExportConfig(format="alpaca"))
    assert [r["output"] for r in written_rows(tmp_path / "a.json")] == ["Canberra.", "2, 5, 9"]


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages"])
def test_dataset_info_for_examples_matches_llama_factory_docs(tmp_path, examples, fmt):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    out = tmp_path / "data" / f"my_{fmt}.json"
    export(src, out, ExportConfig(format=fmt, dataset_info=True))
    info = json.loads((out.parent / "dataset_info.json").read_text())
    entry = info[f"my_{fmt}"]
    assert entry["file_name"] == out.name
    assert entry["columns"] == DOCUMENTED_COLUMNS[fmt]
    assert entry.get("formatting", "alpaca") == ("alpaca" if fmt == "alpaca" else "sharegpt")
    assert "ranking" not in entry
    if fmt == "messages":
        assert entry["tags"] == OPENAI_TAGS
    _assert_columns_exist(entry, written_rows(out))


@pytest.mark.parametrize("fmt", ["preference", "sharegpt", "messages"])
def test_dataset_info_for_preferences_matches_llama_factory_docs(tmp_path, preferences, fmt):
    src = tmp_path / "in.jsonl"
    write_records(src, preferences)
    out = tmp_path / f"{fmt}.json"
    export(src, out, ExportConfig(format=fmt, dataset_info=True, dataset_name="prefs"))
    entry = json.loads((tmp_path / "dataset_info.json").read_text())["prefs"]
    assert entry["ranking"] is True
    documented = DOCUMENTED_COLUMNS[fmt] if fmt == "preference" else {
        **DOCUMENTED_COLUMNS[fmt], "chosen": "chosen", "rejected": "rejected"}
    # beyond the documented columns we register only system/history, which the loader also reads
    assert documented.items() <= entry["columns"].items()
    assert set(entry["columns"]) - set(documented) <= {"system", "history"}
    _assert_columns_exist(entry, written_rows(out))


def _assert_columns_exist(entry, rows):
    for column in entry["columns"].values():
        assert all(column in row for row in rows), column


def test_dataset_info_keeps_other_entries(tmp_path, examples):
    (tmp_path / "dataset_info.json").write_text(json.dumps({"alpaca_en": {"file_name": "alpaca_en.json"}}))
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    export(src, tmp_path / "mine.json", ExportConfig(format="alpaca", dataset_info=True))
    assert set(json.loads((tmp_path / "dataset_info.json").read_text())) == {"alpaca_en", "mine"}


@pytest.mark.parametrize("fmt", ["trl", "ranking"])
def test_dataset_info_refuses_formats_llama_factory_cannot_load(tmp_path, run_cli, preferences, fmt):
    src = tmp_path / "in.jsonl"
    write_records(src, preferences)
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "o.json"), "-f", fmt, "--dataset-info")
    assert code == 2 and "LLaMA-Factory has no loader" in err
    assert not (tmp_path / "o.json").exists()


def test_mixed_kinds_cannot_share_a_dataset_info_entry(tmp_path, run_cli, examples, preferences):
    src = tmp_path / "in.jsonl"
    write_records(src, [*examples, *preferences])
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "o.json"), "-f", "sharegpt", "--dataset-info")
    assert code == 1 and f"mixes {len(examples)} examples and {len(preferences)} preferences" in err
    assert not (tmp_path / "o.json").exists()


def test_examples_cannot_become_preference_rows(tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "o.json"), "-f", "preference")
    assert code == 1 and "in.jsonl: record 1 (id " in err and "needs preference records" in err
    assert not (tmp_path / "o.json").exists()


def test_examples_without_output_are_dropped_and_kept_as_rejects(tmp_path, run_cli, examples):
    unanswered = Example(instruction="Write a haiku.")
    src = tmp_path / "in.jsonl"
    write_records(src, [*examples, unanswered])
    code, _, err = run_cli("curate", "export", str(src), "-o", str(tmp_path / "o.jsonl"), "-f", "messages",
                           "--rejects", str(tmp_path / "rejects.jsonl"))
    assert code == 0
    assert len(written_rows(tmp_path / "o.jsonl")) == len(examples)
    [reject] = read_records(tmp_path / "rejects.jsonl")
    assert reject.id == unanswered.id
    assert reject.meta["rejected"] == {"stage": "export", "reason": "no_output"}
    assert "dropped: no_output" in err


def test_trl_rows_are_what_trl_expects(tmp_path, examples, preferences, tiny_tokenizer_dir):
    from transformers import AutoTokenizer
    from trl.data_utils import apply_chat_template, is_conversational

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    for records, keys in ((examples, {"prompt", "completion"}), (preferences, {"prompt", "chosen", "rejected"})):
        src = tmp_path / "in.jsonl"
        write_records(src, records)
        export(src, tmp_path / "trl.jsonl", ExportConfig(format="trl"))
        for row in load_back(tmp_path / "trl.jsonl"):
            assert set(row) == keys and is_conversational(row)
            rendered = apply_chat_template(row, tokenizer)
            assert rendered["prompt"].endswith("<|im_start|>assistant\n")
            answer = row.get("completion", row.get("chosen"))[0]["content"]
            assert rendered.get("completion", rendered.get("chosen")).startswith(answer)


def test_kto_rows_for_trl_and_llama_factory(tmp_path, run_cli, tiny_model_dir):
    from trl.data_utils import apply_chat_template

    from curate.records import Preference

    records = [Preference(instruction="Name a colour.", chosen="Blue.", rejected="Seven."),
               Preference(instruction="Rank these.", responses=["b", "a", "c"], ranking=[1, 0, 2]),
               Example(instruction="Say hi.", output="Hi!", meta={"judge": {"score": 5}}),
               Example(instruction="Say bye.", output="Hi!", meta={"judge": {"score": 2}})]
    write_records(tmp_path / "in.jsonl", records)
    code, _, err = run_cli("curate", "export", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "kto.jsonl"),
                           "-f", "kto", "--dataset-info")
    assert code == 0, err
    rows = load_back(tmp_path / "kto.jsonl")
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [
        ("Blue.", True), ("Seven.", False), ("a", True), ("c", False), ("Hi!", True), ("Hi!", False)]
    for row in rows:  # TRL's unpaired layout renders, and the Alpaca columns carry the same answer
        rendered = apply_chat_template({k: row[k] for k in ("prompt", "completion", "label")},
                                       __import__("transformers").AutoTokenizer.from_pretrained(tiny_model_dir))
        assert rendered["completion"].startswith(row["output"]) and rendered["label"] == row["label"]
    entry = json.loads((tmp_path / "dataset_info.json").read_text())["kto"]
    # LLaMA-Factory's KTO entry: alpaca columns plus the kto_tag column
    assert entry["columns"] == {**DOCUMENTED_COLUMNS["alpaca"], "kto_tag": "label"} and "formatting" not in entry
    # an unjudged example has no label to give: a clear error, nothing written
    write_records(tmp_path / "bare.jsonl", [Example(instruction="Say hi.", output="Hi!")])
    code, _, err = run_cli("curate", "export", str(tmp_path / "bare.jsonl"), "-o", str(tmp_path / "bare_kto.jsonl"),
                           "-f", "kto")
    assert code == 1 and "bare.jsonl: record 1 (id " in err and "meta.judge.score" in err and not (tmp_path / "bare_kto.jsonl").exists()


def test_trls_kto_trainer_takes_the_export(tmp_path, tiny_model_dir):
    kto = pytest.importorskip("trl.experimental.kto", reason="TRL without its KTO trainer")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curate.records import Preference

    records = [Preference(instruction=f"Say {w}", chosen=w, rejected="no") for w in ("apple", "river", "stone")]
    write_records(tmp_path / "in.jsonl", records)
    export(tmp_path / "in.jsonl", tmp_path / "kto.jsonl", ExportConfig(format="kto"))
    dataset = Dataset.from_list(load_back(tmp_path / "kto.jsonl"))
    args = kto.KTOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2,
                         report_to="none", save_strategy="no", bf16=False, logging_steps=1)
    trainer = kto.KTOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir), args=args,
                             train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    trainer.train()
    assert any("loss" in entry for entry in trainer.state.log_history)


def test_every_format_is_covered():
    assert set(FORMATS) == set(EXAMPLE_FORMATS) | set(PREFERENCE_FORMATS) | {"text", "kto"}  # text: test_augment.py
    assert dataset_info_entry("alpaca", False, "x.json")["file_name"] == "x.json"
