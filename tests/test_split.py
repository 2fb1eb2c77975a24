import hashlib
import itertools
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.console import Console

from curate.errors import DataError, UsageError
from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example, Preference
from curate.filters.dedup import jaccard
from curate.split import Splitter, shingles, split
from curate.split_rules import DEFAULT_SPLITS, SplitConfig, assign_split
from tests.conftest import write_jsonl

SALT = "curate-split"
FAST = settings(max_examples=40, deadline=None, database=None)

# a long prompt, so that one changed word leaves word 5-gram Jaccard above 0.8
LONG = ("Write a detailed step by step guide for a beginner who wants to bake sourdough bread at home, "
        "covering how to feed the starter, how long to let the dough rise in a cold kitchen, how to shape "
        "the loaf without tearing it, and how to tell from the crust and the sound of the bottom when the "
        "bread is ready to come out of the oven")
LONG_ZH = ("请为第一次在家烤酸面包的新手写一份详细的分步指南，"
           "说明如何喂养酵头、在寒冷的厨房里面团需要发酵多久、"
           "如何整形而不撕破面团，"
           "以及如何通过面包皮的颜色和敲击底部的声音判断面包已经烤好")


def user_in(name, splits=DEFAULT_SPLITS, prefix="user"):
    """The first user id of the form prefix0, prefix1, ... that hashes into split `name`."""
    return next(f"{prefix}{i}" for i in itertools.count() if assign_split(f"{prefix}{i}", splits, SALT) == name)


def placement(outputs):
    """user -> the one split its records are in (fails if any user is in two)."""
    where = {}
    for name, records in outputs.items():
        for record in records:
            assert where.setdefault(record.user_id, name) == name, f"{record.user_id} in two splits"
    return where


def record_list(prefix="u", users=25, max_size=80):
    pair = st.tuples(st.integers(0, users - 1), st.integers(0, 40))
    return st.lists(pair, max_size=max_size).map(
        lambda pairs: [Example(instruction=f"task {n} of {prefix}{u}", output=f"answer {n}", user_id=f"{prefix}{u}")
                       for u, n in pairs])


def contents(outputs):
    return {name: sorted(r.model_dump_json() for r in records) for name, records in outputs.items()}


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("given_, expected", [
    ("0.8,0.1,0.1", {"train": 0.8, "validation": 0.1, "test": 0.1}),
    ("train=0.9, test=0.1", {"train": 0.9, "test": 0.1}),
    ([0.7, 0.2, 0.1], {"train": 0.7, "validation": 0.2, "test": 0.1}),
    ({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}),
    ("all=1", {"all": 1.0}),
])
def test_splits_are_parsed(given_, expected):
    assert SplitConfig(splits=given_).splits == expected


@pytest.mark.parametrize("bad, message", [
    ("0.8,0.1", "three shares"),
    ("train=0.8,test=0.1", "sum to 1"),
    ("train=1.1,test=-0.1", "> 0"),
    ("train=1,test=0", "> 0"),
    ("train=x,test=0.5", "not a number"),
    ("train=0.5,train=0.5", "named twice"),
    ("../up=0.5,test=0.5", "names a file"),
    ({}, "at least one"),
])
def test_bad_splits_are_refused(bad, message):
    with pytest.raises(ValidationError, match=message):
        SplitConfig(splits=bad)


def test_config_fields():
    assert SplitConfig().splits == DEFAULT_SPLITS and SplitConfig().max_per_user == 200
    assert SplitConfig(max_per_user=0).max_per_user is None  # the CLI's way to say "no cap"
    assert SplitConfig(by="meta.source.user").by == "meta.source.user"
    for bad in ("userid", "meta", "meta.", "meta..x", "user_id.x"):
        with pytest.raises(ValidationError):
            SplitConfig(by=bad)
    with pytest.raises(ValidationError):
        SplitConfig(surprise=1)
    assert all(f.description for f in SplitConfig.model_fields.values())


