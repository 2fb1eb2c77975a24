import json
import random
import re
from pathlib import Path

import pytest

from curate.filters.dedup import DedupConfig, dedup_records, near_duplicate_pairs
from curate.filters.minhash import tokens
from curate.io import read_records
from curate.sinks import write_records
from curate.errors import UsageError
from curate.records import Example
from tests.conftest import write_jsonl

WORDS = ("river mountain quiet lantern copper meadow violet thunder harbor orchard glacier falcon pepper canyon "
         "saddle velvet marble ember willow prism cobalt sparrow tundra basalt lagoon quartz juniper nectar").split()
HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定"


def essay(rng, n=120):
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 99)) for _ in range(n))


def edit(text, rng, changes):
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = "edited" + str(rng.randint(0, 10**6))
    return " ".join(words)


def shingle_set(text, n=5):
    t = tokens(text)
    return {tuple(t[i : i + n]) for i in range(max(1, len(t) - n + 1))} if t else set()


def true_jaccard(a, b):
    x, y = shingle_set(a), shingle_set(b)
    return len(x & y) / len(x | y)


def test_exact_duplicates_after_normalisation():
    records = [Example(instruction="Hello  World"), Example(instruction="hello world"),
               Example(instruction="Ｈｅｌｌｏ\tworld"), Example(instruction="Hello, World")]
    kept, removed = dedup_records(records)
    assert [r.instruction for r in kept] == ["Hello  World"]
    reasons = {r.instruction: why for r, why in removed}
    assert reasons["hello world"] == reasons["Ｈｅｌｌｏ\tworld"] == "exact_duplicate"
    assert reasons["Hello, World"] == "near_duplicate"  # punctuation differs: same words, J = 1
    assert all(r.meta["dedup"]["cluster"] == records[0].id for r, _ in removed)


def test_near_duplicates_are_found_and_verified():
    rng = random.Random(7)
    originals = [essay(rng) for _ in range(300)]
    near = [edit(originals[i], rng, 2) for i in range(20)]  # J around 0.85
    far = [edit(originals[i], rng, 12) for i in range(20, 40)]  # J well below 0.8
    texts = originals + near + far
    pairs = near_duplicate_pairs(texts, DedupConfig())
    expected = {(i, 300 + i) for i in range(20) if true_jaccard(originals[i], near[i]) >= 0.8}
    assert len(expected) >= 15 and expected <= pairs
    for i, j in pairs:  # precision: every reported pair truly clears the threshold
        assert true_jaccard(texts[i], texts[j]) >= 0.8


def test_chinese_near_duplicates_use_characters():
    rng = random.Random(11)
    base = "".join(rng.choice(HANZI) for _ in range(200))
    copy = base[:100] + "变" + base[101:]
    other = "".join(rng.choice(HANZI) for _ in range(200))
    kept, removed = dedup_records([Example(instruction=base), Example(instruction=copy), Example(instruction=other)])
    assert [why for _, why in removed] == ["near_duplicate"] and removed[0][0].instruction == copy
    assert true_jaccard(base, copy) >= 0.8


@pytest.mark.parametrize("keep, expected", [("first", 0), ("longest", 1), ("best-score", 2)])
def test_keep_policies(keep, expected):
    rng = random.Random(5)
    text = essay(rng)
    records = [Example(instruction=text),
               Example(instruction=text + " extra"),
               Example(instruction=edit(text, rng, 1), meta={"judge": {"score": 5}})]
    kept, removed = dedup_records(records, DedupConfig(keep=keep))
    assert [r.id for r in kept] == [records[expected].id]
    assert kept[0].meta["dedup"] == {"cluster": records[expected].id, "size": 3} and len(removed) == 2


