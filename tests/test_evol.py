import json

import pytest

from curate.generate.evol_instruct import (OPERATIONS, EvolConfig, choose_operation, elimination_rule,
                                          evol_instruct)
from curate.io import read_records


def config(server, **changes):
    options = {"base_url": server.url, "no_cache": True, "rounds": 3, "concurrency": 4, "max_retries": 4,
               "timeout": 2.0}
    return EvolConfig(**(options | changes))


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_root(records):
    lineages = {}
    for record in records:
        lineages.setdefault(record.meta["evol"]["root"], []).append(record)
    return lineages


def test_evolution_provenance_and_every_elimination_rule(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "rejects.jsonl"
    summary = evol_instruct(seeds_file, out, config(server), rejects)
    kept = list(read_records(out))
    seeds = [r for r in kept if r.meta["evol"]["round"] == 0]
    assert len(seeds) == 8 and all(r.output for r in kept)  # the seeds are kept, and everything is answered
    # 4 clean lineages survive every round; the marked ones never get past round 0
    lineages = by_root(kept)
    survivors = {seed.instruction.split()[0]: len(lineages[seed.id]) for seed in seeds}
    assert survivors == {"Write": 4, "Explain": 4, "Suggest": 4, "Describe": 4,
                         "EQUAL": 1, "SORRY": 1, "STOPWORDS": 1, "LEAK": 1}
    for lineage in lineages.values():
        for parent, child in zip(lineage, lineage[1:]):
            evol = child.meta["evol"]
            assert evol["parent"] == parent.id and evol["round"] == parent.meta["evol"]["round"] + 1
            assert evol["operation"] in OPERATIONS and child.meta["root"] == lineage[0].id
            assert parent.instruction in child.instruction  # the scripted model extends its parent
            assert not child.instruction.startswith("#")  # the answer label is cut
    removed = rows(rejects)
    rules = {r["instruction"].split()[0]: r["meta"]["rejected"]["reason"] for r in removed}
    assert rules == {"EQUAL": "equal_to_parent", "SORRY": "short_sorry_response",
                     "STOPWORDS": "empty_response", "LEAK": "copies_prompt_template"}
    assert len(removed) == 4 * 3  # each marked lineage fails all 3 rounds
    for row in removed:  # a failed evolution keeps its parent: every round evolves the seed again
        assert row["meta"]["evol"]["parent"] == row["meta"]["evol"]["root"]
        assert row["meta"]["evol"]["rule"] == row["meta"]["rejected"]["reason"]
    assert summary.written == len(kept) and sum(summary.dropped.values()) == 12


def test_operations_are_drawn_by_weight_and_reproducibly():
    uniform = EvolConfig(no_cache=True)
    draws = [choose_operation(uniform, f"root{i}", 1) for i in range(600)]
    assert set(draws) == set(OPERATIONS)
    assert all(60 < draws.count(op) < 140 for op in OPERATIONS)  # ~100 each
    assert draws == [choose_operation(uniform, f"root{i}", 1) for i in range(600)]
    only = EvolConfig(no_cache=True, op_weights="deepen=1")
    assert {choose_operation(only, f"r{i}", 2) for i in range(50)} == {"deepen"}
    with pytest.raises(ValueError, match="unknown operation"):
        EvolConfig(op_weights="deepn=1")


@pytest.mark.parametrize("evolved, response, judgement, rule", [
    ("Rewrite it per the #Given Prompt#.", "A fine answer.", "Not Equal", "copies_prompt_template"),
    ("Explain X in depth.", "A fine answer.", "Equal", "equal_to_parent"),
    ("Explain X in depth.", "Sorry, I can't do that.", "Not Equal", "short_sorry_response"),
    ("Explain X in depth.", "对不起，我无法回答。", "Not Equal", "short_sorry_response"),
    ("Explain X in depth.", "The, of; and!", "Not Equal", "empty_response"),
    ("Explain X in depth.", "", "Not Equal", "empty_response"),
    ("Explain X in depth.", "Sorry for the wait! " + "word " * 90, "Not Equal", None),  # long: not a refusal
    ("Explain X in depth.", "X is a thing.", "Not Equal", None),
])
def test_elimination_rules(evolved, response, judgement, rule):
    assert elimination_rule(evolved, response, judgement) == rule


def test_rerun_resumes_without_new_requests(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "rejects.jsonl"
    evol_instruct(seeds_file, out, config(server, rounds=2), rejects)
    first = out.read_text()
    server.reset()
    summary = evol_instruct(seeds_file, out, config(server, rounds=2), rejects)
    assert server.payloads == [] and out.read_text() == first
    assert summary.written == 0 and summary.resumed == 8 * 3
    # one more round continues the surviving lineages from where they are
    summary = evol_instruct(seeds_file, out, config(server, rounds=3), rejects)
    assert summary.written == 4
    new = [r for r in read_records(out) if r.meta["evol"]["round"] == 3]
    assert len(new) == 4 and all(p["messages"][0]["content"] for p in server.payloads)
    ids = [r.id for r in read_records(out)]
    assert len(ids) == len(set(ids))


def test_faults_lose_no_record(server, seeds_file, tmp_path):
    clean = tmp_path / "clean.jsonl"
    evol_instruct(seeds_file, clean, config(server))
    server.reset()
    server.hang_seconds = 3
    faults = ["429", "500", "hang", "malformed", "drop", "bad_shape"]
    server.fault = lambda payload, count: faults[count % len(faults)] if count % 3 == 0 else None
    faulty = tmp_path / "faulty.jsonl"
    summary = evol_instruct(seeds_file, faulty, config(server, timeout=0.5), tmp_path / "rejects.jsonl")
    assert not summary.failed
    assert sorted(r.id for r in read_records(faulty)) == sorted(r.id for r in read_records(clean))


def test_failed_requests_are_recorded_then_retried_on_rerun(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "evol.jsonl", tmp_path / "rejects.jsonl"
    broken = "hash table"
    server.fault = lambda payload, count: "500" if broken in json.dumps(payload) and "#Given" in json.dumps(payload) else None
    summary = evol_instruct(seeds_file, out, config(server, max_retries=1), rejects)
    assert summary.failed == {"http_500": 3}
    failed = [r for r in rows(rejects) if r["meta"]["rejected"]["reason"] == "failed:http_500"]
    assert len(failed) == 3 and all(broken in r["instruction"] for r in failed)
    server.fault = lambda payload, count: None
    summary = evol_instruct(seeds_file, out, config(server), rejects)
    assert summary.written == 3 and not summary.failed
    lineage = [r for r in read_records(out) if broken in r.instruction]
    assert [r.meta["evol"]["round"] for r in lineage] == [0, 1, 2, 3]


def test_chinese_prompts(server, seeds_file, tmp_path):
    evol_instruct(seeds_file, tmp_path / "zh.jsonl", config(server, rounds=1, lang="zh"))
    evolve_prompts = [p for p in server.prompts() if "#Given Prompt#" in p]
    assert evolve_prompts and all("改写" in p or "创作" in p for p in evolve_prompts)


def test_cli_with_yaml_config(server, seeds_file, tmp_path, run_cli):
    settings = tmp_path / "evol.yaml"
    settings.write_text(f"base_url: {server.url}\nrounds: 1\nno-cache: true\nconcurrency: 3\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(out), "--config", str(settings),
                           "--rounds", "2")
    assert code == 0, err
    assert max(r.meta["evol"]["round"] for r in read_records(out)) == 2  # the flag beats the file
    assert "dropped: equal_to_parent" in err and "requests" in err
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(tmp_path / "x.jsonl"),
                           "--config", str(settings), "--concurrency", "0")
    assert code == 2 and "--concurrency: Input should be greater than or equal to 1" in err


def test_generating_stages_need_a_jsonl_journal(server, seeds_file, tmp_path, run_cli):
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(tmp_path / "out.json"),
                           "--base-url", server.url, "--no-cache")
    assert code == 2 and "writes one .jsonl file" in err


@pytest.mark.parametrize("judgement, equal", [
    ("Equal", True), ("equal.", True), ("Not Equal", False), ("NOT EQUAL", False), ("Unequal", False),
    ("相同", True), ("不相同", False), ("不同", False), ("两者一样", True), ("Not Equal. They differ.", False),
    ("Equal (not equal in length, but the same task)", True), ("I cannot tell", False),
])
def test_equality_verdicts_in_both_languages(judgement, equal):
    from curate.generate.evol_instruct import is_equal

    assert is_equal(judgement) is equal


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_in_depth_prompts_ask_for_10_to_20_added_words(lang):
    from curate.prompts import render

    for operation in ("add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input"):
        text = render(f"evol/{operation}", None, lang, instruction="Sort a list.")
        assert ("Add 10 to 20 words" if lang == "en" else "增加 10 到 20 个词") in text
        assert "no more than" not in text and "最多" not in text  # the lower bound is not dropped


def test_equality_prompt_is_in_our_own_words():
    from curate.prompts import render

    text = render("evol/equal", None, "en", first="A", second="B")
    # the paper's wording (typo included) is gone; its two criteria and one-word answer stay
    assert "requirments" not in text and "Here are two Instructions to ChatGPT AI" not in text
    assert "constraints and requirements" in text and "deeply and just as broadly" in text
    assert "Equal or Not Equal" in text


def test_evolutions_keep_the_input_field_and_the_history(server, tmp_path):
    seeds = [{"instruction": "Summarise the text.", "input": "Rivers carry water to the sea.",
              "history": [["Hi, can you help with reading?", "Of course."]], "system": "Be brief."}]
    (tmp_path / "seeds.json").write_text(json.dumps(seeds))
    out = tmp_path / "evol.jsonl"
    evol_instruct(tmp_path / "seeds.json", out, config(server, rounds=2, op_weights="deepen=1"))
    evolved = [r for r in read_records(out) if r.meta["evol"]["round"] > 0]
    assert len(evolved) == 2
    for record in evolved:
        # the scripted model keeps the input word for word, so it stays its own field
        assert record.input == "Rivers carry water to the sea."
        assert record.input not in record.instruction and record.instruction.startswith("Summarise the text.")
        assert record.history == [("Hi, can you help with reading?", "Of course.")] and record.system == "Be brief."
    # the answer request carried the history and the input to the model
    answers = [p["messages"] for p in server.payloads if p["messages"][-1]["content"].startswith("Summarise")]
    assert answers and all(m[1]["content"] == "Hi, can you help with reading?" for m in answers)
    assert all(m[-1]["content"].endswith("\nRivers carry water to the sea.") for m in answers)


def test_a_rewrite_that_changes_the_input_folds_it_into_the_instruction():
    from curate.generate.evol_instruct import separate_input

    assert separate_input("Sort these numbers, showing each step:\n3 1 2", "3 1 2") == \
        ("Sort these numbers, showing each step:", "3 1 2")
    assert separate_input("Sort these numbers:\n3 1 2 Explain each step.", "3 1 2") == \
        ("Sort these numbers: Explain each step.", "3 1 2")
    assert separate_input("Sort these numbers, then the reversed list: 3 1 2 0", "3 1 2 5") == \
        ("Sort these numbers, then the reversed list: 3 1 2 0", "")
    assert separate_input("Write a poem.", "") == ("Write a poem.", "")


@pytest.mark.parametrize("evolved, parent_input", [
    ("Sort the list and return the top 3 elements.\n5 3 1", "3"),
    ('Translate the sentence "I like tea" into French, formally.', "I like tea"),
])
def test_an_input_quoted_inside_the_instruction_is_not_cut_out(evolved, parent_input):
    from curate.generate.evol_instruct import separate_input

    assert separate_input(evolved, parent_input) == (evolved, "")