def test_config_reaches_the_cli_as_strings(tmp_path):
    from curate.cli_config import config_options, load_config

    assert [param.name for param in config_options(SplitConfig)] == list(SplitConfig.model_fields)
    yaml_file = tmp_path / "split.yaml"
    yaml_file.write_text("splits: [0.9, 0.05, 0.05]\nmissing: drop\n")
    config = load_config(SplitConfig, yaml_file, {"max_per_user": 0, "by": "meta.source.user"})
    assert (config.splits["train"], config.missing, config.max_per_user, config.by) == (0.9, "drop", None,
                                                                                        "meta.source.user")
    config = load_config(SplitConfig, None, {"splits": "train=0.9,test=0.1", "leak_threshold": 0.9})
    assert config.splits == {"train": 0.9, "test": 0.1}
    with pytest.raises(UsageError, match="--splits: .*sum to 1"):
        load_config(SplitConfig, None, {"splits": "train=0.9,test=0.2"})


# ---------------------------------------------------------------- assignment


def test_assign_split_is_the_documented_hash():
    for key in ("u1", "ユーザー", "42", ""):
        digest = hashlib.sha256(f"{SALT}\0{key}".encode()).digest()
        point, reached = (int.from_bytes(digest[:8], "big") >> 11) / 2**53, 0.0
        for name, share in DEFAULT_SPLITS.items():
            reached += share
            if point < reached:
                break
        assert assign_split(key, DEFAULT_SPLITS, SALT) == name
    # pinned, so a change to the formula (which would move every user) cannot pass unnoticed
    assert [assign_split(f"user{i}", DEFAULT_SPLITS, SALT) for i in (0, 3, 10)] == ["train", "test", "validation"]
    assert len({assign_split(f"user{i}", DEFAULT_SPLITS, "other salt") for i in range(50)}) == 3


def test_ratios_are_achieved_on_many_users():
    records = [Example(instruction=f"question number {i}", user_id=f"user-{i}") for i in range(5000)]
    splitter = Splitter()
    splitter(records)
    result = splitter.result()
    for name, target in DEFAULT_SPLITS.items():
        stats = result.splits[name]
        assert stats.users == stats.records
        assert abs(stats.ratio - target) < 0.02, (name, stats.ratio)
    assert sum(s.records for s in result.splits.values()) == 5000


@FAST
@given(records=record_list(), cap=st.one_of(st.none(), st.integers(1, 4)))
def test_every_user_in_one_split_and_capped(records, cap):
    splitter = Splitter(SplitConfig(max_per_user=cap))
    outputs = splitter(records)
    placement(outputs)  # no user in two splits
    per_user = Counter(r.user_id for r in records)
    kept = Counter(r.user_id for rs in outputs.values() for r in rs)
    assert kept == {user: min(n, cap or n) for user, n in per_user.items()}
    assert splitter.summary.dropped["over_user_cap"] == len(records) - sum(kept.values())
    assert splitter.summary.read == len(records) and splitter.summary.written == sum(kept.values())


@FAST
@given(old=record_list("u"), new=st.one_of(record_list("u"), record_list("new")), data=st.data())
def test_new_records_never_move_existing_users(old, new, data):
    before = placement(Splitter()(old))
    after = placement(Splitter()(data.draw(st.permutations(old + new))))
    assert {user: after[user] for user in before} == before


@FAST
@given(old=record_list("u"), new=record_list("new"), cap=st.integers(1, 3))
def test_other_users_never_change_which_records_a_user_keeps(old, new, cap):
    config = SplitConfig(max_per_user=cap)
    before = contents(Splitter(config)(old))
    after = contents(Splitter(config)(new + old))
    old_users = {name: [row for row in rows if json.loads(row)["user_id"].startswith("u")]
                 for name, rows in after.items()}
    assert old_users == before


@FAST
@given(records=record_list(), cap=st.one_of(st.none(), st.integers(1, 3)), data=st.data())
def test_assignment_and_cap_ignore_record_order(records, cap, data):
    config = SplitConfig(max_per_user=cap)
    shuffled = data.draw(st.permutations(records))
    assert contents(Splitter(config)(shuffled)) == contents(Splitter(config)(records))


def test_cap_keeps_lowest_hashes_not_first_records():
    records = [Example(instruction=f"prompt {i}", user_id="heavy") for i in range(10)]
    lowest = sorted(records, key=lambda r: hashlib.sha256(f"{SALT}\0heavy\0{r.id}".encode()).digest())[:3]
    for order in (records, records[::-1]):
        splitter = Splitter(SplitConfig(max_per_user=3))
        (kept,) = [rs for rs in splitter(order).values() if rs]
        assert {r.id for r in kept} == {r.id for r in lowest}
        assert [r.meta["rejected"]["reason"] for r in splitter.removed] == ["over_user_cap"] * 7
        assert {r.meta["split"]["name"] for r in splitter.removed} == {kept[0].meta["split"]["name"]}
    assert {r.id for r in lowest} != {r.id for r in records[:3]}  # a real test: file order would differ


