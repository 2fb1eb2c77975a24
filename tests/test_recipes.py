"""Each recipe runs end to end against the scripted server (and the tiny model where it trains)."""

import json

from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example, Preference
from recipes import backtranslation, rejection_sampling, self_instruct, teacher_revision, user_logs, wizardlm_evol


def rows(path):
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines()]


def test_wizardlm_evol(server, seeds_file, tmp_path):
    out = wizardlm_evol.main(["--seeds", str(seeds_file), "--base-url", server.url, "--work", str(tmp_path),
                              "--rounds", "2", "--concurrency", "4"])
    data = rows(out)
    assert data and set(data[0]) == {"instruction", "input", "output", "system", "history"}
    assert "alpaca" in json.loads((tmp_path / "dataset_info.json").read_text())
    rounds = {r.meta["evol"]["round"] for r in read_records(tmp_path / "judged.jsonl")}
    assert rounds == {0, 1, 2}


def test_self_instruct(server, seeds_file, tmp_path):
    out = self_instruct.main(["--seeds", str(seeds_file), "--base-url", server.url, "--work", str(tmp_path),
                              "--num-instructions", "6", "--concurrency", "2"])
    tasks = {row["instruction"] for row in rows(out)}
    assert len(tasks) == 6 and not tasks & set(json.loads(seeds_file.read_text()))


