"""Backtranslation, teacher revision, mixing and pre-training text export."""

import json
from collections import Counter

import pytest

from curate.generate.backtranslate import BacktranslateConfig, backtranslate, trim
from curate.generate.revise import ReviseConfig, revise
from curate.io import read_records
from curate.sinks import write_records
from curate.mix import MixConfig, allocate, mix, parse_sources
from curate.records import Example


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trim_cuts_on_a_paragraph_boundary():
    text = "First paragraph here.\n\nSecond paragraph, longer than the first one.\n\nThird."
    assert trim(text, 1000) == (text, False)
    assert trim(text, 60) == ("First paragraph here.", True)
    assert trim("x" * 300, 120) == ("x" * 120, True)  # no boundary: cut at the limit
    assert trim("One sentence here. " * 10, 50) == ("One sentence here. One sentence here.", True)


def test_backtranslate(server, tmp_path, run_cli):
    docs = [{"body": f"Paragraph {i} about rivers and mountains.\n\n" + "More detail. " * 40} for i in range(5)]
    docs.append({"body": "UNANSWERABLE text that gets no instruction."})
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    code, _, err = run_cli("curate", "backtranslate", str(tmp_path / "docs.jsonl"), "-o", str(tmp_path / "bt.jsonl"),
                           "--field", "body", "--max-output-chars", "100", "--rejects", str(tmp_path / "rej.jsonl"),
                           "--base-url", server.url, "--no-cache")
    assert code == 0, err
    records = list(read_records(tmp_path / "bt.jsonl"))
    assert len(records) == 5
    for record in records:
        info = record.meta["backtranslate"]
        assert record.instruction.startswith("Explain this: Paragraph") and info["trimmed"] is True
        assert len(record.output) <= 100 and record.output.endswith("mountains.")  # the paragraph break
    assert [r.meta["rejected"]["reason"] for r in read_records(tmp_path / "rej.jsonl")] == ["no_instruction"]
    server.reset()
    summary = backtranslate(tmp_path / "docs.jsonl", tmp_path / "bt.jsonl",
                            BacktranslateConfig(field="body", max_output_chars=100, base_url=server.url, no_cache=True),
                            tmp_path / "rej.jsonl")
    assert server.payloads == [] and summary.resumed == 6  # resumed by document
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "fine"}\n{"title": "no body"}\n')
    code, _, err = run_cli("curate", "backtranslate", str(bad), "-o", str(tmp_path / "x.jsonl"), "--field", "body",
                           "--base-url", server.url, "--no-cache")
    assert code == 1 and "bad.jsonl:2: field 'body'" in err


def test_revise_builds_preferences_only_when_the_revision_scores_higher(server, tmp_path):
    server.models = ["teacher"]
    answered = [Example(instruction=f"Explain topic {i}.", output=f"Topic {i} is a thing.") for i in range(3)]
    answered.append(Example(instruction="NOFIX Explain gravity.", output="Things fall."))
    write_records(tmp_path / "answered.jsonl", answered)
    config = ReviseConfig(base_url="http://127.0.0.1:9/v1", teacher_base_url=server.url, teacher_model="teacher",
                          no_cache=True)
    summary = revise(tmp_path / "answered.jsonl", tmp_path / "pairs.jsonl", config, tmp_path / "rej.jsonl")
    pairs = list(read_records(tmp_path / "pairs.jsonl"))
    assert len(pairs) == 3 and summary.dropped == {"unchanged": 1}
    for pair in pairs:
        assert pair.chosen.startswith("IMPROVED:") and pair.rejected.endswith("is a thing.")
        assert pair.meta["revise"]["scores"] == {"revision": 5, "original": 4}
        assert pair.meta["revise"]["teacher"] == "teacher"
    assert {p["model"] for p in server.payloads} == {"teacher"}  # the student's server is never asked


def test_revise_drops_revisions_the_judge_does_not_prefer(server, tmp_path):
    server.reply = lambda prompt, seed: ("Fine.\nScore: 4" if "Rate how good" in prompt else "A different answer.")
    write_records(tmp_path / "answered.jsonl", [Example(instruction="Explain tides.", output="The moon.")])
    summary = revise(tmp_path / "answered.jsonl", tmp_path / "pairs.jsonl",
                     ReviseConfig(base_url=server.url, no_cache=True), tmp_path / "rej.jsonl")
    assert summary.dropped == {"not_better": 1}
    [dropped] = read_records(tmp_path / "rej.jsonl")
    assert dropped.meta["revise"]["scores"] == {"revision": 4, "original": 4}