def test_same_prompt_twice_for_one_user_ties_without_order():
    a = Example(instruction="same prompt", output="first answer", user_id="u")
    b = Example(instruction="same prompt", output="second answer", user_id="u")
    assert a.id == b.id
    keep = [rs for rs in Splitter(SplitConfig(max_per_user=1))([a, b]).values() if rs]
    again = [rs for rs in Splitter(SplitConfig(max_per_user=1))([b, a]).values() if rs]
    assert keep == again and len(keep[0]) == 1


def test_twins_over_the_cap_are_chosen_by_their_content_not_its_hash():
    """Records of one user with one id (the same prompt, other outputs) tie on the cap hash; the
    lowest content as JSON stays, as a sort by (hash, content) keeps it, in any file order."""
    twins = [Example(instruction="same prompt", output=answer, user_id="u") for answer in "fbeadc"]
    for cap, kept in ((1, ["a"]), (2, ["a", "b"]), (4, ["a", "b", "c", "d"])):
        for order in (twins, twins[::-1], twins[2:] + twins[:2]):
            outputs = Splitter(SplitConfig(max_per_user=cap))(order)
            assert sorted(r.output for rs in outputs.values() for r in rs) == kept, (cap, [r.output for r in order])


# ---------------------------------------------------------------- keys


def test_group_by_a_dotted_path_into_meta():
    records = [Example(instruction=f"q{i}", meta={"source": {"user": user}}) for i, user in
               enumerate(["alice", "bob", "alice", 7, "bob", "alice"])]
    outputs = Splitter(SplitConfig(by="meta.source.user"))(records)
    where = {}
    for name, rs in outputs.items():
        for r in rs:
            assert where.setdefault(r.meta["split"]["key"], name) == name
            assert r.meta["split"]["key"] == str(r.meta["source"]["user"])  # 7 groups as "7"
    assert set(where) == {"alice", "bob", "7"}
    assert all(where[key] == assign_split(key, DEFAULT_SPLITS, SALT) for key in where)


def test_missing_key_error_names_the_record(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "user_id": "u1"}, {"instruction": "b"}])
    with pytest.raises(DataError, match=r"in\.jsonl: record 2 \(id [0-9a-f]{16}\): no user_id") as error:
        split(src, tmp_path / "out")
    assert Example(instruction="b").id in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_missing_key_drop_and_singleton(tmp_path):
    rows = [{"instruction": "a", "user_id": "u1"}, {"instruction": "b"}, {"instruction": "c", "user_id": " "},
            {"instruction": "d", "meta": {"x": 1}}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    result = split(src, tmp_path / "drop", SplitConfig(missing="drop"), rejects=tmp_path / "rejects.jsonl")
    assert result.summary.dropped == {"missing_key": 3} and result.summary.written == 1
    dropped = list(read_records(tmp_path / "rejects.jsonl"))
    assert [r.instruction for r in dropped] == ["b", "c", "d"]
    assert {r.meta["rejected"]["reason"] for r in dropped} == {"missing_key"}

    result = split(src, tmp_path / "single", SplitConfig(missing="singleton"))
    written = [r for path in result.files.values() for r in _read(path)]
    assert result.summary.written == 4 and not result.summary.dropped
    for record in written:
        expected_key = record.user_id if record.instruction == "a" else record.id
        assert record.meta["split"] == {"name": assign_split(expected_key, DEFAULT_SPLITS, SALT), "key": expected_key}


# ---------------------------------------------------------------- files


def _read(path):
    return list(read_records(path))


def test_split_writes_one_file_per_split(tmp_path, examples, preferences):
    records = [r.model_copy(update={"user_id": f"user{i % 3}"}) for i, r in enumerate(examples + preferences)]
    src = tmp_path / "in.json"
    write_records(src, records)
    result = split(src, tmp_path / "out", suffix="json")
    assert set(result.files) == set(DEFAULT_SPLITS)
    back = {name: _read(path) for name, path in result.files.items()}
    assert all(path.suffix == ".json" and path.exists() for path in result.files.values())  # empty ones too
    assert sorted(r.id for rs in back.values() for r in rs) == sorted(r.id for r in records)
    for name, rs in back.items():
        assert [r.id for r in rs] == [r.id for r in records if r.id in {x.id for x in rs}]  # input order kept
        for r in rs:
            assert r.meta["split"] == {"name": name, "key": r.user_id}
            assert r.meta["split"]["name"] == assign_split(r.user_id, DEFAULT_SPLITS, SALT)
    assert any(isinstance(r, Preference) for rs in back.values() for r in rs)
    assert (result.summary.read, result.summary.written) == (len(records), len(records))
    console = Console(record=True, width=140)
    console.print(result.table())
    text = console.export_text()
    assert all(name in text for name in DEFAULT_SPLITS) and "achieved" in text


def test_empty_split_still_gets_a_file(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "only one user", "user_id": "solo"}])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "test.jsonl").write_text('{"instruction": "stale"}\n')
    result = split(src, tmp_path / "out", SplitConfig(splits="train=0.5,test=0.5"))
    sizes = {name: len(_read(path)) for name, path in result.files.items()}
    assert sorted(sizes.values()) == [0, 1]  # the stale test file is replaced, empty or not


