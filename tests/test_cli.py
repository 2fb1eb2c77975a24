import re

import pytest

from curate.sinks import write_records

LLM_OPTIONS = ["--base-url", "--model", "--api-key", "--concurrency", "--temperature", "--max-tokens", "--seed",
               "--cache", "--no-cache", "--timeout", "--max-retries", "--backend", "--endpoint", "--config"]
CURATE_COMMANDS = {
    "export": ["--output", "--format", "--pairs", "--dataset-info", "--dataset-name", "--rejects", "--map",
               "--config"],
    "convert": ["--output", "--keep-extra", "--skip-invalid", "--rejects", "--map", "--config"],
    "stats": ["--output", "--tokenizer", "--json", "--rejects", "--map", "--config"],
    "mix": ["INPUT", "--output", "--total", "--seed", "--replace", "--rejects", "--config"],
    "evol": ["INPUT", "--output", "--rejects", "--rounds", "--op-weights", "--lang", "--prompts", *LLM_OPTIONS],
    "self-instruct": ["INPUT", "--output", "--num-instructions", "--rouge-threshold", "--max-instances", *LLM_OPTIONS],
    "respond": ["--output", "--rejects", "--restart", "--allow-failures", "--summary-json", "--n", "--skip-answered", "--keep-truncated", "--map", *LLM_OPTIONS],
    "judge": ["--output", "--min-score", "--lang", *LLM_OPTIONS],
    "dedup": ["--output", "--fields", "--threshold", "--num-perm", "--ngram", "--keep", "--workers", "--rejects"],
    "filter": ["--output", "--min-instruction-words", "--max-output-words", "--refusal-words", "--blacklist",
               "--max-symbol-ratio", "--max-repeated-ngrams", "--rejects"],
    "rank": ["--output", "--kind", "--min-gap", "--rejects"],
    "report": ["--output", "--rejects", "--splits", "--bins", "--config"],
    "pii": ["--output", "--mode", "--salt", "--types", "--names", "--workers", "--report", "--drop", "--rejects",
            "--map"],
    "split": ["--output", "--by", "--splits", "--max-per-user", "--salt", "--missing", "--drop-leaks",
              "--leak-threshold", "--suffix", "--rejects", "--config"],
}


@pytest.mark.parametrize("prog, command, options", [
    ("curate", None, ["--debug"]),
    ("train", None, ["--debug"]),
    ("train", "preview", ["INPUT", "--tokenizer", "--limit", "--train-on", "--config"]),
    ("train", "sft", ["INPUT", "--output", "--model", "--epochs", "--learning-rate", "--batch-size",
                      "--gradient-accumulation", "--max-length", "--chat-template", "--lora", "--lora-rank",
                      "--lora-alpha", "--lora-target-modules", "--packing", "--train-on", "--config"]),
    ("train", "rm", ["INPUT", "--output", "--model", "--max-steps", "--lora"]),
    ("train", "dpo", ["INPUT", "--output", "--model", "--beta", "--loss-type", "--precompute-ref", "--pairs"]),
    ("train", "score", ["INPUT", "--model", "--output", "--max-length", "--batch-size", "--rejects"]),
    *(("curate", name, options) for name, options in CURATE_COMMANDS.items()),
])
def test_help_explains_every_option(run_cli, monkeypatch, prog, command, options):
    monkeypatch.setenv("COLUMNS", "120")  # at 80 columns rich cuts the longest option names (…)
    code, out, _ = run_cli(prog, *([command] if command else []), "--help")
    assert code == 0
    for option in options:
        # each option is listed with words of explanation after it on its own line: not just its
        # metavar (TEXT, FLOAT), its aliases or negation (-o, --no-...) or a [default: ...]
        listed = re.compile(r"^│[ *]{1,6}" + re.escape(option) + r"(?![\w-])")  # where its row starts
        line = next((line for line in out.splitlines() if listed.search(line)), None)
        assert line is not None, f"{option} is not listed"
        after = re.split(re.escape(option) + r"(?![\w-])", line, maxsplit=1)[1]
        after = re.sub(r"\[[^\]]*\]?", " ", after)
        prose = [word for word in re.findall(r"(?<![\w-])[A-Za-z][a-z]{2,}\b", after)]
        assert len(prose) >= 2, f"{option} has no explanation: {line.strip()}"