def test_keep_longest_counts_the_answer_and_not_the_padding(tmp_path, run_cli):
    # it kept a copy padded with spaces over one with a long answer (walk-through)
    question = "Explain how vaccines train the immune system to recognise pathogens."
    rows = [{"id": "clean", "instruction": question, "output": "A long, detailed answer about antigens. " * 5},
            {"id": "padded", "instruction": question + "      ", "output": "Short."},
            {"id": "spaced", "instruction": question.replace(" ", "   "), "output": "Also short."}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, _ = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "longest")
    assert code == 0
    assert [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == ["clean"]
    kept, _ = dedup_records([Example(**row) for row in rows], DedupConfig(keep="longest"))
    assert [record.id for record in kept] == ["clean"]


def test_the_work_folder_is_on_the_outputs_disk_or_where_work_dir_says(tmp_path, run_cli):
    # with the output's folder not made yet, or --work-dir missing or a file, the sketches went
    # to /tmp (often memory-backed), without a word (walk-through)
    from curate.filters.lsh import work_folder

    with work_folder(tmp_path / "not" / "made" / "yet") as folder:
        assert Path(folder).parent == tmp_path
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a"}, {"instruction": "a"}])
    (tmp_path / "afile").write_text("")
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"),
                           "--work-dir", str(tmp_path / "afile"))
    assert code == 2 and "--work-dir" in err and "is a file" in err and not (tmp_path / "out.jsonl").exists()
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"),
                           "--work-dir", str(tmp_path / "new" / "work"))
    assert code == 0, err
    assert not (tmp_path / "new").exists()  # made for the run, it went with it (its sketches first)
    code, _, err = run_cli("curate", "dedup", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                           "--work-dir", str(tmp_path / "made_for_nothing"))
    assert code == 2 and "no such file" in err and not (tmp_path / "made_for_nothing").exists()
    with pytest.raises(UsageError, match="is a file"):
        dedup_records([Example(instruction="a")], DedupConfig(work_dir=tmp_path / "afile"))


@pytest.mark.parametrize("keep", ["longest", "best-score"])
def test_two_answers_to_one_prompt_keep_the_better_though_they_share_a_derived_id(tmp_path, run_cli, keep):
    # a derived id hashes the prompt alone, so the second answer's id repeated the first's and
    # it was never kept: --keep longest kept "Leaves fall." over the haiku (walk-through)
    question = "Write a haiku about autumn leaves."
    rows = [{"instruction": question, "output": "Leaves fall.", "meta": {"judge": {"score": 2}}},
            {"instruction": question, "output": "Red leaves drift and fall\nthe maple lets go slowly\ncold wind "
             "takes the rest", "meta": {"judge": {"score": 5}}}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", keep,
                           "--rejects", str(tmp_path / "rejects.jsonl"))
    assert code == 0, err
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["output"] for row in kept] == [rows[1]["output"]]
    assert [json.loads(line)["meta"]["rejected"]["reason"]
            for line in (tmp_path / "rejects.jsonl").read_text().splitlines()] == ["exact_duplicate"]
    kept_records, _ = dedup_records([Example(**row) for row in rows], DedupConfig(keep=keep))
    assert [record.output for record in kept_records] == [rows[1]["output"]]


def test_keep_best_score_with_no_scores_is_a_usage_error_and_writes_nothing(tmp_path, run_cli):
    # it kept each cluster's first record, silently: not what the user asked for
    rng = random.Random(5)
    text = essay(rng)
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": text}, {"instruction": text + " extra"}])
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "best-score")
    assert code == 2 and "no record has a meta.judge.score" in err and "--keep first" in err
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(UsageError, match="best-score"):
        dedup_records([Example(instruction=text), Example(instruction=text + " extra")], DedupConfig(keep="best-score"))


def test_keep_best_score_on_a_file_never_judged_fails_before_reading_it(tmp_path, run_cli):
    # it read, sketched and linked the whole input first: hours at 100M records
    rng = random.Random(6)
    text = essay(rng)
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": text}, {"instruction": text + " extra"}])
    with source.open("a") as stream:
        stream.write("{not json\n")  # reading this far would fail on line 3 instead
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "best-score")
    assert code == 2 and "no record has a meta.judge.score" in err and "in.jsonl:3" not in err


