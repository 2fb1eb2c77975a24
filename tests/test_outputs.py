"""Outputs that appear whole or not at all: a failed or killed write keeps the old output and
leaves nothing beside it, permissions are kept, directories of parts, symbolic links."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from curate.io import read_records
from curate.records import Example
from curate.sinks import write_records, write_rows
from tests.conftest import write_jsonl


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


def test_failed_write_keeps_the_previous_output_and_no_temp_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous contents\n")

    def rows():
        yield {"instruction": "first"}
        raise KeyboardInterrupt  # Ctrl-C half way

    with pytest.raises(KeyboardInterrupt):
        write_rows(out, rows())
    assert out.read_text() == "previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_written_files_get_normal_permissions(tmp_path, examples):
    out = tmp_path / "out.json"
    write_records(out, examples)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_replaced_output_keeps_the_permissions_of_the_file_it_replaces(tmp_path, run_cli, examples):
    """A user who locked an output to themselves (chmod 600: scrubbed prompts, a PII report) gets
    it locked again when a run writes it anew, as a file output and as a directory of parts."""
    source = tmp_path / "in.jsonl"
    write_records(source, examples)
    out, parts = tmp_path / "out.jsonl", tmp_path / "parts"
    assert run_cli("curate", "filter", str(source), "-o", str(out))[0] == 0
    assert run_cli("curate", "filter", str(source), "-o", str(parts))[0] == 0
    out.chmod(0o600)
    parts.chmod(0o700)
    for part in parts.iterdir():
        part.chmod(0o640)
    assert run_cli("curate", "filter", str(source), "-o", str(out))[0] == 0
    assert run_cli("curate", "filter", str(source), "-o", str(parts))[0] == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert parts.stat().st_mode & 0o777 == 0o700
    assert {part.stat().st_mode & 0o777 for part in parts.iterdir()} == {0o640}


@pytest.mark.parametrize("stage", ["filter", "dedup", "pii"])
@pytest.mark.parametrize("output", ["afile/out.jsonl", "afile/parts/"])
def test_an_output_that_cannot_be_written_there_is_named_not_its_temporary(tmp_path, run_cli, examples, stage, output):
    # the error named the temporary file beside it (.out.jsonl.HOST-...-PID.x1y2.tmp), a path the user never gave
    source = tmp_path / "in.jsonl"
    write_records(source, examples)
    (tmp_path / "afile").write_text("not a folder\n")
    code, _, err = run_cli("curate", stage, str(source), "-o", str(tmp_path / output))
    assert code == 2 and f"{tmp_path / output.rstrip('/')}: a folder on its path is a file" in err and ".tmp" not in err


# ---------------------------------------------------------------- directory outputs


def _lines(folder):
    return "".join(part.read_text() for part in sorted(folder.iterdir()))


def test_a_directory_output_is_the_file_output_cut_into_parts(tmp_path, run_cli, monkeypatch):
    import curate.sinks

    records = [Example(instruction=f"Question number {i}, asked plainly?", output=f"Answer {i}.") for i in range(25)]
    src = tmp_path / "in.jsonl"
    write_records(src, records)
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "one.jsonl"))
    assert code == 0, err
    monkeypatch.setattr(curate.sinks, "PART_ROWS", 10)
    for spelling in ("parts/", "bare"):  # a trailing slash, or no extension at all
        code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / spelling))
        assert code == 0, err
        folder = tmp_path / spelling.rstrip("/")
        assert sorted(p.name for p in folder.iterdir()) == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
        assert _lines(folder) == (tmp_path / "one.jsonl").read_text()
    code, _, err = run_cli("curate", "filter", str(tmp_path / "parts"), "-o", str(tmp_path / "pq" / "*.parquet"))
    assert code == 0, err
    assert len(list((tmp_path / "pq").glob("part-*.parquet"))) == 3
    assert [r.id for r in read_records(tmp_path / "pq")] == [r.id for r in read_records(tmp_path / "one.jsonl")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_directory_output_replaces_its_old_parts_only_when_the_run_succeeds(tmp_path, run_cli, monkeypatch):
    import curate.sinks

    monkeypatch.setattr(curate.sinks, "PART_ROWS", 4)
    big, small, bad = tmp_path / "big.jsonl", tmp_path / "small.jsonl", tmp_path / "bad.jsonl"
    write_records(big, [Example(instruction=f"A question that is long enough {i}?", output="Yes.") for i in range(10)])
    write_records(small, [Example(instruction="One more question, and only one?", output="Yes.")])
    bad.write_text(small.read_text() + "{not json\n")
    out = tmp_path / "out"
    assert run_cli("curate", "filter", str(big), "-o", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) == 3
    code, _, err = run_cli("curate", "filter", str(bad), "-o", str(out))
    assert code != 0 and "bad.jsonl:2" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # a failed run changes nothing
    assert run_cli("curate", "filter", str(small), "-o", str(out))[0] == 0
    assert [p.name for p in out.iterdir()] == ["part-00000.jsonl"]  # the old parts are gone, not mixed in
    assert [r.instruction for r in read_records(out)] == ["One more question, and only one?"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_directory_output_never_replaces_other_files(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Is this a question of some length?", output="Yes.")])
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(out))
    assert code == 2 and "notes.txt" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_empty_directory_output_is_still_readable(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Hi", output="x")])  # too short: filtered out
    assert run_cli("curate", "filter", str(src), "-o", str(tmp_path / "out/"))[0] == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000.jsonl"]
    assert list(read_records(tmp_path / "out")) == []


def test_a_generating_stage_refuses_a_directory_output(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Is this a question of some length?")])
    code, _, err = run_cli("curate", "respond", str(src), "-o", str(tmp_path / "out/"),
                           "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "writes one .jsonl file" in err


def test_a_failure_while_finishing_publishes_nothing(tmp_path, monkeypatch):
    """The last Parquet part (or a single Parquet file) is written when the rows end; if that
    fails, the old output stays and no new one, whole or partial, appears."""
    import curate.sinks

    from curate.sinks import RowSink

    monkeypatch.setattr(curate.sinks, "PART_ROWS", 3)
    for target in (tmp_path / "keep" / "*.parquet", tmp_path / "single.parquet"):
        write_rows(target, [{"instruction": "old", "output": "rows"}])
        before = sorted(p.read_bytes() for p in tmp_path.rglob("*.parquet"))
        with pytest.raises(Exception):
            with RowSink(target) as sink:
                for row in [{"x": 1}] * 4 + [{"x": "text"}]:  # Arrow cannot make one column of both
                    sink.write(row)
        assert sorted(p.read_bytes() for p in tmp_path.rglob("*.parquet")) == before
        assert not [p for p in tmp_path.rglob(".*")]


@pytest.mark.parametrize("flags", [
    ["-o", "{tmp}/out/", "--report", "{tmp}/out/*.jsonl"],
    ["-o", "{tmp}/out", "--rejects", "{tmp}/out/rejects.jsonl"],
    ["-o", "{tmp}"],  # the input lies in the output directory
])
def test_files_inside_an_output_directory_are_refused(tmp_path, run_cli, flags):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Call me at (445) 243-6001 about it, please.", output="Yes.")])
    code, _, err = run_cli("curate", "pii", str(src), *[flag.format(tmp=tmp_path) for flag in flags])
    assert code == 2 and ("inside the other" in err or "name the same file" in err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_directory_output_is_named_by_its_directory_in_the_summary(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Is this a question of some length?", output="Yes.")])
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "kept" / "*.parquet"),
                           "--summary-json", str(tmp_path / "run"))
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "kept.filter.summary.json").read_text())
    assert summary["files"]["output"] == str(tmp_path / "kept")


def test_only_its_own_part_names_are_replaced(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Is this a question of some length?", output="Yes.")])
    for name in ("part-1.jsonl", "part-00000-3f2a.parquet"):  # another tool's parts are not ours to delete
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_text("theirs")
        code, _, err = run_cli("curate", "filter", str(src), "-o", str(folder))
        assert code == 2 and name in err and (folder / name).read_text() == "theirs"


def test_what_a_killed_run_left_beside_an_output_goes_at_the_next_run_and_a_live_ones_stays(tmp_path, run_cli):
    # a SIGKILL while writing left .out.jsonl.*.tmp (11 MB) and .rej.jsonl.*.tmp (139 MB), and
    # runs after it, which then succeeded, never removed them (walk-through)
    import signal

    from curate.outputs import owner

    machine = owner().rsplit("-", 1)[0]  # HOST-PIDNS; the pid follows
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "What is a prime number, in one line?"}])
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
        killed = tmp_path / f".out.jsonl.{machine}-{dead.stdout.strip()}.abc123.tmp"
        killed.write_text('{"instruction": "half')
        parts = tmp_path / f".parts.{machine}-{dead.stdout.strip()}.x9_y.tmp"
        parts.mkdir()
        (parts / "part-00000.jsonl").write_text("")
        writing = tmp_path / f".out.jsonl.{machine}-{writer.pid}.def456.tmp"  # another run, writing now
        writing.write_text("")
        stranger = tmp_path / ".out.jsonl.notes.tmp"  # no owner: not ours to judge
        stranger.write_text("")
        # a dead pid in another PID namespace (a container sharing the host name) may be alive there
        elsewhere = tmp_path / f".out.jsonl.{machine.rsplit('-', 1)[0]}-1-{dead.stdout.strip()}.q.tmp"
        elsewhere.write_text("")
        no_pid = tmp_path / f".out.jsonl.{machine}-99999999999999999999.r.tmp"  # no process has it
        no_pid.write_text("")
        assert run_cli("curate", "convert", str(src), "-o", str(tmp_path / "out.jsonl"))[0] == 0
        assert run_cli("curate", "convert", str(src), "-o", str(tmp_path / "parts/"))[0] == 0
        assert not killed.exists() and not parts.exists()
        assert writing.exists() and stranger.exists() and elsewhere.exists() and no_pid.exists()
        long_name = tmp_path / ("o" * 234 + ".jsonl")  # the owner in the temporary's name must still fit
        assert run_cli("curate", "convert", str(src), "-o", str(long_name))[0] == 0 and long_name.exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