def all_commands(prog):
    import typer

    from curate.cli import COMMANDS
    from train.cli import app as train_app

    if prog == "curate":
        return list(COMMANDS)
    return [command.name for command in typer.main.get_group(train_app).commands.values()]


@pytest.mark.parametrize("prog, command", [*(("curate", name) for name in all_commands("curate")),
                                           *(("train", name) for name in all_commands("train"))])
def test_every_command_has_the_one_shape(run_cli, monkeypatch, prog, command):
    """INPUT, -o, --rejects and --config on every command, found by walking them all (a new
    command that breaks the shape fails here). Trainers write a model, not records, so they
    have no --rejects; preview prints to the terminal, so it has no -o."""
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(prog, command, "--help")
    assert code == 0
    wanted = ["INPUT", "--output", "-o", "--config"]
    if prog == "curate" or command == "score":
        wanted.append("--rejects")
    if (prog, command) == ("train", "preview"):
        wanted.remove("--output"), wanted.remove("-o")
    usage = out.split("Usage:")[1].splitlines()[0]
    assert "INPUT" in usage, usage
    for option in wanted:
        assert re.search(r"(^|[\s│,])" + re.escape(option) + r"\b", out), f"{prog} {command}: no {option}"


def test_the_command_list_is_each_commands_own_first_paragraph():
    from curate.cli import COMMANDS, StageCommands, load_module

    import typer.core

    for name, (module, _, line) in COMMANDS.items():
        command = load_module(module).commands[name]
        first = " ".join(command.help.split("\n\n")[0].split())
        assert first == line, name
    assert issubclass(StageCommands, typer.core.TyperGroup)


