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
