"""curate report's data: summaries in flow order, the funnel, samples, pairs, and safe embedding."""

import json

import pytest

from curate.sinks import write_records
from curate.records import Example, Preference
from curate.report import collect, embedded_json, report
from curate.report_data import Sample, funnel_row, load_summaries


def summary(path, stage, files, **fields):
    data = {"stage": stage, "read": 0, "written": 0, "dropped": {}, "failed": {}, "totals": None,
            "counts": {}, "facts": {}, "files": {k: str(v) for k, v in files.items()}, **fields}
    path.write_text(json.dumps(data))
    return path


def test_stages_come_in_data_flow_order_whatever_their_start_times(tmp_path):
    a, b, c = (tmp_path / f"{n}.jsonl" for n in "abc")
    paths = [summary(tmp_path / "2.summary.json", "judge", {"input": b, "output": c}, started_at="2026-01-01T00:00:00"),
             summary(tmp_path / "1.summary.json", "dedup", {"input": a, "output": b}, started_at="2026-01-02T00:00:00")]
    assert [s["stage"] for s in load_summaries(paths)] == ["dedup", "judge"]


def test_the_funnel_counts_what_the_files_hold_for_a_resumable_stage():
    resumed = {"stage": "judge", "read": 10, "written": 2, "dropped": {"score_below_4": 1}, "failed": {},
               "totals": {"written": 7, "score_below_4": 2, "failed:timeout": 1}}
    row = funnel_row(resumed)
    assert (row["in"], row["out"], row["dropped"]) == (10, 7, 3)
    assert row["reasons"][0] == {"reason": "score_below_4", "count": 2, "share": 0.2}
    plain = funnel_row({"stage": "dedup", "read": 5, "written": 5, "dropped": {}, "failed": {}, "totals": None})
    assert (plain["out"], plain["dropped"], plain["reasons"], plain["share_dropped"]) == (5, 0, [], 0.0)


def test_a_sample_is_bounded_seeded_and_the_same_in_every_order():
    keys = [f"id{i}" for i in range(5000)]
    forward, backward = Sample(7, seed=3), Sample(7, seed=3)
    for key in keys:
        forward.offer(key, key)
    for key in reversed(keys):
        backward.offer(key, key)
    assert len(forward.items()) == 7 and forward.items() == backward.items()
    other = Sample(7, seed=4)
    for key in keys:
        other.offer(key, key)
    assert other.items() != forward.items()


def test_embedded_json_cannot_close_its_script_element():
    text = embedded_json({"instruction": "</script><script>alert(1)</script>\u2028"})
    assert "</" not in text and "<script" not in text and "\u2028" not in text
    assert json.loads(text) == {"instruction": "</script><script>alert(1)</script>\u2028"}


def test_preferences_examples_and_split_sizes_come_from_the_files(tmp_path):
    prefs = tmp_path / "pairs.jsonl"
    write_records(prefs, [Preference(instruction=f"q{i}", chosen=f"good {i}", rejected=f"bad {i}",
                                     meta={"revise": {"scores": [5, 3]}}) for i in range(3)])
    rejects = tmp_path / "rejects.jsonl"
    write_records(rejects, [Example(instruction=f"r{i}", meta={"rejected": {"stage": "revise", "reason": "not_better"}})
                            for i in range(8)])
    run = tmp_path / "run"
    run.mkdir()
    summary(run / "pairs.revise.summary.json", "revise", {"input": tmp_path / "in.jsonl", "output": prefs,
                                                         "rejects": rejects},
            read=11, totals={"written": 3, "not_better": 8})
    summary(run / "splits.split.summary.json", "split", {"input": prefs, "output": tmp_path / "splits"},
            read=3, written=3, counts={"split:train": 3, "split:validation": 0, "split:test": 0})
    data = collect([run])
    assert [row["stage"] for row in data["funnel"]] == ["revise", "split"]
    assert data["splits"] == {"train": 3, "validation": 0, "test": 0}  # the empty splits too, in order
    revise = data["stages"][0]
    assert len(revise["examples"]["not_better"]) == 5 and len(revise["kept_examples"]) == 3
    assert {p["chosen"] for p in data["preferences"]} == {"good 0", "good 1", "good 2"}
    assert all(p["scores"] == [5, 3] for p in data["preferences"])