def test_bad_outputs_are_refused_before_reading(tmp_path):
    missing = tmp_path / "no-such-input.jsonl"
    with pytest.raises(UsageError, match="directory"):
        split(missing, "-")
    with pytest.raises(UsageError, match="unknown file type"):
        split(missing, tmp_path / "out", suffix=".txt")
    with pytest.raises(UsageError, match="unknown file type"):
        split(missing, tmp_path / "out", rejects=tmp_path / "rejects.txt")


# ---------------------------------------------------------------- leaks


def _leak_records():
    train_user, test_user = user_in("train"), user_in("test")
    near = LONG.rsplit(" ", 1)[0] + " stove"  # the last word changed
    return [
        Example(instruction="Explain photosynthesis in three sentences.", user_id=train_user),
        Example(instruction=LONG, user_id=train_user),
        Example(instruction="Name three rivers in Africa.", user_id=train_user),
        Example(instruction="  ＥXPLAIN   photosynthesis in three\tsentences. ", user_id=test_user),  # exact
        Example(instruction=near, user_id=test_user),  # near
        Example(instruction="Summarise the plot of Hamlet.", user_id=test_user),  # no leak
    ]


def test_leaks_are_found_and_reported(tmp_path):
    records = _leak_records()
    assert 0.8 <= jaccard(shingles(records[1].instruction.casefold()), shingles(records[4].instruction.casefold())) < 1
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    result = split(src, tmp_path / "out")
    assert (result.splits["test"].leaks_exact, result.splits["test"].leaks_near) == (1, 1)
    assert result.splits["validation"].leaks_exact == result.splits["validation"].leaks_near == 0
    assert result.summary.written == 6 and not result.summary.dropped
    test = _read(result.files["test"])
    leaks = {r.id: r.meta["split"].get("leak") for r in test}
    assert leaks[records[3].id] == {"kind": "exact", "train_id": records[0].id, "similarity": 1.0}
    assert leaks[records[4].id]["kind"] == "near" and leaks[records[4].id]["train_id"] == records[1].id
    assert leaks[records[5].id] is None
    assert {(leak.split, leak.id, leak.kind) for leak in result.leaks} == {
        ("test", records[3].id, "exact"), ("test", records[4].id, "near")}


def test_drop_leaks_moves_them_to_the_rejects(tmp_path):
    records = _leak_records()
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    result = split(src, tmp_path / "out", SplitConfig(drop_leaks=True), rejects=tmp_path / "rejects.jsonl")
    assert [r.id for r in _read(result.files["test"])] == [records[5].id]
    assert len(_read(result.files["train"])) == 3  # the train copies stay
    assert result.summary.dropped == {"leak_exact": 1, "leak_near": 1}
    rejects = {r.id: r.meta for r in read_records(tmp_path / "rejects.jsonl")}
    assert rejects[records[3].id]["rejected"] == {"stage": "split", "reason": "leak_exact"}
    assert rejects[records[4].id]["rejected"] == {"stage": "split", "reason": "leak_near"}
    assert rejects[records[4].id]["split"]["leak"]["train_id"] == records[1].id
    assert (result.splits["test"].leaks_exact, result.splits["test"].leaks_near) == (1, 1)