def test_keep_best_score_without_scores_fails_before_linking(tmp_path, run_cli, monkeypatch):
    # a prompt that says "judge" (or a \u00 escape) can hide a file without scores from the
    # quick look; then the scores read in pass one say so, before any linking
    import curate.filters.dedup

    def linking(*_):
        raise AssertionError("linked records that cannot be kept by score")
    monkeypatch.setattr(curate.filters.dedup, "cluster_store", linking)
    rng = random.Random(7)
    text = "Please judge this essay fairly: " + essay(rng)
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": text}, {"instruction": text + " extra"}])
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "best-score")
    assert code == 2 and "no record has a meta.judge.score" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_keep_best_score_counts_the_records_without_a_score(tmp_path, run_cli):
    rng = random.Random(5)
    text = essay(rng)
    rows = [{"instruction": text}, {"instruction": text + " extra", "meta": {"judge": {"score": 3}}},
            {"instruction": essay(rng)}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "best-score",
                           "--summary-json", str(tmp_path / "s.json"))
    assert code == 0 and json.loads((tmp_path / "s.json").read_text())["counts"]["unscored"] == 2
    kept = [json.loads(line)["instruction"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept[0] == text + " extra" and len(kept) == 2


def test_the_summary_says_when_dropped_records_are_not_kept(tmp_path, run_cli):
    text = essay(random.Random(5))
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": text}, {"instruction": text}])
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert code == 0 and "1 dropped record was not kept: add --rejects FILE" in " ".join(err.split())
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out2.jsonl"),
                           "--rejects", str(tmp_path / "rejects.jsonl"))
    assert code == 0 and "not kept" not in err


def test_worker_processes_do_not_change_the_output(tmp_path, monkeypatch):
    import curate.filters.sketching as sketching
    from curate.filters.dedup import dedup

    monkeypatch.setattr(sketching, "CHUNK_BYTES", 2000)  # many byte ranges, so the workers really split it
    rng = random.Random(9)
    base = essay(random.Random(1))
    records = [Example(instruction=essay(rng)) for _ in range(150)] + [Example(instruction=edit(base, rng, 1))
                                                                      for _ in range(10)]
    rng.shuffle(records)
    write_records(tmp_path / "in.jsonl", records)
    for workers in (1, 3):
        dedup(tmp_path / "in.jsonl", tmp_path / f"out{workers}.jsonl", DedupConfig(workers=workers),
              rejects=tmp_path / f"rej{workers}.jsonl")
    assert (tmp_path / "out1.jsonl").read_bytes() == (tmp_path / "out3.jsonl").read_bytes()
    assert (tmp_path / "rej1.jsonl").read_bytes() == (tmp_path / "rej3.jsonl").read_bytes()
    assert len(list(read_records(tmp_path / "rej1.jsonl"))) == 9


def test_cli_writes_kept_rejects_and_summary(tmp_path, run_cli):
    rng = random.Random(2)
    text = essay(rng)
    records = [Example(instruction=text, output="a"), Example(instruction=text.upper(), output="b"),
               Example(instruction=edit(text, rng, 1), output="c"), Example(instruction=essay(rng), output="d")]
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    code, _, err = run_cli("curate", "dedup", str(src), "-o", str(tmp_path / "out.jsonl"),
                           "--rejects", str(tmp_path / "rejects.jsonl"), "--fields", "instruction,input")
    assert code == 0, err
    assert [r.output for r in read_records(tmp_path / "out.jsonl")] == ["a", "d"]
    removed = {r.output: r.meta["rejected"]["reason"] for r in read_records(tmp_path / "rejects.jsonl")}
    assert removed == {"b": "exact_duplicate", "c": "near_duplicate"}
    assert "dropped: exact_duplicate" in err and "dropped: near_duplicate" in err


def test_a_repeated_id_goes_as_duplicate_id_and_its_cluster_keeps_another(tmp_path, run_cli):
    # two records with one id but different texts both stayed, under one cluster id (walk-through)
    rng = random.Random(5)
    first, second, third = essay(rng), essay(rng), essay(rng)
    records = [Example(id="a", instruction=first, output="1"), Example(id="a", instruction=second, output="2"),
               Example(id="b", instruction=second, output="3"), Example(id="a", instruction=third, output="4"),
               Example(id="c", instruction=first, output="5")]
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    code, _, err = run_cli("curate", "dedup", str(src), "-o", str(tmp_path / "out.jsonl"),
                           "--rejects", str(tmp_path / "rejects.jsonl"))
    assert code == 0, err
    kept = list(read_records(tmp_path / "out.jsonl"))
    assert [(r.id, r.output) for r in kept] == [("a", "1"), ("b", "3")]  # the second text stays, as b's
    assert kept[1].meta["dedup"] == {"cluster": "b", "size": 2}
    removed = {r.output: r.meta["rejected"]["reason"] for r in read_records(tmp_path / "rejects.jsonl")}
    # 2 has an exact copy kept (b's), 4 none: its text is unique, but its id is a's
    assert removed == {"2": "exact_duplicate", "4": "duplicate_id", "5": "exact_duplicate"}
    assert re.search(r"duplicate_id\W+1\b", err), err
    # 4's cluster keeps nothing: it names none, where its id named the cluster kept as a (1 and 5)
    clusters = {r.output: r.meta["dedup"]["cluster"] for r in read_records(tmp_path / "rejects.jsonl")}
    assert clusters == {"2": "b", "4": None, "5": "a"}
    kept, removed = dedup_records(records)
    assert [r.output for r in kept] == ["1", "3"] and [reason for _, reason in removed].count("duplicate_id") == 1
    assert {r.output: r.meta["dedup"]["cluster"] for r, _ in removed} == clusters


def test_a_misspelt_field_is_refused_before_anything_is_written(tmp_path, run_cli, examples):
    # read as empty in every record, it made the whole file one exact group: 1 record kept, exit 0
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "dedup", str(src), "-o", str(tmp_path / "out.jsonl"), "--fields",
                           "instruction,inptu")
    assert code == 2 and "'inptu'" in err and "instruction, input, output" in err, err
    assert not (tmp_path / "out.jsonl").exists()