def test_a_folder_without_summaries_is_a_clear_error(tmp_path, run_cli):
    code, _, err = run_cli("curate", "report", str(tmp_path), "-o", str(tmp_path / "report"))
    assert code == 2 and "no *.summary.json" in err and "--summary-json" in err
    assert not (tmp_path / "report" / "index.html").exists()


def test_summary_json_into_a_folder_names_each_stage_and_keeps_keys_out(tmp_path, run_cli, server):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Say hi", output="hi")])
    code, _, err = run_cli("curate", "judge", str(src), "-o", str(tmp_path / "judged.jsonl"), "--base-url",
                           server.url, "--api-key", "sk-secret-123", "--summary-json", str(tmp_path / "run"),
                           "--no-cache")
    assert code == 0, err
    written = (tmp_path / "run" / "judged.judge.summary.json").read_text()
    assert "sk-secret-123" not in written and "api_key" not in written
    data = json.loads(written)
    assert data["command"] == "judge" and data["config"]["base_url"] == server.url
    assert data["files"]["rejects"].endswith("judged.rejects.jsonl")  # the default rejects, named
    report([tmp_path / "run"], tmp_path / "report")
    assert "sk-secret" not in (tmp_path / "report" / "index.html").read_text()


@pytest.mark.parametrize("name", ["a.summary.json", "nothing-here"])
def test_missing_inputs_are_usage_errors(tmp_path, name):
    from curate.errors import UsageError

    with pytest.raises(UsageError):
        collect([tmp_path / name])


def test_credentials_in_urls_are_cut_from_the_settings():
    from curate.llm_config import LLMConfig
    from curate.run_manifest import public_settings

    settings = public_settings(LLMConfig(base_url="https://user:hunter2@example.com/v1", api_key="sk-1"))
    assert settings["base_url"] == "https://example.com/v1" and "api_key" not in settings


def test_not_a_number_in_a_record_does_not_blank_the_page(tmp_path):
    path = tmp_path / "scored.jsonl"
    path.write_text(json.dumps({"instruction": "q", "output": "a", "meta": {"reward": {"candidates": [float("nan"), 1.0]}}})
                    + "\n")
    text = embedded_json(collect([path]))
    assert "NaN" not in text.replace('"nan"', "") and json.loads(text)  # strict JSON, as JSON.parse reads it


def test_keys_in_url_query_strings_are_cut_too():
    from curate.run_manifest import public_settings
    from curate.llm_config import LLMConfig

    settings = public_settings(LLMConfig(base_url="https://a.example/v1?api-key=SECRET1,https://b.example/v1?key=S2"))
    assert settings["base_url"] == "https://a.example/v1,https://b.example/v1"


def test_a_rejects_file_alone_gets_its_funnel_row_and_examples(tmp_path):
    rejects = tmp_path / "rej.jsonl"
    write_records(rejects, [Example(instruction=f"r{i}", meta={"rejected": {"stage": "filter", "reason": "too_short"}})
                            for i in range(3)])
    final = tmp_path / "final.jsonl"
    write_records(final, [Example(instruction="kept", output="yes")])
    data = collect([final], rejects=[rejects])
    (row,) = data["funnel"]
    assert row["in"] is None and row["dropped"] == 3 and row["reasons"][0]["reason"] == "too_short"
    assert len(data["stages"][0]["examples"]["too_short"]) == 3


def test_a_rejects_file_of_two_stages_gives_each_its_own_examples(tmp_path):
    rejects = tmp_path / "rej.jsonl"
    write_records(rejects, [Example(instruction=f"f{i}", meta={"rejected": {"stage": "filter", "reason": "too_short"}})
                            for i in range(2)] +
                  [Example(instruction=f"d{i}", meta={"rejected": {"stage": "dedup", "reason": "near_duplicate"}})
                   for i in range(3)])
    final = tmp_path / "final.jsonl"
    write_records(final, [Example(instruction="kept", output="yes")])
    data = collect([final], rejects=[rejects])
    rows = {row["stage"]: (row, details) for row, details in zip(data["funnel"], data["stages"])}
    assert rows["filter"][0]["dropped"] == 2 and set(rows["filter"][1]["examples"]) == {"too_short"}
    assert rows["dedup"][0]["dropped"] == 3 and set(rows["dedup"][1]["examples"]) == {"near_duplicate"}
