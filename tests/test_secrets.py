"""The API key appears in the Authorization header and nowhere else."""

import json


def test_key_never_reaches_outputs_logs_caches_or_errors(server, seeds_file, tmp_path, run_cli):
    key = "sk-proj-LEAKCHECK-0123456789abcdef"
    server.fault = lambda payload, count: "500" if "hash table" in json.dumps(payload) else None
    files = {"out": tmp_path / "out.jsonl", "rejects": tmp_path / "rejects.jsonl", "cache": tmp_path / "c.sqlite"}
    code, out, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(files["out"]),
                             "--rejects", str(files["rejects"]), "--cache", str(files["cache"]),
                             "--base-url", server.url, "--api-key", key, "--rounds", "1", "--max-retries", "1")
    assert code == 1 and "failed: http_500" in err and "items failed for good" in err
    assert all(h["Authorization"] == f"Bearer {key}" for h in server.headers)
    for text in (out, err, *(path.read_bytes().decode("utf-8", "replace") for path in files.values())):
        assert key not in text
    # a bad-usage error that involves the key does not print it either
    code, _, err = run_cli("curate", "evol", "--seeds", str(seeds_file), "-o", str(tmp_path / "x.jsonl"),
                           "--api-key", key, "--backend", "openai", "--base-url", "", "--no-cache")
    assert code == 2 and key not in err


def test_the_pii_salt_never_reaches_the_summary_or_the_report(tmp_path, run_cli):
    # it was written out among the settings, and from there into the HTML report meant for sharing
    salt = "SALT-LEAKCHECK-7f3e"
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"instruction": "Mail ann.lee@example.com about it.", "output": "Done."}) + "\n")
    config = tmp_path / "pii.yaml"
    config.write_text(f"mode: hash\nsalt: {salt}\n")
    for how in (["--mode", "hash", "--salt", salt], ["--config", str(config)]):
        run = tmp_path / f"run{len(how)}"
        code, out, err = run_cli("curate", "pii", str(source), "-o", str(run / "out.jsonl"), "--report",
                                 str(run / "report.jsonl"), "--summary-json", str(run), *how)
        assert code == 0, err
        summaries = list(run.glob("*.summary.json"))
        assert summaries and json.loads(summaries[0].read_text())["config"]["mode"] == "hash"
        code, _, err = run_cli("curate", "report", str(run), "-o", str(tmp_path / f"html{len(how)}"))
        assert code == 0, err
        written = [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()
                   and p != config]
        assert written and not any(salt in text for text in written + [out, err])


def test_a_record_that_fails_validation_is_described_without_its_values(tmp_path, run_cli):
    # the error echoed the first 60 characters of the wrong value: an API key pasted into
    # history, an email given as a user_id object, printed by the very stage meant to scrub them
    key, email = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "ann.lee@example.com"
    rows = [{"instruction": "ok", "history": f"my key {key}"}, {"instruction": "ok", "user_id": {"mail": email}},
            {"instruction": "ok", "output": 5}]
    for row in rows:
        source = tmp_path / "in.jsonl"
        source.write_text(json.dumps(row) + "\n")
        code, out, err = run_cli("curate", "pii", str(source), "-o", str(tmp_path / "out.jsonl"))
        assert code == 1 and "in.jsonl:1: field '" in err
        assert key not in err + out and email not in err + out
    assert "(got int 5)" in err  # a small number can hold no secret: shown as it is
    source.write_text(json.dumps({"instruction": "ok", "output": 4111111111111111}) + "\n")  # but a card can
    err = run_cli("curate", "pii", str(source), "-o", str(tmp_path / "out.jsonl"))[2]
    assert "(got int of 16 digits)" in err and "4111" not in err
    source.write_text(json.dumps(rows[0]) + "\n")
    assert "(got str of 55 characters)" in run_cli("curate", "dedup", str(source), "-o", str(tmp_path / "o.jsonl"))[2]