@pytest.mark.parametrize("argv, not_loaded", [
    (["--help"], ["pydantic", "curate.records", "curate.commands.generate", "curate.commands.curation"]),
    (["filter", "--help"], ["asyncio", "numpy", "curate.llm", "curate.commands.generate"]),
    (["respond", "--help"], ["asyncio", "numpy", "aiohttp", "torch", "curate.llm", "curate.commands.curation"]),
])
def test_help_loads_only_what_it_shows(argv, not_loaded):
    """Start-up stays fast because --help imports no stage it does not show and no client or
    array library (bench/startup.py times it; this says why it is fast)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom curate.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
             "print('loaded:', *(m for m in %r if m in sys.modules), file=sys.stderr)") % (argv, not_loaded)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Usage:" in result.stdout, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "loaded:"


def test_a_mistyped_command_suggests_the_right_one(run_cli):
    code, _, err = run_cli("curate", "fitler", "x.jsonl")
    assert code == 2 and "Did you mean 'filter'?" in err


def test_top_level_help_lists_the_commands(run_cli):
    _, out, _ = run_cli("curate", "--help")
    assert all(name in out for name in CURATE_COMMANDS)


@pytest.mark.parametrize("argv", [
    ["export", "in.jsonl"],  # missing --output
    ["export", "in.jsonl", "-o", "o.json", "--format", "yaml"],
    ["export", "in.jsonl", "-o", "o.json", "--no-such-option"],
    ["frobnicate"],
])
def test_bad_usage_exits_2(tmp_path, run_cli, examples, argv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_records(tmp_path / "in.jsonl", examples)
    code, _, err = run_cli("curate", *argv)
    assert code == 2 and err.strip()


@pytest.mark.parametrize("argv", [
    ["dedup", "in.jsonl", "-o", "-", "--rejects", "-"],
    ["pii", "in.jsonl", "-o", "-", "--rejects", "-", "--drop", "EMAIL"],
    ["pii", "in.jsonl", "-o", "-", "--report", "-"],
    ["filter", "in.jsonl", "-o", "-", "--rejects", "-"],
])
def test_two_outputs_on_stdout_are_refused(tmp_path, run_cli, examples, argv, monkeypatch):
    # kept and rejected records came out interleaved on stdout, with exit 0 (walk-through)
    monkeypatch.chdir(tmp_path)
    write_records(tmp_path / "in.jsonl", examples)
    code, out, err = run_cli("curate", *argv)
    assert code == 2 and "cannot both go to stdout" in err and not out


def test_a_config_files_mistakes_are_named_as_keys_of_that_file(tmp_path, run_cli, examples, monkeypatch):
    # a misspelt YAML key was reported as a flag nobody typed: "--mdoe: Extra inputs are not permitted"
    monkeypatch.chdir(tmp_path)
    write_records(tmp_path / "in.jsonl", examples)
    (tmp_path / "typo.yaml").write_text("mdoe: hash\n")
    (tmp_path / "bad.yaml").write_text("workers: 0\n")
    code, _, err = run_cli("curate", "pii", "in.jsonl", "-o", "out.jsonl", "--config", "typo.yaml")
    assert code == 2 and "mdoe in typo.yaml: no such option; did you mean 'mode'?" in err and "--mdoe" not in err
    code, _, err = run_cli("curate", "pii", "in.jsonl", "-o", "out.jsonl", "--config", "bad.yaml")
    assert code == 2 and "workers in bad.yaml: Input should be greater than or equal to 1" in err
    code, _, err = run_cli("curate", "pii", "in.jsonl", "-o", "out.jsonl", "--config", "bad.yaml", "--workers", "0")
    assert code == 2 and "--workers: Input should be" in err  # the flag given wins, and is named as a flag
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_input_file_exits_2(tmp_path, run_cli):
    code, _, err = run_cli("curate", "stats", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "nope.jsonl: no such file" in err


def test_errors_are_one_line_unless_debug(tmp_path, run_cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": 1}\n')
    code, _, err = run_cli("curate", "stats", str(bad))
    assert code == 1
    assert err.strip().splitlines() == [f"curate: error: {bad}:1: field 'instruction': "
                                        "Input should be a valid string (got int 1)"]
    code, _, err = run_cli("curate", "--debug", "stats", str(bad))
    assert code == 1 and "Traceback" in err and err.strip().endswith("(got int 1)")


def test_split_command(tmp_path, run_cli):
    from curate.io import read_records
    from curate.sinks import write_records
    from curate.records import Example

    records = [Example(instruction=f"Question {i} on topic {i}", output="a", user_id=f"u{i % 40}") for i in range(200)]
    write_records(tmp_path / "in.jsonl", records)
    code, _, err = run_cli("curate", "split", str(tmp_path / "in.jsonl"), "--out-dir", str(tmp_path / "out"),
                           "--max-per-user", "3", "--splits", "train=0.5,test=0.5")
    assert code == 0, err
    parts = {name: list(read_records(tmp_path / "out" / f"{name}.jsonl")) for name in ("train", "test")}
    users = {name: {r.user_id for r in rows} for name, rows in parts.items()}
    assert not users["train"] & users["test"] and len(users["train"] | users["test"]) == 40
    assert sum(map(len, parts.values())) == 40 * 3 and "dropped: over_user_cap" in err


def test_help_keeps_angle_bracket_placeholders(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli("curate", "pii", "--help")
    assert code == 0 and "placeholder: <EMAIL>;" in out


def test_seeds_are_the_input_and_folders_are_dash_o(server, seeds_file, tmp_path, run_cli, examples):
    from curate.sinks import write_records

    common = ["--base-url", server.url, "--no-cache", "--rounds", "1"]
    code, _, err = run_cli("curate", "evol", str(seeds_file), "-o", str(tmp_path / "a.jsonl"), *common)
    assert code == 0, err
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(tmp_path / "b.jsonl"), *common)
    lines = [sorted((tmp_path / name).read_text().splitlines()) for name in ("a.jsonl", "b.jsonl")]
    assert code == 0 and lines[0] == lines[1]  # the same records (lineages finish in any order)
    code, _, err = run_cli("curate", "evol", str(seeds_file), "--seeds", str(seeds_file), "-o",
                           str(tmp_path / "c.jsonl"), *common)
    assert code == 2 and "not both" in err
    src = tmp_path / "records.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "split", str(src), "-o", str(tmp_path / "splits"), "--missing", "singleton")
    assert code == 0 and (tmp_path / "splits" / "train.jsonl").exists(), err
    code, _, err = run_cli("curate", "report", str(src), "-o", str(tmp_path / "report"))
    assert code == 0 and (tmp_path / "report" / "index.html").exists(), err


@pytest.mark.parametrize("prog, command", [*(("curate", name) for name in all_commands("curate")),
                                           *(("train", name) for name in all_commands("train"))])
def test_help_at_80_columns_cuts_nothing(run_cli, monkeypatch, prog, command):
    """A pipe or a small terminal gets 80 columns: long option names (--gradient-accumulation)
    and paths in help fold onto the next line instead of ending in an ellipsis."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(prog, command, "--help")
    assert code == 0 and "…" not in out