def test_records_with_no_text_to_compare_duplicate_nothing(tmp_path, run_cli):
    # --fields input where most inputs are empty: those records stay, and are counted
    rng = random.Random(3)
    text = essay(rng)
    records = [Example(instruction=essay(rng), output=str(i)) for i in range(5)]
    records += [Example(instruction="x", input=text, output="5"), Example(instruction="y", input=text, output="6"),
                Example(instruction="z", input=" \n ", output="7")]  # only whitespace: empty too
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    code, _, err = run_cli("curate", "dedup", str(src), "-o", str(tmp_path / "out.jsonl"), "--fields", "input")
    assert code == 0, err
    assert [r.output for r in read_records(tmp_path / "out.jsonl")] == ["0", "1", "2", "3", "4", "5", "7"]
    assert re.search(r"empty text\W+6\b", err) and re.search(r"exact_duplicate\W+1\b", err), err
    kept, removed = dedup_records(records, DedupConfig(fields=["input"]))
    assert len(kept) == 7 and [reason for _, reason in removed] == ["exact_duplicate"]


def test_a_worker_without_the_work_folder_says_where_it_must_be(tmp_path):
    from curate.errors import UsageError
    from curate.filters.lsh import Verifier

    with pytest.raises(UsageError, match="--work-dir on a file system every node shares"):
        Verifier.open(str(tmp_path / "elsewhere"), 10, 128, 0.8, 0.1)


