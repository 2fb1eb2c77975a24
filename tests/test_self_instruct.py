import json

import pytest

from curate.generate.novelty import MixedTokenizer, RougeIndex
from curate.generate.self_instruct import (SelfInstructConfig, parse_instances, parse_is_classification, parse_tasks,
                                           rejection_reason, self_instruct)
from curate.io import read_records


def config(server, **changes):
    options = {"base_url": server.url, "no_cache": True, "num_instructions": 12, "concurrency": 4,
               "max_retries": 3, "timeout": 2.0}
    return SelfInstructConfig(**(options | changes))


def test_parse_numbered_tasks():
    text = " Write a limerick about tea.\n10. Translate the menu into French.\n11) Sort these words.\n12. Explain the"
    assert parse_tasks(text, truncated=True, limit=8) == [
        "Write a limerick about tea.", "Translate the menu into French.", "Sort these words."]
    assert len(parse_tasks(text, truncated=False, limit=8)) == 4
    assert parse_tasks("9. a b c d\n10. e f g h", truncated=False, limit=1) == ["a b c d"]


@pytest.mark.parametrize("task, reason", [
    ("Say hi.", "too_short"),
    ("word " * 151, "too_long"),
    ("Draw a cat wearing a hat today.", "blacklisted_word"),
    ("Describe the music you like best.", "blacklisted_word"),
    ("Tell me how to go to the station.", "blacklisted_word"),
    ("描述一张你喜欢的图片里的内容。", "blacklisted_word"),
    ("- List three fruits that are red.", "starts_with_punctuation"),
    ("\x07List three fruits that are red.", "starts_unprintable"),
    ("List three fruits that are red.", None),
    ("Explain the mapping between keys and values.", None),  # "map" only as a whole word
    ("用三句话解释光合作用的过程。", None),
])
def test_heuristic_filters(task, reason):
    assert rejection_reason(task) == reason


def test_parse_instances_input_first():
    text = "Example 1\nInput: 25 °C\nOutput: 77 °F\nExample 2\nInput: 0 °C\nOutput: 32 °F\n\nTask: next task"
    assert parse_instances(text, output_first=False, truncated=False) == [("25 °C", "77 °F"), ("0 °C", "32 °F")]
    assert parse_instances("Output: Sleep more.", False, False) == [("", "Sleep more.")]
    assert parse_instances("输入：你好\n输出：Hello", False, False) == [("你好", "Hello")]
    assert parse_instances(text, False, truncated=True) == [("25 °C", "77 °F")]


def test_parse_instances_output_first():
    text = "Class label: Positive\nInput: Loved it.\nClass label: Negative\nInput: Hated it.\nClass label: Neutral"
    assert parse_instances(text, output_first=True, truncated=False) == [
        ("Loved it.", "Positive"), ("Hated it.", "Negative"), ("", "Neutral")]


@pytest.mark.parametrize("answer, classification", [
    (" Yes", True), ("Yes, it is.", True), ("是", True), ("是的，这是分类任务", True),
    ("No.", False), ("maybe", False), ("不是", False), ("不是分类任务", False), ("否", False),
    ("Not a classification task", False), ("No, yes-or-no answers are not labels", False),
    ("Nope", False), ("Yesterday's task: no", False),
])
def test_parse_classification_answer(answer, classification):
    assert parse_is_classification(answer) is classification


def test_instance_filters_of_the_original_code():
    from curate.generate.self_instruct import screen_instances

    pairs = [("3 + 4", "7"), ("hello", "hello"), ("List them:", "a, b"), ("x", "The answer is:"),
             ("2 + 2", "4"), ("2 + 2", "5"), ("", "Free text.")]
    kept, dropped = screen_instances(pairs, classification=False)
    assert kept == [("3 + 4", "7"), ("", "Free text.")]
    assert {(i, reason) for i, _, reason in dropped} == {
        ("hello", "input_equals_output"), ("List them:", "ends_with_colon"), ("x", "ends_with_colon"),
        ("2 + 2", "conflicting_outputs")}
    assert sum(reason == "conflicting_outputs" for *_, reason in dropped) == 2  # both go
    # a class label with no input, where the other labels have one, is not an instance
    labels = [("Loved it.", "Positive"), ("Hated it.", "Negative"), ("", "Neutral")]
    kept, dropped = screen_instances(labels, classification=True)
    assert kept == labels[:2] and dropped == [("", "Neutral", "label_without_input")]
    assert screen_instances([("", "Yes")], classification=True) == ([("", "Yes")], [])


@pytest.mark.parametrize("task", ["Write a program that sorts a list of numbers.", "编写一个程序，计算两个数的和。"])
def test_write_a_program_tasks_are_dropped(task):
    assert rejection_reason(task) == "write_a_program"
    assert rejection_reason("Explain how to write a program that sorts numbers.") is None