def test_the_summary_time_counts_from_the_command_start_not_from_the_stage(tmp_path, run_cli, monkeypatch):
    # a user's clock starts when the command does: imports and the worker pool count too
    import json
    import time

    import curate.cli

    (tmp_path / "in.jsonl").write_text('{"instruction": "hi"}\n', encoding="utf-8")
    monkeypatch.setattr(curate.cli, "_IMPORTED_AT", time.perf_counter() - 30)  # as if start-up took 30 s
    code, _, err = run_cli("curate", "filter", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "a.jsonl"),
                           "--summary-json", str(tmp_path / "a.json"))
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text())["seconds"] >= 30
    code, _, err = run_cli("curate", "filter", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "b.jsonl"),
                           "--summary-json", str(tmp_path / "b.json"))
    assert code == 0, err
    assert json.loads((tmp_path / "b.json").read_text())["seconds"] < 30  # the next command starts at its call


@pytest.mark.parametrize("flags, clash", [
    (["dedup", "IN", "-o", "OUT", "--summary-json", "IN"], "INPUT and --summary-json name the same file"),
    (["dedup", "IN", "-o", "OUT", "--rejects", "REJ", "--summary-json", "REJ"], "--rejects and --summary-json"),
    (["pii", "IN", "-o", "OUT", "--report", "REP", "--summary-json", "REP"], "--report and --summary-json"),
    (["filter", "IN", "-o", "OUT", "--summary-json", "OUT"], "--output and --summary-json"),
    (["--summary-json", "IN", "pii", "IN", "-o", "OUT"], "INPUT and --summary-json"),  # given before the command
    (["dedup", "IN", "-o", "PARTS/", "--summary-json", "PARTS/"], "is inside --output"),  # into the parts
    # the files named by options and older spellings, and the sources of mix (review: all were replaced)
    (["dedup", "IN", "-o", "OUT", "--against", "EVAL", "--summary-json", "EVAL"], "--against and --summary-json"),
    (["dedup", "IN", "-o", "OUT", "--config", "CONF", "--summary-json", "CONF"], "--config and --summary-json"),
    (["mix", "IN:0.5", "EVAL:0.5", "-o", "OUT", "--total", "2", "--summary-json", "EVAL"], "--summary-json name the same"),
    (["evol", "--seeds", "SEEDS", "-o", "OUT", "--summary-json", "SEEDS"], "--seeds and --summary-json"),
    (["evol", "SEEDS", "-o", "OUT", "--cache", "CACHE", "--summary-json", "CACHE"], "--cache and --summary-json"),
    # split's -o is a folder whatever its name; export's dataset_info.json; a folder of input
    # shards, which reads every record file in it; stdout; a file taken for a folder (walk-through)
    (["split", "IN", "-o", "SPLITS", "--summary-json", "SPLITS/train.jsonl"], "is inside --output"),
    (["export", "IN", "-o", "LF/data.json", "--format", "alpaca", "--dataset-info", "--summary-json",
      "LF/dataset_info.json"], "--dataset-info and --summary-json"),
    (["pii", "SHARDS", "-o", "OUT", "--summary-json", "SHARDS/part-00000.jsonl"], "is inside INPUT"),
    (["pii", "SHARDS", "-o", "OUT", "--summary-json", "SHARDS/"], "is inside INPUT"),
    (["pii", "IN", "-o", "OUT", "--summary-json", "-"], "not to stdout"),
    (["pii", "IN", "-o", "OUT", "--summary-json", "NOTES"], "and this one is a file"),
])
def test_summary_json_never_replaces_a_file_of_the_command(tmp_path, run_cli, flags, clash, monkeypatch):
    # it was written over whatever it named: the input, the rejects, the report
    monkeypatch.chdir(tmp_path)  # `--summary-json -` made a folder named - where the tests ran
    names = {"IN": "in.jsonl", "OUT": "out.jsonl", "REJ": "rejects.jsonl", "REP": "report.json", "PARTS/": "parts/",
             "EVAL": "eval.jsonl", "CONF": "dedup.yaml", "SEEDS": "seeds.json", "CACHE": "cache.sqlite",
             "SPLITS": "splits.d", "SPLITS/train.jsonl": "splits.d/train.jsonl", "LF/data.json": "lf/data.json",
             "LF/dataset_info.json": "lf/dataset_info.json", "SHARDS": "shards",
             "SHARDS/part-00000.jsonl": "shards/part-00000.jsonl", "SHARDS/": "shards/", "NOTES": "notes"}
    row = '{"instruction": "A question that is long enough to keep?", "output": "Yes."}\n'
    for name in ("in.jsonl", "eval.jsonl"):
        (tmp_path / name).write_text(row)
    (tmp_path / "dedup.yaml").write_text("threshold: 0.9\n")
    (tmp_path / "seeds.json").write_text('["Write a haiku about rain."]\n')
    (tmp_path / "cache.sqlite").write_bytes(b"not touched")
    (tmp_path / "notes").write_text("mine\n")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "part-00000.jsonl").write_text(row)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def path(flag: str) -> str:
        name, _, weight = flag.partition(":")
        return str(tmp_path / names[name]) + (f":{weight}" if weight else "") if name in names else flag
    code, _, err = run_cli("curate", *map(path, flags))
    assert code == 2 and clash in err
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_summary_json_in_a_folder_beside_the_files_is_fine(tmp_path, run_cli):
    source = tmp_path / "run" / "in.jsonl"
    source.parent.mkdir()
    source.write_text('{"instruction": "A question that is long enough to keep?", "output": "Yes."}\n')
    code, _, err = run_cli("curate", "filter", str(source), "-o", str(tmp_path / "run" / "out.jsonl"),
                           "--summary-json", str(tmp_path / "run"))
    assert code == 0, err
    assert (tmp_path / "run" / "out.filter.summary.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["pii", "IN", "-o", "OUT", "--mode", "nope"], "curate: error: Invalid value for '--mode': 'nope' is not one of"),
    (["dedup", "IN", "-o", "OUT", "--force"], "curate: error: No such option: --force"),
    (["dedup"], "curate: error: Missing argument 'INPUT'."),
])
def test_a_bad_flag_is_one_line_naming_the_help_to_read(tmp_path, run_cli, argv, message):
    # click's four-line usage block gave way to one line, like every other error of a run
    source = tmp_path / "in.jsonl"
    source.write_text('{"instruction": "hi"}\n', encoding="utf-8")
    argv = [str(source) if a == "IN" else str(tmp_path / "out.jsonl") if a == "OUT" else a for a in argv]
    code, out, err = run_cli("curate", *argv)
    assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1
    assert f"(see 'curate {argv[0]} -h')" in err and not (tmp_path / "out.jsonl").exists()
