import json

import pytest
from pydantic import ValidationError

from curate.filters.judge import JudgeConfig, judge, parse_score
from curate.filters.quality import FilterConfig, QualityFilter, filter_records
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example, Preference


@pytest.mark.parametrize("instruction, output, reason", [
    ("Give three tips for staying healthy.", "Eat well, sleep enough and move every day.", None),
    ("", "Something.", "empty_instruction"),
    ("Hi", "Hello there, how can I help?", "short_instruction"),
    ("Explain why the sky is blue.", "", "empty_output"),
    ("Repeat after me: the sky is blue.", "the sky is blue", "output_in_instruction"),
    ("Is this review positive or negative? 'Loved it.'", "Positive", None),  # a label, not a copy
    ("Explain how vaccines work in simple terms.", "As an AI language model, I cannot do that.", "refusal"),
    ("Explain how vaccines work in simple terms.", "I'm sorry, but I can't help with that.", "refusal"),
    ("请用简单的话解释疫苗的原理。", "抱歉，我无法回答这个问题。", "refusal"),
    ("Explain how vaccines work in simple terms.", "ok @@@ ### $$$ %%% ^^^ &&& *** ~~~ ||| <<< >>>", "non_text"),
    ("Explain how vaccines work in simple terms.", "the body learns " * 30, "repetitive"),
    ("Write a Python function that sorts a list.", "def sort_list(xs):\n    return sorted(xs)", None),
    ("请用简单的话解释疫苗的原理。", "疫苗让免疫系统提前认识病原体，以后遇到时能更快地消灭它。", None),
])
def test_heuristics(instruction, output, reason):
    assert QualityFilter()(Example(instruction=instruction, output=output)) == reason


def test_labels_made_of_symbols_are_answers():
    # on T0 the symbol check dropped every 3- to 5-star answer of a rating task and kept the 1s
    # and 2s; without a trailing token, stars alone counted as no words (walk-through)
    rate = "Rate this review from one to five stars: 'good very nice'"
    for answer in ("★★★★★", "★★★★★<|endoftext|>", "★", "🎉🎂🥳", "→ → ← ↑"):
        assert QualityFilter()(Example(instruction=rate, output=answer)) is None, answer
    assert QualityFilter()(Example(instruction=rate, output="...")) == "short_output"


def test_bounds_out_of_order_are_refused():
    with pytest.raises(ValidationError, match="--min-instruction-words 10 is above --max-instruction-words 5"):
        FilterConfig(min_instruction_words=10, max_instruction_words=5)


def test_the_blacklist_is_asked_for_not_on_by_default():
    # on real prompts it dropped a quarter of T0 ("Movie plot:", "music", "video")
    plot = Example(instruction="Movie plot: a boy finds a dog. What is the dog's name?", output="Rex")
    assert QualityFilter()(plot) is None
    drawing = Example(instruction="Draw a picture of a cat sleeping.", output="Here is a description of a cat.")
    assert QualityFilter()(drawing) is None
    assert QualityFilter(FilterConfig(blacklist=True))(drawing) == "blacklisted_word"


def test_long_refusals_and_thresholds_are_configurable():
    long_answer = "I'm sorry, but " + " ".join(f"point{i} explains tide number {i}." for i in range(20))
    assert QualityFilter()(Example(instruction="Explain the tides to me.", output=long_answer)) is None
    strict = QualityFilter(FilterConfig(max_output_words=10, blacklist=False))
    assert strict(Example(instruction="Explain the tides to me.", output="word " * 11)) == "long_output"
    assert strict(Example(instruction="Draw a map of the tides.", output="A description.")) is None


def test_preferences_are_checked_on_their_best_answer():
    refused = Preference(instruction="Explain the tides to me.", responses=["As an AI language model, no.", "ok"],
                         ranking=[0, 1])
    assert QualityFilter()(refused) == "refusal"


