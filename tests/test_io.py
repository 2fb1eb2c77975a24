import json
import subprocess
import sys

import pytest

from curate.errors import DataError, UsageError
from curate.io import SUFFIXES, read_records
from curate.sinks import record_row, write_records, write_rows
from curate.journal import JsonlAppender
from curate.records import Example, Preference
from tests.conftest import write_jsonl


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_format_round_trips(tmp_path, suffix, examples, preferences):
    records = [*examples, *preferences, Example(instruction="only", meta={"judge": {"score": 5, "tags": ["a"]}})]
    path = tmp_path / f"records{suffix}"
    assert write_records(path, records) == len(records)
    assert list(read_records(path)) == records


def test_a_csv_written_by_pandas_reads_without_its_index(tmp_path):
    # to_csv's default writes the index first under no name: it became meta.extra[""] = "0"
    import pandas as pd

    frame = pd.DataFrame({"instruction": ["Say hi", "Add 2 and 3"], "output": ["Hi", "5"]})
    frame.to_csv(tmp_path / "default.csv")
    frame.iloc[[1]].to_csv(tmp_path / "filtered.csv")  # an index that no longer starts at 0
    pd.read_csv(tmp_path / "default.csv").to_csv(tmp_path / "twice.csv")  # read and written again: "", "Unnamed: 0"
    # (a review's) an unnamed column is an index only where every row holds a whole number
    (tmp_path / "unnamed.csv").write_text(",instruction\n2019,Say hi\nkept note,Add\n")
    assert [r.meta for r in read_records(tmp_path / "default.csv")] == [{}, {}]
    assert [r.instruction for r in read_records(tmp_path / "filtered.csv")] == ["Add 2 and 3"]
    assert [r.meta for r in read_records(tmp_path / "filtered.csv")] == [{}]
    assert [r.meta for r in read_records(tmp_path / "twice.csv")] == [{}, {}]
    assert [r.meta for r in read_records(tmp_path / "unnamed.csv")] == [{"extra": {"": "2019"}}, {"extra": {"": "kept note"}}]


def test_a_one_column_csv_whose_name_holds_a_separator_is_read_as_it_is(tmp_path, run_cli):
    # (a review's) refused as "separated by bars" once the delimiter check came in
    (tmp_path / "one.csv").write_text('"Prompt (en|de)"\nSay hi there\n')
    records = list(read_records(tmp_path / "one.csv", mapping={"Prompt (en|de)": "instruction"}))
    assert [r.instruction for r in records] == ["Say hi there"]


def test_json_reader_accepts_json_lines_named_json(tmp_path, examples):
    path = write_jsonl(tmp_path / "data.json", [record_row(e) for e in examples])
    assert list(read_records(path)) == examples


