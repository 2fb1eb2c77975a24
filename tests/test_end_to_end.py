"""The whole flow through the CLI, against the scripted server, ending in a few SFT steps."""

import json

from curate.io import read_records


def test_seeds_to_trained_model(server, seeds_file, tmp_path, run_cli, tiny_model_dir):
    w = tmp_path
    llm = ["--base-url", server.url, "--no-cache", "--concurrency", "4"]

    def ok(prog, *argv):
        code, out, err = run_cli(prog, *argv)
        assert code == 0, f"{prog} {argv[0]}: {err}"
        return err

    ok("curate", "evol", "--seeds", str(seeds_file), "-o", str(w / "evol.jsonl"), "--rounds", "2",
       "--rejects", str(w / "evol_rejects.jsonl"), *llm)
    ok("curate", "respond", str(w / "evol.jsonl"), "-o", str(w / "answered.jsonl"), "--n", "2", *llm)
    ok("curate", "dedup", str(w / "answered.jsonl"), "-o", str(w / "deduped.jsonl"), "--rejects", str(w / "dups.jsonl"))
    ok("curate", "judge", str(w / "deduped.jsonl"), "-o", str(w / "judged.jsonl"), "--rejects",
       str(w / "judge_rejects.jsonl"), *llm)
    ok("curate", "pii", str(w / "judged.jsonl"), "-o", str(w / "clean.jsonl"), "--workers", "1")
    ok("curate", "split", str(w / "clean.jsonl"), "--out-dir", str(w / "splits"), "--missing", "singleton",
       "--splits", "train=0.8,test=0.2")
    ok("curate", "export", str(w / "splits" / "train.jsonl"), "-o", str(w / "data" / "sft.jsonl"), "--format", "trl")
    ok("train", "sft", "--data", str(w / "data" / "sft.jsonl"), "-o", str(w / "model"), "--model", str(tiny_model_dir),
       "--max-steps", "3", "--batch-size", "4")

    evolved = list(read_records(w / "evol.jsonl"))
    assert {r.meta["evol"]["round"] for r in evolved} == {0, 1, 2}
    judged = list(read_records(w / "judged.jsonl"))
    assert judged and all(r.meta["judge"]["score"] >= 4 for r in judged)
    train = list(read_records(w / "splits" / "train.jsonl"))
    test = list(read_records(w / "splits" / "test.jsonl")) if (w / "splits" / "test.jsonl").stat().st_size else []
    assert len(train) + len(test) == len(judged)
    for record in train:  # provenance survives every stage
        assert {"evol", "responses", "dedup", "judge", "split"} <= set(record.meta)
    log = json.loads((w / "model" / "training_args.json").read_text())
    assert log["trainer"] == "sft" and any("loss" in entry for entry in log["log"])

    # the report of the run: a page, and a plot for each thing the data holds
    ok("curate", "report", str(w / "judged.jsonl"), "--out", str(w / "report"), "--splits", str(w / "splits"),
       "--rejects", str(w / "evol_rejects.jsonl"), "--rejects", str(w / "judge_rejects.jsonl"))
    page = (w / "report" / "index.html").read_text()
    for image in ("instruction_lengths", "output_lengths", "judge_scores", "drops", "splits", "evol_rounds",
                  "evol_operations"):
        assert (w / "report" / f"{image}.png").stat().st_size > 1000 and f'src="{image}.png"' in page
    assert "equal_to_parent" in page  # drops by reason, read from the rejects files