def test_leak_threshold_is_respected():
    records = _leak_records()
    similarity = jaccard(shingles(records[1].instruction.casefold()), shingles(records[4].instruction.casefold()))
    splitter = Splitter(SplitConfig(leak_threshold=min(1.0, similarity + 0.01)))
    splitter(records)
    assert [leak.kind for leak in splitter.leaks] == ["exact"]


def test_threshold_one_means_same_words_in_the_same_order():
    train_user, test_user = user_in("train"), user_in("test")
    records = [Example(instruction="Explain photosynthesis in three sentences.", user_id=train_user),
               Example(instruction="Explain photosynthesis -- in three sentences!", user_id=test_user),
               Example(instruction="Explain photosynthesis in four sentences.", user_id=test_user)]
    splitter = Splitter(SplitConfig(leak_threshold=1.0))
    splitter(records)
    assert [(leak.id, leak.kind, leak.similarity) for leak in splitter.leaks] == [(records[1].id, "near", 1.0)]


def test_chinese_near_duplicate_leak():
    train_user, validation_user = user_in("train"), user_in("validation")
    near = LONG_ZH[:-2] + "完成"  # the last two characters changed
    records = [Example(instruction=LONG_ZH, user_id=train_user),
               Example(instruction=near, user_id=validation_user),
               Example(instruction="用一句话解释光合作用。", user_id=validation_user)]
    assert len(shingles(LONG_ZH)) > 50  # character n-grams: there are no spaces to find words by
    splitter = Splitter(SplitConfig(drop_leaks=True))
    outputs = splitter(records)
    assert [(leak.split, leak.kind, leak.train_id) for leak in splitter.leaks] == [
        ("validation", "near", records[0].id)]
    assert [r.id for r in outputs["validation"]] == [records[2].id]
    assert splitter.summary.dropped == {"leak_near": 1}


def test_leaks_are_checked_against_the_first_split_when_none_is_train():
    splits = {"fit": 0.5, "holdout": 0.5}
    a, b = user_in("fit", splits), user_in("holdout", splits)
    records = [Example(instruction="Same prompt here.", user_id=a), Example(instruction="same prompt here.", user_id=b)]
    splitter = Splitter(SplitConfig(splits=splits))
    splitter(records)
    result = splitter.result()
    assert result.reference == "fit" and result.splits["holdout"].leaks_exact == 1


def test_standard_input_is_split_as_the_file_is(tmp_path):
    """The input is read twice (facts, then records): standard input is copied first."""
    import subprocess
    import sys

    records = [Example(instruction=f"{LONG} {i % 7}", user_id=f"user{i % 11}") for i in range(120)]
    write_records(tmp_path / "in.jsonl", records)
    split(tmp_path / "in.jsonl", tmp_path / "from_file", SplitConfig(max_per_user=5))
    with (tmp_path / "in.jsonl").open("rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "curate.cli", "split", "-", "-o", str(tmp_path / "from_stdin"),
                               "--max-per-user", "5"], stdin=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in DEFAULT_SPLITS:
        assert (tmp_path / "from_stdin" / f"{name}.jsonl").read_text() == (tmp_path / "from_file" / f"{name}.jsonl").read_text()
    assert sum(len(_read(tmp_path / "from_stdin" / f"{name}.jsonl")) for name in DEFAULT_SPLITS) == 55
    assert not list(tmp_path.glob(".curate-*"))  # the work folder (and the copy) went with the run


def test_files_of_other_splits_are_left_with_a_warning(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"q{i}", "user_id": f"u{i}"} for i in range(20)])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "validation.jsonl").write_text('{"instruction": "stale"}\n')
    split(src, tmp_path / "out", SplitConfig(splits="train=0.9,test=0.1"), rejects=tmp_path / "out" / "rejects.jsonl")
    err = capsys.readouterr().err
    assert "also holds validation.jsonl" in err and "rejects.jsonl" not in err
    assert (tmp_path / "out" / "validation.jsonl").read_text() == '{"instruction": "stale"}\n'


def test_a_split_stopped_while_writing_leaves_no_folder_behind(tmp_path, monkeypatch):
    import curate.sinks

    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"q{i}", "user_id": f"u{i}"} for i in range(20)])

    def interrupted(self, row):
        raise KeyboardInterrupt

    monkeypatch.setattr(curate.sinks.RowSink, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        split(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".curate-*"))