def test_dedup_runs_again_into_its_own_directory_of_parts(tmp_path):
    """The sketches go beside the output directory, never inside it (where they would be a
    stranger the directory output refuses)."""
    from curate.filters.dedup import dedup

    source = Path(__file__).parent / "data" / "t0_slice.jsonl"
    for _ in range(2):
        dedup(source, tmp_path / "out" / "*.parquet", DedupConfig(work_dir=None))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sketching_does_not_load_pandas():
    # pa.array(list) and Array.to_numpy() import pandas on first use: 0.3 s and ~30 MB more in
    # every process that sketches, for a check and a conversion dedup does not need
    import subprocess
    import sys

    probe = ("import sys\nfrom curate.filters.lsh import Sketcher\n"
             "Sketcher(128, 1, 5, 0.8).sketch(['Some English words here, more words', '中文文本测试一下吧', "
             "'mixed 中文 text', ''])\nprint('pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_prompts_that_share_an_instruction_but_not_their_input_are_not_duplicates(tmp_path, run_cli):
    # Alpaca rows: one instruction, many inputs. Compared on the instruction alone, all but one
    # went, as exact duplicates, though their ids (a hash of the prompt) differed
    rows = [{"instruction": "Translate the sentence into French.", "input": sentence, "output": "..."}
            for sentence in ("The cat sleeps on the warm windowsill.", "We missed the last train home.",
                             "Her garden is full of tomatoes this year.")]
    rows.append(dict(rows[0]))  # a true copy still goes
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"),
                           "--rejects", str(tmp_path / "rejects.jsonl"))
    assert code == 0, err
    kept = [json.loads(line)["input"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept == [row["input"] for row in rows[:3]]
    assert [json.loads(line)["meta"]["rejected"]["reason"]
            for line in (tmp_path / "rejects.jsonl").read_text().splitlines()] == ["exact_duplicate"]
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "by_instruction.jsonl"),
                           "--fields", "instruction")  # asked for, the old comparison
    assert code == 0 and len((tmp_path / "by_instruction.jsonl").read_text().splitlines()) == 1


def test_a_full_disk_says_where_and_which_flag_gives_room(tmp_path, run_cli, monkeypatch):
    # it said only "OSError: [Errno 28] No space left on device"
    import errno

    import curate.filters.sketching

    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(curate.filters.sketching, "sketch_input", full)
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": essay(random.Random(8))}])
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out" / "kept.jsonl"))
    assert code == 1 and f"no space left on the disk of {tmp_path}, where dedup keeps its work folder" in err
    assert "--work-dir" in err and "nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no work folder, no output


def test_keep_best_score_ranks_only_finite_numeric_scores(tmp_path, run_cli):
    # 1e400 reads as infinity: it won its cluster, and the kept record's score was written as null
    rng = random.Random(9)
    text = essay(rng)
    lines = ['{"instruction": "%s", "meta": {"judge": {"score": 1e400}}}' % text,
             '{"instruction": "%s again", "meta": {"judge": {"score": true}}}' % text,
             '{"instruction": "%s once more", "meta": {"judge": {"score": 3}}}' % text]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"), "--keep", "best-score",
                           "--summary-json", str(tmp_path / "s.json"))
    assert code == 0, err
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["meta"]["judge"]["score"] for row in kept] == [3]
    assert json.loads((tmp_path / "s.json").read_text())["counts"]["unscored"] == 2


def test_work_dir_inside_a_directory_output_is_refused_and_one_made_for_the_run_goes_with_it(tmp_path, run_cli):
    # inside the output's directory it was blamed at the end as "files that are not parts";
    # a --work-dir that the run made stayed behind, empty, after it
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": essay(random.Random(10))}])
    for work in ("parts", "parts/work"):
        code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "parts") + "/",
                               "--work-dir", str(tmp_path / work))
        assert code == 2 and "a directory of parts that the run replaces" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    code, _, err = run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"),
                           "--work-dir", str(tmp_path / "made"))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]
    (tmp_path / "mine").mkdir()  # one the user made stays
    assert run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "out.jsonl"),
                   "--work-dir", str(tmp_path / "mine"))[0] == 0
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())