def test_filter_stage_writes_kept_and_rejects(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Give three tips for sleep.", output="Dark room, no screens, routine."),
                        Example(instruction="Hi", output="Hello!")])
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "out.jsonl"),
                           "--rejects", str(tmp_path / "rej.jsonl"), "--no-blacklist")
    assert code == 0, err
    assert [r.instruction for r in read_records(tmp_path / "out.jsonl")] == ["Give three tips for sleep."]
    [removed] = read_records(tmp_path / "rej.jsonl")
    assert removed.meta["rejected"] == {"stage": "filter", "reason": "short_instruction"}
    summary = filter_records(src, tmp_path / "again.jsonl")
    assert (summary.read, summary.written, dict(summary.dropped)) == (2, 1, {"short_instruction": 1})


@pytest.mark.parametrize("text, score", [
    ("Clear and complete.\nScore: 4", 4), ("Score: 2 at first... on reflection\nScore: 5", 5),
    ("**Score:** 3", 3), ("理由：回答完整。\n评分：5", 5), ("Reasoning.\n4", 4), ("Rating: 5 out of 5", 5),
    ("no score at all", None), ("Score: 7", None), ("", None),
])
def test_score_parsing(text, score):
    assert parse_score(text) == score


def judged_replies(prompt, seed):
    """The scripted judge: scores come from a marker in the answer being rated."""
    answer = prompt.split("Answer:", 1)[1]
    if "GARBLED" in answer:
        return "I cannot decide." if seed == 0 else "Still no number."
    if "SECOND" in answer:  # unparseable at first, fine on the retry
        return "Hmm." if seed == 0 else "Good.\nScore: 5"
    return "Weak.\nScore: 2" if "WEAK" in answer else "Solid.\nScore: 4"


def test_judge_keeps_high_scores_and_never_guesses(server, tmp_path):
    server.reply = judged_replies
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    write_records(src, [Example(instruction=f"Task {i}", output=answer)
                        for i, answer in enumerate(["fine", "WEAK one", "GARBLED", "SECOND try"])])
    config = JudgeConfig(base_url=server.url, no_cache=True, concurrency=2, structured=False)  # the text path
    summary = judge(src, out, config, rejects)
    kept = {r.output: r.meta["judge"] for r in read_records(out)}
    assert {k: v["score"] for k, v in kept.items()} == {"fine": 4, "SECOND try": 5}
    assert kept["fine"]["reason"] == "Solid." and kept["fine"]["model"] == "scripted-model"
    removed = {r.output: r.meta for r in read_records(rejects)}
    assert removed["WEAK one"]["rejected"]["reason"] == "score_below_4" and removed["WEAK one"]["judge"]["score"] == 2
    assert removed["GARBLED"]["rejected"]["reason"] == "failed:unparseable_score"
    assert removed["GARBLED"]["judge"] == {"raw": "Still no number."}
    assert summary.failed == {"unparseable_score": 1}
    garbled = [p for p in server.payloads if "GARBLED" in json.dumps(p)]
    assert len(garbled) == 2  # asked once more, then recorded as a failure
    server.payloads.clear()
    judge(src, out, config, rejects)  # resumed: the kept ones are not asked again
    assert not [p for p in server.payloads if "fine" in p["messages"][0]["content"].split("Answer:")[1]]


def test_judge_asks_for_a_json_score_through_response_format(server, tmp_path):
    write_records(tmp_path / "in.jsonl", [Example(instruction=f"Task {i}", output=answer)
                                          for i, answer in enumerate(["fine", "WEAK one"])])
    judge(tmp_path / "in.jsonl", tmp_path / "out.jsonl", JudgeConfig(base_url=server.url, no_cache=True),
          tmp_path / "rej.jsonl")
    formats = [p.get("response_format") for p in server.payloads]
    assert len(formats) == 2 and all(f["type"] == "json_schema" for f in formats)
    schema = formats[0]["json_schema"]["schema"]
    assert schema["required"] == ["reason", "score"] and schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert "JSON object" in server.payloads[0]["messages"][0]["content"]
    [kept] = read_records(tmp_path / "out.jsonl")
    assert kept.meta["judge"]["score"] == 4 and kept.meta["judge"]["reason"] == "Clear and complete."
    [low] = read_records(tmp_path / "rej.jsonl")
    assert low.meta["judge"]["score"] == 2 and low.meta["rejected"]["reason"] == "score_below_4"


