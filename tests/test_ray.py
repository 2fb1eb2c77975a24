"""--executor ray gives the output --executor local gives, on a local Ray of 2 CPUs."""

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

from curate.errors import DataError, UsageError  # noqa: E402
from curate.filters.dedup import DedupConfig, dedup  # noqa: E402
from curate.filters.quality import FilterConfig, filter_records  # noqa: E402
from curate.generate.respond import RespondConfig, respond  # noqa: E402
from curate.sinks import write_records  # noqa: E402
from curate.pii import PiiConfig, scrub  # noqa: E402
from curate.records import Example  # noqa: E402
from curate.split import SplitConfig, split  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Real templated prompts (the committed T0 slice), with PII, short and repeated ones mixed in."""
    folder = tmp_path_factory.mktemp("ray-corpus")
    slice_file = Path(__file__).parent / "data" / "t0_slice.jsonl"
    texts = [json.loads(line)["instruction"] for line in slice_file.open(encoding="utf-8")]
    records = [Example(instruction=text, output="An answer long enough to keep.") for text in texts[:1500]]
    records += [Example(instruction=f"Call Maria Lopez at (445) 243-6001 about order {i}.", output="Done, I will.")
                for i in range(40)]
    records += [Example(instruction="Hi", output="x")] * 5
    path = folder / "in.jsonl"
    write_records(path, records)
    return path


def outputs(tmp_path, name, run):
    out, rejects = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.rejects.jsonl"
    summary = run(out, rejects)
    read = lambda path: path.read_text() if path.exists() else ""  # noqa: E731
    return read(out), read(rejects), summary


@pytest.fixture
def ray_tasks(monkeypatch):
    """How many tasks went to Ray."""
    from curate.executors import RayPool

    sent = []
    submit = RayPool.submit
    monkeypatch.setattr(RayPool, "submit", lambda self, *args: sent.append(args[0]) or submit(self, *args))
    return sent


@pytest.fixture(scope="module")
def scored(corpus, tmp_path_factory):
    """The corpus with scored candidates, some tied, for rank."""
    path = tmp_path_factory.mktemp("scored") / "scored.jsonl"
    rows = []
    for i, line in enumerate(corpus.open(encoding="utf-8")):
        row = json.loads(line)
        row["meta"] = {"responses": {"candidates": ["a", "b", "c"]},
                       "reward": {"candidates": [1.0, 1.0, 1.0] if i % 5 == 0 else [i % 3, (i + 1) % 3, 0.5]}}
        rows.append(json.dumps(row) + "\n")
    path.write_text("".join(rows * 3))  # a few chunks' worth
    return path


@pytest.mark.parametrize("stage", ["filter", "pii", "dedup", "rank"])
def test_ray_and_local_write_the_same_files(local_ray, corpus, scored, tmp_path, stage, ray_tasks):
    from curate.rank import RankConfig, rank

    def run(executor):
        if stage == "rank":
            return lambda out, rej: rank(scored, out, RankConfig(kind="pairs", executor=executor, workers=2), rej)
        if stage == "filter":
            return lambda out, rej: filter_records(corpus, out, FilterConfig(executor=executor, workers=2), rej)
        if stage == "pii":
            return lambda out, rej: scrub(corpus, out, PiiConfig(executor=executor, workers=2), rejects=rej)
        return lambda out, rej: dedup(corpus, out, DedupConfig(executor=executor, workers=2), rej)

    local_out, local_rejects, local_summary = outputs(tmp_path, "local", run("local"))
    assert not ray_tasks
    ray_out, ray_rejects, ray_summary = outputs(tmp_path, "ray", run("ray"))
    assert ray_tasks  # the work really went to Ray
    assert local_out and ray_out == local_out and ray_rejects == local_rejects  # the same lines, in the same order
    assert ray_summary.written == local_summary.written and ray_summary.dropped == local_summary.dropped
    if stage == "pii":
        assert "<PHONE>" in ray_out and ray_summary.counts == local_summary.counts
    if stage == "dedup":
        assert sum(local_summary.dropped.values()) > 100  # the real slice has many near copies


@pytest.mark.parametrize("stage", ["pii", "dedup"])
def test_ray_writes_a_directory_of_parts_equal_to_the_local_file(local_ray, corpus, tmp_path, stage, monkeypatch):
    import curate.sinks

    def run(out, executor):
        if stage == "pii":
            return scrub(corpus, out, PiiConfig(executor=executor, workers=2))
        return dedup(corpus, out, DedupConfig(executor=executor, workers=2))

    run(tmp_path / "local.jsonl", "local")
    monkeypatch.setattr(curate.sinks, "PART_ROWS", 500)
    run(tmp_path / "parts", "ray")
    parts = sorted((tmp_path / "parts").iterdir())
    assert len(parts) >= 2 and [p.name for p in parts][0] == "part-00000.jsonl"
    assert "".join(p.read_text() for p in parts) == (tmp_path / "local.jsonl").read_text()


def test_dedup_verifies_pairs_in_ray_tasks_and_writes_the_local_file(local_ray, corpus, tmp_path, ray_tasks,
                                                                    monkeypatch):
    import curate.filters.lsh as lsh

    dedup(corpus, tmp_path / "local.jsonl", DedupConfig(workers=1))
    monkeypatch.setattr(lsh, "VERIFY_IN_POOL", 4)
    dedup(corpus, tmp_path / "ray.jsonl", DedupConfig(executor="ray", workers=2))
    assert ray_tasks.count(lsh._similar_part) >= 5
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_pii_on_ray_reads_and_writes_other_formats_with_detection_in_tasks(local_ray, corpus, tmp_path, ray_tasks):
    from curate.pii import _detect_chunk

    scrub(corpus, tmp_path / "local.parquet", PiiConfig(workers=2), report=tmp_path / "local.csv")
    scrub(corpus, tmp_path / "ray.parquet", PiiConfig(executor="ray", workers=2), report=tmp_path / "ray.csv")
    assert ray_tasks and set(ray_tasks) == {_detect_chunk}
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "local.csv").read_text()
    from curate.io import read_records

    assert list(read_records(tmp_path / "ray.parquet")) == list(read_records(tmp_path / "local.parquet"))


def test_a_bad_line_on_ray_is_named_as_locally(local_ray, corpus, tmp_path, monkeypatch):
    import curate.parallel

    monkeypatch.setattr(curate.parallel, "CHUNK_BYTES", 20_000)
    bad = tmp_path / "bad.jsonl"
    lines = corpus.read_bytes().split(b"\n")  # not splitlines: a record may hold U+2028
    bad.write_bytes(b"\n".join(lines[:700] + [b'{"instruction": 5}'] + lines[700:]))
    messages = []
    for executor in ("local", "ray"):
        with pytest.raises(DataError) as error:
            filter_records(bad, tmp_path / f"{executor}.jsonl", FilterConfig(executor=executor, workers=2))
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "bad.jsonl:701" in messages[1] and "Traceback" not in messages[1]


def test_a_generating_stage_on_ray_writes_one_jsonl_file(local_ray, corpus, tmp_path, server):
    with pytest.raises(UsageError, match="writes one .jsonl file"):
        respond(corpus, tmp_path / "answers", RespondConfig(base_url=server.url, executor="ray"))


def test_stages_that_cannot_run_on_ray_say_so(tmp_path, server, seeds_file, run_cli):
    from curate.generate.self_instruct import SelfInstructConfig, self_instruct

    with pytest.raises(UsageError, match="curate self-instruct cannot run on Ray yet"):
        self_instruct(seeds_file, tmp_path / "o.jsonl", SelfInstructConfig(base_url=server.url, no_cache=True,
                                                                           executor="ray"))
    assert not (tmp_path / "o.jsonl").exists()
    write_records(tmp_path / "r.jsonl", [Example(instruction="q", output="a")])
    code, _, err = run_cli("curate", "stats", str(tmp_path / "r.jsonl"), "-o", str(tmp_path / "s.json"),
                           "--executor", "ray")
    assert code == 2 and "curate stats cannot run on Ray yet" in err and not (tmp_path / "s.json").exists()


@pytest.fixture
def small_chunks(monkeypatch):
    import curate.parallel

    monkeypatch.setattr(curate.parallel, "CHUNK_BYTES", 20_000)  # a few dozen byte ranges: many tasks


def test_export_on_ray_writes_the_local_files(local_ray, corpus, tmp_path, ray_tasks, small_chunks):
    from curate.export import ExportConfig, export

    for executor in ("local", "ray"):
        folder = tmp_path / executor
        folder.mkdir()
        summary = export(corpus, folder / "sft.json", ExportConfig(format="sharegpt", dataset_info=True,
                                                                   executor=executor))  # local: one process
        assert summary.counts == {"examples": summary.read}
    assert ray_tasks
    assert (tmp_path / "ray" / "sft.json").read_text() == (tmp_path / "local" / "sft.json").read_text()
    assert (tmp_path / "ray" / "dataset_info.json").read_text() == (tmp_path / "local" / "dataset_info.json").read_text()


def test_export_on_ray_refuses_mixed_kinds_for_one_dataset_info_entry(local_ray, corpus, tmp_path, small_chunks):
    from curate.export import ExportConfig, export
    from curate.records import Preference

    mixed = tmp_path / "mixed.jsonl"
    write_records(mixed, [Example(instruction=f"q{i}", output="a") for i in range(300)]
                  + [Preference(instruction="p", chosen="good", rejected="bad")])
    with pytest.raises(DataError, match="mixes 300 examples and 1 preferences"):
        export(mixed, tmp_path / "o.json", ExportConfig(format="sharegpt", dataset_info=True, executor="ray"))
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "dataset_info.json").exists()


def test_convert_on_ray_sets_invalid_rows_aside_where_local_does(local_ray, corpus, tmp_path, small_chunks):
    from curate.convert import ConvertConfig, convert

    messy = tmp_path / "messy.jsonl"
    lines = corpus.read_bytes().split(b"\n")[:-1]
    for at in (3, 400, 1200):  # in the first byte range and in later ones
        lines.insert(at, b'{"instruction": 5, "user": "u1"}' if at != 400 else b'["not", "an", "object"]')
    messy.write_bytes(b"\n".join(line for line in lines) + b"\n")
    runs = {"one": ("local", 1), "processes": ("local", 2), "ray": ("ray", 2)}
    for name, (executor, workers) in runs.items():
        convert(messy, tmp_path / f"{name}.jsonl", ConvertConfig(skip_invalid=True, keep_extra=False,
                                                                 executor=executor, workers=workers),
                tmp_path / f"{name}.rej.jsonl")
    for name in ("processes", "ray"):
        assert (tmp_path / f"{name}.jsonl").read_text() == (tmp_path / "one.jsonl").read_text()
        assert (tmp_path / f"{name}.rej.jsonl").read_text() == (tmp_path / "one.rej.jsonl").read_text()
    rejected = (tmp_path / "ray.rej.jsonl").read_text()
    assert [json.loads(row)["meta"]["rejected"]["where"] for row in rejected.splitlines()] == [
        f"{messy}:{line}" for line in (4, 401, 1201)]


def test_score_on_ray_writes_the_local_scores(local_ray, tmp_path, ray_tasks, small_chunks):
    from tests.tiny import build_tokenizer, save_token_reward_model
    from train.score import ScoreSettings, score

    model = save_token_reward_model(tmp_path / "rm", build_tokenizer(), " sleep")
    answers = tmp_path / "answers.jsonl"
    write_records(answers, [Example(instruction=f"How do I rest, {i}?" + " filler" * 200,
                                    output=" sleep" * (i % 4) + " walk", meta={"responses": {"candidates": ["a", " sleep"]}})
                            for i in range(60)] + [Example(instruction="unanswered")])
    for executor in ("local", "ray"):
        score(answers, tmp_path / f"{executor}.jsonl", ScoreSettings(model=str(model), executor=executor, workers=2),
              tmp_path / f"{executor}.rej.jsonl")
    assert ray_tasks
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    assert (tmp_path / "ray.rej.jsonl").read_text() == (tmp_path / "local.rej.jsonl").read_text()
    scores = [json.loads(line)["meta"]["reward"]["score"] for line in (tmp_path / "ray.jsonl").open()]
    by_count = [[s for i, s in enumerate(scores) if i % 4 == count] for count in range(4)]
    assert all(max(fewer) < min(more) for fewer, more in zip(by_count, by_count[1:]))  # more " sleep", more reward


def test_split_on_ray_writes_the_splits_local_writes(local_ray, corpus, tmp_path, ray_tasks):
    users = tmp_path / "users.jsonl"
    rows = [json.loads(line) for line in corpus.open()]
    users.write_text("".join(json.dumps({**row, "user_id": f"u{i % 37}"}) + "\n" for i, row in enumerate(rows)))
    config = dict(max_per_user=30, splits={"train": 0.8, "test": 0.2})
    local = split(users, tmp_path / "local", SplitConfig(**config), tmp_path / "local.rej.jsonl")
    assert not ray_tasks
    on_ray = split(users, tmp_path / "ray", SplitConfig(**config, executor="ray"), tmp_path / "ray.rej.jsonl")
    assert ray_tasks
    for name in ("train", "test"):
        assert (tmp_path / "ray" / f"{name}.jsonl").read_text() == (tmp_path / "local" / f"{name}.jsonl").read_text()
    assert (tmp_path / "ray.rej.jsonl").read_text() == (tmp_path / "local.rej.jsonl").read_text()
    assert on_ray.summary.dropped == local.summary.dropped and local.summary.dropped["over_user_cap"] > 0


def lines(path):
    return sorted(path.read_text().splitlines()) if path.exists() else []


@pytest.mark.parametrize("stage", ["respond", "judge"])
def test_llm_stages_on_ray_write_the_records_local_writes_and_resume_by_shard(local_ray, corpus, tmp_path, server,
                                                                               stage):
    """One Ray task per shard, each with its own client on its own replica; the joined files hold the
    records a local run writes (in shard order, not completion order), and a re-run asks nothing."""
    from curate.filters.judge import JudgeConfig, judge

    small = tmp_path / "in.jsonl"
    head = corpus.read_text().splitlines(keepends=True)[:120]
    small.write_text("".join(head + head[:10]))  # copies: each lands in its first copy's shard, and is dropped
    replicas = f"{server.url},{server.url.replace('127.0.0.1', 'localhost')}"  # two endpoints of one server

    def run(executor, out):
        settings = dict(base_url=replicas, no_cache=True, executor=executor, concurrency=4)
        if stage == "respond":
            return respond(small, out, RespondConfig(**settings), tmp_path / f"{out.stem}.rej.jsonl")
        return judge(small, out, JudgeConfig(**settings, structured=False), tmp_path / f"{out.stem}.rej.jsonl")

    local = run("local", tmp_path / "local.jsonl")
    asked_locally = len(server.payloads)
    server.payloads.clear()
    on_ray = run("ray", tmp_path / "ray.jsonl")
    assert len(server.payloads) == asked_locally  # every record asked once, on some shard
    assert lines(tmp_path / "ray.jsonl") == lines(tmp_path / "local.jsonl") and lines(tmp_path / "ray.jsonl")
    assert reasons(tmp_path / "ray.rej.jsonl") == reasons(tmp_path / "local.rej.jsonl")
    assert (on_ray.written, on_ray.dropped) == (local.written, local.dropped) and local.dropped["duplicate_id"] == 10
    shards = sorted(p.name for p in (tmp_path / "ray.jsonl.shards").glob("part-*.jsonl"))
    assert len([name for name in shards if "rejects" not in name]) == 2
    server.payloads.clear()
    again = run("ray", tmp_path / "ray.jsonl")
    assert server.payloads == [] and again.resumed == local.read  # every shard resumed, nothing asked twice
    assert lines(tmp_path / "ray.jsonl") == lines(tmp_path / "local.jsonl")


def reasons(path):
    return sorted((row["id"], row["meta"]["rejected"]["reason"]) for row in map(json.loads, path.open()))


def test_one_id_in_two_shards_is_written_once(local_ray, tmp_path, server):
    """Lines that differ but are one record (the same id) may land in two shards: the join keeps one."""
    rows = [{"instruction": f"Question {i}?"} for i in range(40)]
    rows += [{"instruction": f"Question  {i}? "} for i in range(40)]  # the same ids once whitespace is normalised
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", RespondConfig(base_url=server.url, no_cache=True,
                                                                                   executor="ray", ray_shards=3))
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").open()]
    assert len(ids) == len(set(ids)) == 40 and summary.written == 40 and summary.dropped["duplicate_id"] == 40
    assert reasons(tmp_path / "out.rejects.jsonl") == sorted((i, "duplicate_id") for i in ids)


def test_a_shards_data_error_names_the_input_line(local_ray, tmp_path, server):
    rows = [json.dumps({"instruction": f"Question {i}?"}) for i in range(30)]
    rows[17] = "{not json"
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    from curate.errors import DataError

    with pytest.raises(DataError, match=r"in\.jsonl:18: "):
        respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", RespondConfig(base_url=server.url, no_cache=True,
                                                                             executor="ray", ray_shards=3))


def test_a_local_journal_is_not_continued_on_ray(local_ray, corpus, tmp_path, server):
    out = tmp_path / "out.jsonl"
    out.write_text("")
    with pytest.raises(UsageError, match="written by a run with --executor local"):
        respond(corpus, out, RespondConfig(base_url=server.url, no_cache=True, executor="ray"))


def test_ray_reads_json_lines_and_writes_any_format(local_ray, corpus, tmp_path, run_cli):
    for executor in ("local", "ray"):
        code, _, err = run_cli("curate", "filter", str(corpus), "-o", str(tmp_path / f"{executor}.json"),
                               "--rejects", str(tmp_path / f"{executor}.rej.parquet"), "--executor", executor)
        assert code == 0, err
    assert (tmp_path / "ray.json").read_text() == (tmp_path / "local.json").read_text()
    from curate.io import read_records

    rejected = list(read_records(tmp_path / "ray.rej.parquet"))
    assert rejected and rejected == list(read_records(tmp_path / "local.rej.parquet"))
    rows = [json.loads(line) for line, _ in zip(corpus.open(encoding="utf-8"), range(10))]
    (tmp_path / "in.json").write_text(json.dumps(rows))
    code, _, err = run_cli("curate", "dedup", str(tmp_path / "in.json"), "-o", str(tmp_path / "d.jsonl"),
                           "--executor", "ray")
    assert code == 2 and "JSON Lines" in err


def test_a_directory_of_json_lines_shards_on_ray_is_the_file_they_were_cut_from(local_ray, corpus, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    lines = corpus.read_text().splitlines(keepends=True)
    for number, start in enumerate(range(0, len(lines), 400)):
        (folder / f"part-{number:03d}.jsonl").write_text("".join(lines[start : start + 400]))
    filter_records(corpus, tmp_path / "file.jsonl", FilterConfig(), tmp_path / "file.rej.jsonl")
    filter_records(folder, tmp_path / "dir.jsonl", FilterConfig(executor="ray", workers=2), tmp_path / "dir.rej.jsonl")
    assert (tmp_path / "dir.jsonl").read_text() == (tmp_path / "file.jsonl").read_text()
    assert (tmp_path / "dir.rej.jsonl").read_text() == (tmp_path / "file.rej.jsonl").read_text()


def test_a_resumed_run_counts_only_its_own_work(local_ray, tmp_path, server):
    rows = [{"instruction": f"Question {i}?"} for i in range(40)] + [{"instruction": f"Question  {i}? "} for i in range(40)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = RespondConfig(base_url=server.url, no_cache=True, executor="ray", ray_shards=3)
    first = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", config)
    again = respond(tmp_path / "in.jsonl", tmp_path / "out.jsonl", config)
    assert (first.written, first.dropped["duplicate_id"]) == (40, 40)
    assert again.written == 0 and not again.dropped and again.totals["written"] == 40
    assert again.totals["duplicate_id"] == 40


def test_directory_shards_without_a_final_newline_are_not_glued(local_ray, tmp_path, server):
    folder = tmp_path / "data"
    folder.mkdir()
    for number in range(2):
        (folder / f"part-{number}.jsonl").write_text("\n".join(json.dumps({"instruction": f"Q{number}-{i}?"})
                                                               for i in range(20)))  # no newline at the end
    summary = respond(folder, tmp_path / "out.jsonl", RespondConfig(base_url=server.url, no_cache=True,
                                                                    executor="ray", ray_shards=3))
    assert summary.written == 40


def test_restart_on_ray_starts_over_with_a_new_input(local_ray, tmp_path, server):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"instruction": f"Q{i}?"}) + "\n" for i in range(10)))
    config = dict(base_url=server.url, no_cache=True, executor="ray")
    respond(source, tmp_path / "out.jsonl", RespondConfig(**config))
    source.write_text("".join(json.dumps({"instruction": f"New {i}?"}) + "\n" for i in range(5)))
    with pytest.raises(UsageError, match="cut from another input"):
        respond(source, tmp_path / "out.jsonl", RespondConfig(**config))
    assert respond(source, tmp_path / "out.jsonl", RespondConfig(**config, restart=True)).written == 5
    with pytest.raises(UsageError, match="written by a run with --executor ray"):
        respond(source, tmp_path / "out.jsonl", RespondConfig(base_url=server.url, no_cache=True))


def test_a_record_export_cannot_take_is_named_on_ray_as_locally(local_ray, tmp_path, small_chunks):
    from curate.export import ExportConfig, export
    from curate.records import Preference

    records = [Preference(instruction=f"Which is better, {i}?" + " padding" * 20, chosen="this", rejected="that")
               for i in range(1000)]
    records.insert(899, Example(instruction="An example among preferences", output="a"))
    write_records(tmp_path / "prefs.jsonl", records)
    messages = []
    for executor in ("local", "ray"):
        with pytest.raises(DataError) as error:
            export(tmp_path / "prefs.jsonl", tmp_path / f"{executor}.jsonl",
                   ExportConfig(format="preference", executor=executor, workers=2))
        messages.append(str(error.value))
        assert not (tmp_path / f"{executor}.jsonl").exists()
    assert messages[0] == messages[1] and f"prefs.jsonl: record 900 (id {records[899].id})" in messages[0]


def test_score_asking_for_gpus_a_cluster_lacks_is_a_usage_error(local_ray, tmp_path, run_cli):
    write_records(tmp_path / "a.jsonl", [Example(instruction="q", output="a")])
    code, _, err = run_cli("train", "score", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "s.jsonl"), "--model",
                           str(tmp_path), "--executor", "ray", "--ray-gpus", "1")
    assert code == 2 and "the Ray cluster has 0 GPUs" in err and not (tmp_path / "s.jsonl").exists()
    code, _, err = run_cli("train", "score", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "s.jsonl"), "--model",
                           str(tmp_path), "--executor", "ray", "--ray-gpus", "1.5")
    assert code == 2 and "whole number" in err


def test_split_on_ray_reads_standard_input(local_ray, corpus, tmp_path, monkeypatch):
    import io
    import sys

    users = tmp_path / "users.jsonl"
    rows = [json.loads(line) for line in corpus.open()]
    users.write_text("".join(json.dumps({**row, "user_id": f"u{i % 37}"}) + "\n" for i, row in enumerate(rows)))
    split(users, tmp_path / "local", SplitConfig(max_per_user=30))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(users.read_bytes())))
    split("-", tmp_path / "ray", SplitConfig(max_per_user=30, executor="ray"))
    for name in ("train", "validation", "test"):
        assert (tmp_path / "ray" / f"{name}.jsonl").read_text() == (tmp_path / "local" / f"{name}.jsonl").read_text()
