import pytest

from curate.io import read_records, write_records
from curate.rank import RankConfig, rank, rank_record
from curate.records import Example, Preference


def scored(scores, texts=("a", "b", "c")):
    return Example(instruction="q", output=texts[0], user_id="u1",
                   meta={"responses": {"candidates": list(texts)}, "reward": {"candidates": scores}})


def test_best_pairs_and_ranking():
    record = scored([0.1, 2.0, -1.0])
    best, _ = rank_record(record, RankConfig(kind="best"))
    pair, _ = rank_record(record, RankConfig(kind="pairs"))
    ranking, _ = rank_record(record, RankConfig(kind="ranking"))
    assert isinstance(best, Example) and best.output == "b" and best.user_id == "u1"
    assert isinstance(pair, Preference) and (pair.chosen, pair.rejected, pair.margin) == ("b", "c", 3.0)
    assert ranking.ranked_responses() == ["b", "a", "c"] and ranking.meta["rank"]["scores"] == [2.0, 0.1, -1.0]
    assert best.meta["parent"] == record.id


@pytest.mark.parametrize("record, config, reason", [
    (scored([1.0, 1.1], texts=("a", "b")), RankConfig(kind="pairs", min_gap=0.5), "small_gap"),
    (scored([1.0], texts=("a",)), RankConfig(), "too_few_candidates"),
    (Example(instruction="q", meta={"responses": {"candidates": ["a", "b"]}}), RankConfig(), "unscored"),
])
def test_what_cannot_be_ranked_is_dropped_with_a_reason(record, config, reason):
    assert rank_record(record, config)[1] == reason


def test_cli(tmp_path, run_cli):
    write_records(tmp_path / "scored.jsonl", [scored([0.5, 0.9, 0.1]), scored([1.0, 1.0], texts=("x", "y"))])
    code, _, err = run_cli("curate", "rank", str(tmp_path / "scored.jsonl"), "-o", str(tmp_path / "pairs.jsonl"),
                           "--kind", "pairs", "--min-gap", "0.1", "--rejects", str(tmp_path / "rej.jsonl"))
    assert code == 0, err
    assert [(p.chosen, p.rejected) for p in read_records(tmp_path / "pairs.jsonl")] == [("b", "c")]
    assert [r.meta["rejected"]["reason"] for r in read_records(tmp_path / "rej.jsonl")] == ["small_gap"]
    summary = rank(tmp_path / "scored.jsonl", tmp_path / "best.jsonl")
    assert summary.written == 2