def test_user_logs(server, tmp_path):
    log = [{"text": f"My name is John Smith, email john{i}@example.com. Question {i} about topic {i % 7}?",
            "uid": f"user{i % 9}"} for i in range(60)]
    log += [{"text": "My name is John Smith, email john0@example.com. Question 0 about topic 0?", "uid": "user0"}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    exported = user_logs.main(["--log", str(tmp_path / "log.jsonl"), "--base-url", server.url, "--work",
                               str(tmp_path / "work"), "--max-per-user", "5", "--map", "text=instruction,uid=user_id"])
    split_users = {name: {r.user_id for r in read_records(tmp_path / "work" / "splits" / f"{name}.jsonl")}
                   for name in exported}
    names = list(split_users)
    assert all(not split_users[a] & split_users[b] for a in names for b in names if a != b)
    everything = [r for name in exported for r in read_records(tmp_path / "work" / "splits" / f"{name}.jsonl")]
    assert len(everything) <= 9 * 5 and all("example.com" not in r.instruction for r in everything)
    assert all("<PERSON_1>" in r.instruction for r in everything)
    assert all(rows(path)[0]["messages"][-1]["role"] == "assistant" for path in exported.values())


def test_rejection_sampling(server, tmp_path, tiny_model_dir):
    from train.rm import RMSettings, rm

    write_records(tmp_path / "prefs.jsonl", [Preference(instruction=f"Say {w}", chosen=f"{w} yes", rejected="no")
                                              for w in ("apple", "river", "stone")])
    rm(tmp_path / "prefs.jsonl", tmp_path / "rm", RMSettings(model=str(tiny_model_dir), max_steps=2))
    write_records(tmp_path / "prompts.jsonl", [Example(instruction=f"Describe the {w}.") for w in ("moon", "sea", "sky")])
    out = rejection_sampling.main(["--prompts", str(tmp_path / "prompts.jsonl"), "--reward-model", str(tmp_path / "rm"),
                                   "--policy", str(tiny_model_dir), "--base-url", server.url, "--work",
                                   str(tmp_path / "work"), "--k", "3", "--dpo-steps", "2"])
    best = list(read_records(out["best"]))
    pairs = list(read_records(out["pairs"]))
    ranking = list(read_records(out["ranking"]))
    assert len(best) == len(pairs) == len(ranking) == 3
    for b, p, r in zip(best, pairs, ranking):
        scores = b.meta["rank"]["scores"]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        assert b.output == p.chosen == r.responses[0] and p.rejected == r.responses[-1]
        assert p.margin == scores[0] - scores[-1]
    assert (out["dpo"] / "training_args.json").exists()


def test_recipes_say_how_to_run_them():
    from recipes import instructgpt

    for module in (wizardlm_evol, self_instruct, user_logs, rejection_sampling, backtranslation, teacher_revision,
                   instructgpt):
        assert module.__doc__ and "Run as:" in module.__doc__ and callable(module.main)


def test_backtranslation(server, tmp_path):
    docs = [{"text": f"Document {i} on tide pools.\n\n" + "They hold water at low tide. " * 5} for i in range(4)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    server.reply = lambda prompt, seed: (
        "Fine.\nScore: 5" if "Rate how good" in prompt and "Document 0" not in prompt.split("Answer:")[1]
        else "Thin.\nScore: 3" if "Rate how good" in prompt else "Tell me about the tide pool document?")
    out = backtranslation.main(["--docs", str(tmp_path / "docs.jsonl"), "--base-url", server.url,
                                "--work", str(tmp_path / "work")])
    data = rows(out)
    assert len(data) == 3 and all(row["output"].startswith("Document ") for row in data)  # the score-3 one is out
    assert all("Document 0" not in row["output"] for row in data)


def test_teacher_revision(server, tmp_path, tiny_model_dir):
    server.models = ["teacher"]
    write_records(tmp_path / "prompts.jsonl", [Example(instruction=f"Explain item {i}.") for i in range(4)])
    out = teacher_revision.main(["--instructions", str(tmp_path / "prompts.jsonl"), "--base-url", server.url,
                                 "--teacher-model", "teacher", "--policy", str(tiny_model_dir), "--work",
                                 str(tmp_path / "work"), "--dpo-steps", "2"])
    pairs = list(read_records(out["pairs"]))
    assert len(pairs) == 4 and all(p.chosen.startswith("IMPROVED:") for p in pairs)
    assert (out["dpo"] / "training_args.json").exists()


def test_instructgpt_from_seeds_to_an_rl_policy(server, seeds_file, tmp_path, tiny_model_dir):
    import re

    from tests.fake_server import scripted_reply
    from recipes import instructgpt

    def varied(prompt, seed):
        """A judge that rates the server's K variants of an answer apart (the first lowest)."""
        if "Rate how good the AI assistant's answer" in prompt:
            variant = re.search(r"\(variant (\d+)\)", prompt.split("Answer:", 1)[1])
            return f"Fine.\nScore: {2 + int(variant.group(1)) if variant else 2}"
        return scripted_reply(prompt, seed)

    server.reply = varied
    out = instructgpt.main(["--seeds", str(seeds_file), "--base-url", server.url, "--work", str(tmp_path),
                            "--base-model", str(tiny_model_dir), "--rounds", "1", "--k", "3", "--steps", "2",
                            "--num-generations", "2", "--max-completion-length", "8", "--concurrency", "4"])
    best, ranking = list(read_records(out["sft_data"])), list(read_records(out["rm_data"]))
    assert best and ranking and all(len(r.responses) == 3 for r in ranking)
    for record in ranking:  # ranked by the judge's ratings of each candidate, best first
        assert record.meta["rank"]["scores"] == [4, 3, 2] and "(variant 2)" in record.responses[0]
    for name, trainer in (("sft", "sft"), ("rm", "rm"), ("rl", "rl")):
        saved = json.loads((out[name] / "training_args.json").read_text())
        assert saved["trainer"] == trainer
    again = instructgpt.main(["--seeds", str(seeds_file), "--base-url", server.url, "--work", str(tmp_path),
                              "--base-model", str(tiny_model_dir), "--rounds", "1", "--k", "3", "--steps", "2",
                              "--num-generations", "2", "--max-completion-length", "8", "--concurrency", "4"])
    assert again == out  # a re-run resumes the data stages and trains again into the same folders
    rl_log = json.loads((out["rl"] / "training_args.json").read_text())
    assert rl_log["config"]["model"] == str(out["sft"]) and rl_log["config"]["reward_model"] == [str(out["rm"])]
    assert any("ptx_loss" in entry and "kl" in entry for entry in rl_log["log"])
