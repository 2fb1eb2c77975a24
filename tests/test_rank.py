import pytest

from curate.io import read_records
from curate.sinks import write_records
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
    # a NaN score is written as null: sorting by it crashed the run (review find)
    (scored([0.5, None], texts=("a", "b")), RankConfig(), "unscored"),
    (scored([0.5, float("nan")], texts=("a", "b")), RankConfig(kind="pairs"), "unscored"),
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


def judged(scores, texts=("a", "b", "c")):
    return Example(instruction="q", meta={"responses": {"candidates": list(texts)}, "judge": {"candidates": scores}})


def test_judge_scores_rank_candidates_when_asked():
    ranking, reason = rank_record(judged([3, 5, 2]), RankConfig(kind="ranking", scores="judge"))
    assert reason is None and ranking.ranked_responses() == ["b", "a", "c"]
    assert rank_record(judged([3, 5, 2]), RankConfig(kind="ranking"))[1] == "unscored"  # reward scores by default


@pytest.mark.parametrize("kind", ["pairs", "ranking"])
def test_candidates_that_all_scored_the_same_give_no_preference(kind):
    assert rank_record(judged([4, 4, 4]), RankConfig(kind=kind, scores="judge"))[1] == "all_tied"
    best, reason = rank_record(judged([4, 4, 4]), RankConfig(kind="best", scores="judge"))
    assert reason is None and best.output == "a"


def test_tied_candidates_share_a_rank_in_the_reward_model_rows(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    from train.rm import ranking_rows

    ranking, _ = rank_record(judged([4, 5, 4, 2], texts=("a", "b", "c", "d")), RankConfig(kind="ranking",
                                                                                       scores="judge"))
    assert ranking.ranked_responses() == ["b", "a", "c", "d"]
    (row,) = ranking_rows([ranking], AutoTokenizer.from_pretrained(tiny_tokenizer_dir), 64)
    assert row["ranks"] == [0, 1, 1, 3]  # a and c tie: the loss compares neither with the other
    plain = Preference(instruction="q", responses=["x", "y", "z"], ranking=[2, 0, 1])
    assert ranking_rows([plain], AutoTokenizer.from_pretrained(tiny_tokenizer_dir), 64)[0]["ranks"] == [1, 2, 0]