def test_allocation_is_exact():
    assert allocate([0.7, 0.2, 0.1], 10) == [7, 2, 1] and sum(allocate([1 / 3] * 3, 100)) == 100


def test_mix_proportions_and_seed(tmp_path, run_cli):
    for name, size in (("a", 9000), ("b", 3000), ("c", 500)):
        write_records(tmp_path / f"{name}.jsonl", [Example(instruction=f"{name} {i}", output="x") for i in range(size)])
    specs = [f"{tmp_path / 'a.jsonl'}:0.7", f"{tmp_path / 'b.jsonl'}:0.2", f"{tmp_path / 'c.jsonl'}:0.1"]
    code, _, err = run_cli("curate", "mix", *specs, "--total", "10000", "-o", str(tmp_path / "mix.jsonl"),
                           "--seed", "3", "--replace")
    assert code == 0, err
    mixed = rows(tmp_path / "mix.jsonl")
    shares = Counter(row["meta"]["source"]["file"] for row in mixed)
    for name, weight in (("a.jsonl", 0.7), ("b.jsonl", 0.2), ("c.jsonl", 0.1)):
        assert abs(shares[name] / 10000 - weight) <= 0.01
    again, _ = mix(parse_sources(specs), tmp_path / "again.jsonl", MixConfig(total=10000, seed=3, replace=True))
    assert rows(tmp_path / "again.jsonl") == mixed
    mix(parse_sources(specs), tmp_path / "other.jsonl", MixConfig(total=10000, seed=4, replace=True))
    assert rows(tmp_path / "other.jsonl") != mixed
    code, _, err = run_cli("curate", "mix", *specs, "--total", "10000", "-o", str(tmp_path / "no.jsonl"))
    assert code == 2 and "--replace" in err and not (tmp_path / "no.jsonl").exists()  # c has only 500


@pytest.mark.parametrize("spec", ["a.jsonl", "a.jsonl:zero", "a.jsonl:-1"])
def test_bad_source_specs(spec):
    from curate.errors import UsageError

    with pytest.raises(UsageError, match="FILE:WEIGHT"):
        parse_sources([spec])


def test_text_export_plain_and_chat_template(tmp_path, examples, tiny_tokenizer_dir, run_cli):
    write_records(tmp_path / "in.jsonl", examples)
    code, _, err = run_cli("curate", "export", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "pt.jsonl"),
                           "--format", "text", "--dataset-info")
    assert code == 0, err
    texts = [row["text"] for row in rows(tmp_path / "pt.jsonl")]
    assert texts[1].startswith("You are a careful translator.") and "### Input:\nThe weather is nice." in texts[1]
    assert texts[2].index("Beau temps.") < texts[2].index("Das Wetter ist schön.")  # history first
    assert json.loads((tmp_path / "dataset_info.json").read_text())["pt"]["columns"] == {"prompt": "text"}
    code, _, err = run_cli("curate", "export", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "chat.jsonl"),
                           "--format", "text", "--tokenizer", str(tiny_tokenizer_dir))
    assert code == 0, err
    chat = rows(tmp_path / "chat.jsonl")[0]["text"]
    assert chat.startswith("<|im_start|>user\n") and chat.endswith(f"{examples[0].output}<|im_end|>\n")


def test_revise_cli_and_resume(server, tmp_path, run_cli):
    write_records(tmp_path / "answered.jsonl", [Example(instruction=f"Explain topic {i}.", output=f"Topic {i}.")
                                                for i in range(3)])
    argv = ["curate", "revise", str(tmp_path / "answered.jsonl"), "-o", str(tmp_path / "pairs.jsonl"),
            "--rejects", str(tmp_path / "rej.jsonl"), "--base-url", server.url, "--no-cache", "--lang", "zh"]
    code, _, err = run_cli(*argv)
    assert code == 0, err
    assert any("学生的回答" in p["messages"][0]["content"] for p in server.payloads)  # the Chinese prompt
    first = (tmp_path / "pairs.jsonl").read_text()
    server.payloads.clear()
    code, _, err = run_cli(*argv)
    assert code == 0 and server.payloads == [] and (tmp_path / "pairs.jsonl").read_text() == first
    assert "already done" in err
