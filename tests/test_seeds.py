import json

import pytest

from curate.errors import DataError
from curate.generate.seeds import load_seeds


def test_a_list_of_strings(tmp_path):
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(["Write a poem.", "  Explain DNS.  ", "Write a poem."]))
    assert [s.instruction for s in load_seeds(path)] == ["Write a poem.", "Explain DNS."]  # duplicates once


def test_records_with_instruction_input_output(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"instruction": "Translate.", "input": "Bonjour", "output": "Hello"}\n{"prompt": "Sum 2+2."}\n')
    seeds = load_seeds(path)
    assert [(s.instruction, s.input, s.output) for s in seeds] == [("Translate.", "Bonjour", "Hello"), ("Sum 2+2.", "", "")]


def test_self_instruct_seed_tasks_layout(tmp_path):
    path = tmp_path / "seed_tasks.jsonl"
    rows = [{"id": "seed_task_0", "name": "breakfast_suggestion", "instruction": "Is there anything I can eat?",
             "instances": [{"input": "", "output": "Yes, oatmeal."}], "is_classification": False},
            {"id": "seed_task_1", "name": "sentiment", "instruction": "Classify the sentiment.",
             "instances": [{"input": "I love it", "output": "positive"}], "is_classification": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = load_seeds(path)
    assert (first.output, first.meta["seed"]["name"]) == ("Yes, oatmeal.", "breakfast_suggestion")
    assert (second.input, second.meta["seed"]["is_classification"]) == ("I love it", True)


@pytest.mark.parametrize("content, message", [
    ('["ok seed", 5]', "seeds.json:1: a seed is a string or an object, got int"),
    ('["ok seed", "   "]', "a seed instruction is empty"),
    ('[{"output": "no instruction"}]', "field 'instruction': Field required"),
])
def test_bad_seeds_name_the_line(tmp_path, content, message):
    path = tmp_path / "seeds.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_seeds(path)