# Each malformed input: (file name, bytes, what the message must contain).
MALFORMED = {
    "bad_json_line": ("d.jsonl", b'{"instruction": "a"}\n{"instruction": "b",}\n', "d.jsonl:2: invalid JSON"),
    # the column where the line ends, not column 1 of the line break (walk-through)
    "json_cut_at_line_end": ("d.jsonl", b'{"instruction": "a"}\n{"instruction": "oops",\r\n',
                             "d.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 24)"),
    "bad_json_array": ("d.json", b'[\n{"instruction": "a"},\n{"instruction": b}\n]', "d.json:3: invalid JSON"),
    "unclosed_array": ("d.json", b'[\n{"instruction": "a"},\n', "d.json:3: invalid JSON"),
    "wrong_type": ("d.jsonl", b'{"instruction": "a"}\n{"instruction": "b", "output": 5}\n',
                   "d.jsonl:2: field 'output': Input should be a valid string (got int 5)"),
    "wrong_type_in_array": ("d.json", b'[\n  {"instruction": "a"},\n\n  {"instruction": ["x"]}\n]',
                            "d.json:4: field 'instruction': Input should be a valid string"),
    "missing_field": ("d.jsonl", b'{"instruction": "a"}\n{"output": "b"}\n',
                      "d.jsonl:2: field 'instruction': Field required"),
    "bad_history": ("d.jsonl", b'{"instruction": "a", "history": [["only one"]]}\n', "d.jsonl:1: field 'history.0"),
    "bad_ranking": ("d.jsonl", b'{"instruction": "a", "responses": ["x", "y"], "ranking": [1, 1]}\n',
                    "d.jsonl:1: ranking must list each response index"),
    "not_an_object": ("d.jsonl", b'{"instruction": "a"}\n[1, 2]\n', "d.jsonl:2: expected a JSON object"),
    "non_utf8": ("d.jsonl", b'{"instruction": "a"}\n{"instruction": "caf\xe9"}\n', "d.jsonl:2: not valid UTF-8"),
    "bom": ("d.jsonl", b'\xef\xbb\xbf{"instruction": "a"}\n', "d.jsonl:1: file starts with a UTF-8 byte-order mark"),
    "bom_csv": ("d.csv", b"\xef\xbb\xbfinstruction,output\nq,a\n", "d.csv:1: file starts with a UTF-8 byte-order"),
    "blank_line": ("d.jsonl", b'{"instruction": "a"}\n\n{"instruction": "b"}\n', "d.jsonl:2: blank line"),
    "trailing_blank_line": ("d.jsonl", b'{"instruction": "a"}\n \n', "d.jsonl:2: blank line"),
    "csv_missing_field": ("d.csv", b"prompt_text,output\nq,a\n", "d.csv:2: field 'instruction': Field required"),
    "csv_extra_cell": ("d.csv", b"instruction,output\nq,a,oops\n", "d.csv:2: the row has more cells"),
    # a stray quote made the rest of the file one cell: rows 3 and 4 read as row 2's instruction
    "csv_stray_quote": ("d.csv", b'instruction,output\n"q",a\n"stray quote,b\nnext,c\nlast,d\n',
                        "d.csv:3: a quoted cell is never closed"),
    "csv_text_after_quote": ("d.csv", b'instruction,output\nq,a\n"quoted"then,b\n', "d.csv:3: not valid CSV"),
    # separated by something else (a spreadsheet's locale): each row one cell, "Field required" on row 2
    "csv_semicolons": ("d.csv", b"instruction;output\nq;a\n", "d.csv:1: the header is one column, 'instruction;output': the file is separated by semicolons"),
    "csv_tabs": ("d.csv", b"instruction\toutput\nq\ta\n", "separated by tabs, not commas"),
    "csv_repeated_column": ("d.csv", b"instruction,output,output\nq,a,b\n", "d.csv:1: the header names 'output' more"),
    "csv_error_after_blank_lines": ("d.csv", b'instruction,output\nq,a\n\n\n"x"y,b\n', "d.csv:5: not valid CSV"),
    # a short row with a line break in a cell (two rows a stray quote joined); one without is left-out cells
    "csv_missing_cell": ("d.csv", b'instruction,output,input\nq,a,b\n"a stray quote,x\nnext row,y\n"\n',
                         "d.csv:3: the row has fewer cells"),
    "bad_conversation": ("d.jsonl", b'{"conversations": [{"from": "human", "value": "a"}, '
                         b'{"from": "human", "value": "b"}]}\n',
                         "d.jsonl:1: field 'conversations[1]': expected a assistant/gpt turn"),
    "not_parquet": ("d.parquet", b"this is not parquet", "d.parquet: not a readable Parquet file"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_names_file_and_line(tmp_path, case):
    name, content, message = MALFORMED[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        list(read_records(path))
    assert message.replace("d.", f"{tmp_path}/d.", 1) in str(error.value)


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("command", ["convert", "export"])
def test_malformed_input_fails_the_command_and_leaves_no_output(tmp_path, run_cli, case, command):
    name, content, message = MALFORMED[case]
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "out" / "result.jsonl"
    code, _, err = run_cli("curate", command, str(tmp_path / name), "-o", str(out))
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert not list(out.parent.glob("*")) if out.parent.exists() else True


def test_unknown_extension_is_a_usage_error(tmp_path, run_cli, examples):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    with pytest.raises(UsageError, match="unknown file type '.txt'"):
        write_rows(tmp_path / "out.txt", [])
    code, _, err = run_cli("curate", "convert", str(src), "-o", str(tmp_path / "out.txt"))
    assert code == 2 and "unknown file type" in err


def test_foreign_layouts_are_recognised(tmp_path):
    rows = [
        {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q1"},
                           {"from": "gpt", "value": "a1"}, {"from": "human", "value": "q2"},
                           {"from": "gpt", "value": "a2"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]},
        {"prompt": "q", "completion": "a"},
        {"question": "q", "answer": "a", "source": "forum"},
        {"prompt": "q", "chosen": "good", "rejected": "bad"},
        {"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "good"},
         "rejected": {"from": "gpt", "value": "bad"}},
    ]
    got = list(read_records(write_jsonl(tmp_path / "mixed.jsonl", rows)))
    assert (got[0].system, got[0].history, got[0].instruction, got[0].output) == ("S", [("q1", "a1")], "q2", "a2")
    for record in got[1:5]:
        assert (type(record), record.instruction, record.output) == (Example, "q", "a")
    assert got[4].meta == {"extra": {"source": "forum"}}
    for record in got[5:]:
        assert (type(record), record.instruction, record.chosen, record.rejected) == (Preference, "q", "good", "bad")


def test_map_renames_columns(tmp_path, run_cli):
    src = write_jsonl(tmp_path / "log.jsonl", [{"ask": "q", "reply": "a", "uid": 7}])
    out = tmp_path / "records.jsonl"
    code, _, err = run_cli("curate", "convert", str(src), "-o", str(out), "--map", "ask=instruction,reply=output,uid=user_id")
    assert code == 0, err
    [record] = read_records(out)
    assert (record.instruction, record.output, record.user_id) == ("q", "a", "7")


@pytest.mark.parametrize("spec, message", [("ask", "SOURCE=FIELD"), ("ask=instructon", "unknown field 'instructon'")])
def test_bad_map_is_a_usage_error(tmp_path, run_cli, examples, spec, message):
    src = tmp_path / "in.jsonl"
    write_records(src, examples)
    code, _, err = run_cli("curate", "convert", str(src), "-o", str(tmp_path / "o.jsonl"), "--map", spec)
    assert code == 2 and message in err


def test_a_csv_header_with_spaces_after_its_commas_names_the_fields(tmp_path):
    # " output" went to meta.extra[" output"], and output stayed empty (second walk-through)
    path = tmp_path / "d.csv"
    path.write_bytes(b"instruction, output\nWhat is 2+2?, 4\n")
    record = next(iter(read_records(path)))
    assert (record.instruction, record.output, record.meta) == ("What is 2+2?", " 4", {})  # cells as written


def test_a_csv_row_may_leave_out_its_last_cells(tmp_path):
    # scripts that write only the cells they have, and a header with a trailing comma (review)
    path = tmp_path / "d.csv"
    path.write_bytes(b'instruction,input,output,\nWhat is 2+2?,,4\nSay hi to the team\n"What is ""AI""?",x\n')
    assert [(r.instruction, r.input, r.output) for r in read_records(path)] == [
        ("What is 2+2?", "", "4"), ("Say hi to the team", "", ""), ('What is "AI"?', "x", "")]


def test_csv_cells_hold_json_for_structured_fields(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('instruction,output,history,user_id\nq,"[1] is a footnote","[[""u"", ""a""]]",\n')
    [record] = read_records(path)
    assert record.output == "[1] is a footnote" and record.history == [("u", "a")] and record.user_id is None


def test_stdin_and_stdout_pipe_json_lines(tmp_path, examples):
    payload = "".join(json.dumps(record_row(e), ensure_ascii=False) + "\n" for e in examples)
    result = subprocess.run([sys.executable, "-m", "curate.cli", "export", "-", "-o", "-", "--format", "messages"],
                            input=payload, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["messages"][-1]["content"] for row in rows] == [e.output for e in examples]
    assert "written" in result.stderr


def test_appender_resumes_after_a_torn_line(tmp_path, examples):
    path = tmp_path / "journal.jsonl"
    with JsonlAppender(path) as journal:
        assert journal.open() == set()
        journal.write(examples[0])
        journal.write(examples[1])
    with open(path, "a") as stream:  # a kill in the middle of a line
        stream.write('{"id": "torn", "instr')
    with JsonlAppender(path) as journal:
        assert journal.open() == {examples[0].id, examples[1].id}
        journal.write(examples[2])
    assert [r.id for r in read_records(path)] == [e.id for e in examples[:3]]


def test_appender_rejects_a_corrupt_complete_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(DataError, match="journal.jsonl:2: invalid JSON"):
        JsonlAppender(path).open()


@pytest.mark.parametrize("content, name", [(b"", "d.jsonl"), (b"[]\n", "d.json")])
def test_an_empty_input_is_no_records_and_a_warning(tmp_path, run_cli, content, name):
    src = tmp_path / name
    src.write_bytes(content)
    assert list(read_records(src)) == []
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "out.jsonl"))
    assert code == 0 and "holds no records" in err and (tmp_path / "out.jsonl").read_bytes() == b""


def test_an_empty_input_to_an_llm_stage_writes_an_empty_output(tmp_path, run_cli):
    src = tmp_path / "none.jsonl"
    src.write_bytes(b"")
    code, _, err = run_cli("curate", "respond", str(src), "-o", str(tmp_path / "out.jsonl"),
                           "--base-url", "http://127.0.0.1:9/v1")  # nothing to ask: the server is never needed
    assert code == 0, err
    assert (tmp_path / "out.jsonl").read_bytes() == b""


def test_a_directory_of_shards_reads_as_its_files_in_name_order(tmp_path):
    import pytest

    from curate.errors import UsageError
    from curate.io import read_records
    from curate.sinks import write_records
    from curate.records import Example

    records = [Example(instruction=f"Question {i}?", output=f"Answer {i}.") for i in range(30)]
    (tmp_path / "jsonl").mkdir()
    (tmp_path / "parquet").mkdir()
    for number, start in enumerate(range(0, 30, 10)):
        write_records(tmp_path / "jsonl" / f"part-{number:03d}.jsonl", records[start : start + 10])
        write_records(tmp_path / "parquet" / f"part-{number:03d}.parquet", records[start : start + 10])
    (tmp_path / "jsonl" / "notes.txt").write_text("not a record file")  # other files are not shards
    for folder in ("jsonl", "parquet"):
        assert [r.id for r in read_records(tmp_path / folder)] == [r.id for r in records]
    (tmp_path / "jsonl" / "extra.csv").write_text("instruction\nhello\n")
    with pytest.raises(UsageError, match="several types"):
        list(read_records(tmp_path / "jsonl"))


def test_ray_address_without_the_ray_executor_is_a_usage_error(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [Example(instruction="Is this a question of some length?", output="Yes.")])
    code, _, err = run_cli("curate", "filter", str(src), "-o", str(tmp_path / "o.jsonl"), "--ray-address", "auto")
    assert code == 2 and "--executor ray" in err and not (tmp_path / "o.jsonl").exists()


def test_json_lines_read_to_the_values_json_reads():
    # lines are parsed by pydantic-core, with json where it refuses: the values must not differ
    import json

    from curate.io import jsonl_lines

    lines = [b'{"a": NaN, "b": -Infinity, "c": 123456789012345678901234567890, "d": 1e-7, "e": 0.1}\n',
             b'{"k": 1, "k": 2, "u": "\\ud83d\\ude00 \\u00e9", "n": null, "t": [true, false]}\r\n']
    read = [value for _, value in jsonl_lines(lines, "x.jsonl")]
    assert repr(read) == repr([json.loads(line) for line in lines])


def test_a_lone_surrogate_is_refused_on_reading_with_its_line_and_field():
    # json reads "\ud800" and UTF-8 cannot write it: the run failed at its end with a bare UnicodeEncodeError
    from curate.io import jsonl_lines

    lines = [b'{"instruction": "ok"}\n', b'{"instruction": "ok", "meta": {"notes": ["fine", "x\\udfff"]}}\n']
    with pytest.raises(DataError, match=r"^x\.jsonl:2: field 'meta\.notes\.1': holds a lone surrogate"):
        list(jsonl_lines(lines, "x.jsonl"))


def test_rows_are_written_as_compact_json_that_reads_back_the_same():
    from curate.sinks import dump_row

    row = {"id": "a", "x": [1.5, 1e-7, 2**70], "text": 'quote " backslash \\ tab \t é 中'}
    text = dump_row(row)
    assert text == '{"id":"a","x":[1.5,1e-7,1180591620717411303424],"text":"quote \\" backslash \\\\ tab \\t é 中"}'
    assert json.loads(text) == row
    assert dump_row({"bad": "\ud800"}) == '{"bad":"\ud800"}'  # as json wrote it; UTF-8 then refuses it


def test_nan_and_infinity_are_written_as_null_so_strict_json_readers_take_the_file(tmp_path):
    # json read NaN and wrote it back; Arrow (datasets), JavaScript and jq refuse such a line
    import pyarrow.json as pa_json

    from curate.cli import main

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"instruction": "Summarise the article below in two sentences.", "meta": {"extra": {"score": NaN, "low": -Infinity, "ok": 1.5}}}\n',
                      encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["pii", str(source), "-o", str(out)])
    assert done.value.code == 0
    strict = json.loads(out.read_text(encoding="utf-8"), parse_constant=lambda name: pytest.fail(name))
    assert strict["meta"]["extra"] == {"score": None, "low": None, "ok": 1.5}
    assert pa_json.read_json(out).num_rows == 1


def test_a_null_instruction_is_called_null_not_missing(tmp_path):
    # nulls read as absent (CSV and Parquet write empty cells as null): the error said "Field required"
    path = tmp_path / "in.jsonl"
    path.write_text('{"instruction": "fine"}\n{"instruction": null, "output": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:2: field 'instruction': is null; it needs a string"):
        list(read_records(path))
    path.write_text('{"output": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:1: field 'instruction': Field required"):
        list(read_records(path))


def test_a_parquet_binary_column_that_is_no_text_is_written_as_base64(tmp_path, run_cli):
    # bytes that are no UTF-8 (an image) failed the whole run: "Object of type bytes is not JSON serializable"
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    image, name = b"\xff\xd8\xff\xe0JFIF", "caf\xc3\xa9".encode("latin-1")  # the second is UTF-8 text
    pq.write_table(pa.table({"instruction": ["Describe the picture."], "image": pa.array([image], pa.binary()),
                             "name": pa.array([name], pa.binary())}), source)
    code, _, err = run_cli("curate", "convert", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert code == 0, err
    extra = json.loads((tmp_path / "out.jsonl").read_text())["meta"]["extra"]
    assert base64.b64decode(extra["image"]) == image and extra["name"] == "café"