def test_rouge_index_matches_rouge_score_pair_by_pair():
    from rouge_score import rouge_scorer

    import random

    rng = random.Random(1)
    words = "write explain list the a of to poem story code sort numbers why how 光 合 作 用 解 释".split()
    pool = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(1500)]
    index = RougeIndex(0.7, block_rows=64)
    for text in pool:
        index.add(text)
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=MixedTokenizer())
    for _ in range(40):
        query = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        best = max(scorer.score(text, query)["rougeL"].fmeasure for text in pool)
        score, where, bound = index.most_similar(query)
        assert (best > 0.7) == (score > 0.7)
        assert bound >= best - 1e-9  # no pool text scores above the bound
        if best > 0.7:
            assert score == pytest.approx(best) and scorer.score(pool[where], query)["rougeL"].fmeasure == score
            assert bound == pytest.approx(best)  # above the threshold the bound is the exact maximum


def test_chinese_is_scored_by_character():
    index = RougeIndex()
    index.add("用一句话解释光合作用")
    assert index.too_similar("用一句话解释光合作用。") and not index.too_similar("写一首关于秋天的诗")


def test_self_instruct_end_to_end(server, seeds_file, tmp_path):
    out, rejects = tmp_path / "tasks.jsonl", tmp_path / "rejects.jsonl"
    # one request at a time, so that later requests see machine-written tasks
    summary = self_instruct(seeds_file, out, config(server, num_instructions=20, concurrency=1), rejects)
    records = list(read_records(out))
    tasks = list(dict.fromkeys(r.instruction for r in records))
    assert len(tasks) == 20 and summary.written == len(records)
    seeds = json.loads(seeds_file.read_text())
    assert not set(tasks) & set(seeds)  # seeds are prompt material, not output
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=MixedTokenizer())
    rouge = lambda a, b: scorer.score(a, b)["rougeL"].fmeasure  # noqa: E731
    for number, task in enumerate(tasks):  # one request at a time: the pool grew in this order
        info = next(r.meta["self_instruct"] for r in records if r.instruction == task)
        true_max = max(rouge(other, task) for other in [*seeds, *tasks[:number]])
        assert true_max <= info["rouge_bound"] + 1e-4 and info["rouge_bound"] <= 0.7
    for record in records:
        info = record.meta["self_instruct"]
        assert record.output and isinstance(info["request"], int)
        if info["is_classification"]:  # output-first: the output is a class label
            assert record.output in ("Positive", "Negative") and record.input
    assert any(r.meta["self_instruct"]["is_classification"] for r in records)
    removed = [json.loads(line) for line in rejects.read_text().splitlines()]
    reasons = {row["meta"]["rejected"]["reason"] for row in removed}
    assert {"blacklisted_word", "too_short", "rouge_similar"} <= reasons
    for row in removed:  # a near copy: dropped with the exact score of the pool task it copies
        if row["meta"]["rejected"]["reason"] == "rouge_similar":
            info = row["meta"]["self_instruct"]
            assert info["rouge_bound"] > 0.7
            assert info["rouge_bound"] == pytest.approx(rouge(info["most_similar"], row["instruction"]), abs=1e-4)
    # each request shows 8 tasks: all seeds at first, then 6 seeds + 2 machine-written ones
    generate = [p for p in server.prompts() if p.startswith("Come up with a series")]
    shown = [[line for line in p.splitlines() if line[:1].isdigit() and ". " in line][:8] for p in generate]
    assert all(len(lines) == 8 for lines in shown)
    assert all(line.split(". ", 1)[1] in seeds for line in shown[0])
    later = shown[1:]
    assert later and all(sum(line.split(". ", 1)[1] in seeds for line in lines) == 6 for lines in later)


def test_self_instruct_resumes(server, seeds_file, tmp_path):
    out = tmp_path / "tasks.jsonl"
    self_instruct(seeds_file, out, config(server, num_instructions=6))
    first = out.read_text()
    server.reset()
    summary = self_instruct(seeds_file, out, config(server, num_instructions=6))
    assert server.payloads == [] and out.read_text() == first and summary.resumed == 6
    summary = self_instruct(seeds_file, out, config(server, num_instructions=9))
    tasks = list(dict.fromkeys(r.instruction for r in read_records(out)))
    assert len(tasks) == 9 and out.read_text().startswith(first)


def test_self_instruct_stops_when_the_model_only_repeats(server, seeds_file, tmp_path):
    server.reply = lambda prompt, seed: "1. Write a haiku about autumn leaves.\n2. Explain what a hash table is."
    summary = self_instruct(seeds_file, tmp_path / "t.jsonl", config(server, max_barren=5))
    assert "requests in a row gave no new task" in summary.stopped and summary.written == 0
