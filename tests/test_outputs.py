"""Outputs written through symbolic links."""

from __future__ import annotations

import os
import stat

from curate.io import read_records
from curate.sinks import write_records


def test_an_output_that_is_a_link_stays_a_link_and_its_target_gets_the_rows(tmp_path, run_cli, examples):
    # the link was replaced by a file beside it, and the file it pointed to kept the old rows
    source = tmp_path / "in.jsonl"
    write_records(source, examples)
    big_disk = tmp_path / "big"
    big_disk.mkdir()
    write_records(big_disk / "out.jsonl", examples[:1])
    (big_disk / "parts").mkdir()
    (tmp_path / "out.jsonl").symlink_to(big_disk / "out.jsonl")
    (tmp_path / "parts").symlink_to(big_disk / "parts")
    (tmp_path / "dangling.jsonl").symlink_to(big_disk / "new.jsonl")
    for output in ("out.jsonl", "parts", "dangling.jsonl"):
        code, _, err = run_cli("curate", "filter", str(source), "-o", str(tmp_path / output))
        assert code == 0, err
        assert os.path.islink(tmp_path / output), output
    assert list(read_records(big_disk / "out.jsonl")) == list(read_records(source))
    assert list(read_records(big_disk / "new.jsonl")) == list(read_records(source))
    assert [p.name for p in (big_disk / "parts").iterdir()] == ["part-00000.jsonl"]
    assert list(read_records(big_disk / "parts")) == list(read_records(source))
    assert sorted(p.name for p in big_disk.iterdir()) == ["new.jsonl", "out.jsonl", "parts"]  # nothing left beside


def test_a_link_to_a_device_is_not_followed(tmp_path, run_cli, examples, monkeypatch):
    # (a review's) out.jsonl -> /dev/null: the run replaced /dev/null, as root, with a regular
    # file. A FIFO of our own stands in for the device: nothing outside tmp_path is touched.
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.jsonl"
    write_records(source, examples)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "out.jsonl").symlink_to(tmp_path / "pipe")
    code, _, err = run_cli("curate", "filter", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe", follow_symlinks=False).st_mode)  # still a pipe
    assert list(read_records(tmp_path / "out.jsonl")) == list(read_records(source))  # the link's place has the rows