def test_a_server_without_response_format_is_asked_in_text_after_its_first_refusal(server, tmp_path):
    server.reject_response_format = True
    write_records(tmp_path / "in.jsonl", [Example(instruction=f"Task {i}", output="fine") for i in range(6)])
    summary = judge(tmp_path / "in.jsonl", tmp_path / "out.jsonl",
                    JudgeConfig(base_url=server.url, no_cache=True, concurrency=1))
    structured = [p for p in server.payloads if "response_format" in p]
    assert len(structured) == 1  # found out once per run, not once per record
    assert len(server.payloads) == 1 + 6 and not summary.failed
    assert [r.meta["judge"]["score"] for r in read_records(tmp_path / "out.jsonl")] == [4] * 6
    assert all("Score: N" in p["messages"][0]["content"] for p in server.payloads[1:])


def test_a_400_for_another_reason_is_a_failure_not_a_fallback(server, tmp_path):
    server.fault = lambda payload, count: "400"  # "bad request", nothing about response_format
    write_records(tmp_path / "in.jsonl", [Example(instruction="Task", output="fine")])
    summary = judge(tmp_path / "in.jsonl", tmp_path / "out.jsonl",
                    JudgeConfig(base_url=server.url, no_cache=True, allow_failures=True))
    assert summary.failed == {"http_400": 1} and len(server.payloads) == 1


def test_judge_prompt_in_chinese(server, tmp_path):
    server.reply = lambda prompt, seed: "很好。\nScore: 5"
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="解释光合作用", output="植物利用光能制造有机物。")])
    judge(src, tmp_path / "out.jsonl", JudgeConfig(base_url=server.url, no_cache=True, lang="zh"))
    assert "评价" in server.payloads[0]["messages"][0]["content"]
    assert [r.meta["judge"]["score"] for r in read_records(tmp_path / "out.jsonl")] == [5]


def test_the_fast_ascii_word_count_is_the_regex_count():
    import random
    import string

    from curate.text import word_count, words_of

    rng = random.Random(0)
    alphabet = string.ascii_letters[:6] + string.digits[:4] + " _-.,!\t\n'"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    assert [word_count(t) for t in texts] == [len(words_of(t)) for t in texts]
    assert word_count("GPT4 has 3rd-party plugins") == 7 and word_count("用一句话 explain 光合作用") == 9


def test_judge_candidates_rates_each_one_for_rank(server, tmp_path):
    server.reply = judged_replies
    src, out, rejects = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    write_records(src, [
        Example(instruction="Task A", output="fine", meta={"responses": {"candidates": ["fine", "WEAK one", "ok"]}}),
        Example(instruction="Task B", output="WEAK", meta={"responses": {"candidates": ["WEAK", "WEAK too"]}}),
        Example(instruction="Task C", output="x", meta={"responses": {"candidates": ["x", "GARBLED"]}}),
        Example(instruction="Task D", output="alone")])
    config = JudgeConfig(base_url=server.url, no_cache=True, concurrency=2, structured=False, candidates=True)
    summary = judge(src, out, config, rejects)
    (kept,) = read_records(out)
    assert kept.instruction == "Task A" and kept.meta["judge"]["candidates"] == [4, 2, 4]
    assert kept.meta["judge"]["reasons"] == ["Solid.", "Weak.", "Solid."]
    reasons = {r.instruction: r.meta["rejected"]["reason"] for r in read_records(rejects)}
    assert reasons == {"Task B": "score_below_4", "Task C": "failed:unparseable_score", "Task D": "no_candidates"}
    assert summary.written == 1
