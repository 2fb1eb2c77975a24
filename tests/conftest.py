"""Shared fixtures: sample records, a CLI runner, and a tiny tokenizer built on the spot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.records import Example, Preference
from tests.tiny import build_tokenizer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def examples() -> list[Example]:
    return [
        Example(instruction="Give three tips for staying healthy.", output="Eat well. Move. Sleep.", user_id="u1"),
        Example(instruction="Translate into French.", input="The weather is nice.", output="Il fait beau.",
                system="You are a careful translator.", user_id="u2"),
        Example(instruction="And into German?", output="Das Wetter ist schön.", system="You translate.",
                history=[("Translate 'nice weather' into French.", "Beau temps."),
                         ("Now into Spanish.", "Buen tiempo.")]),
        Example(instruction="用一句话解释光合作用。", output="植物利用光能把二氧化碳和水变成有机物。", user_id="u3"),
    ]


@pytest.fixture
def preferences() -> list[Preference]:
    return [
        Preference(instruction="Capital of Australia?", chosen="Canberra.", rejected="Sydney."),
        Preference(instruction="Sort ascending.", input="5, 2, 9", system="Be terse.",
                   history=[("Hi", "Hello!")], responses=["9, 5, 2", "2, 5, 9", "2, 9, 5"], ranking=[1, 2, 0]),
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def run_cli(capsys):
    """Run a console script in-process: (exit code, stdout, stderr)."""

    def run(prog: str, *argv: str) -> tuple[int, str, str]:
        if prog == "curate":
            from curate.cli import main
        else:
            from train.cli import main
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-tokenizer")
    build_tokenizer().save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def _server_process_wide():
    from tests.fake_server import ScriptedServer

    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(_server_process_wide):
    """The scripted OpenAI-compatible server, with a clean request log and no faults."""
    _server_process_wide.reset()
    _server_process_wide.latency = 0.0
    yield _server_process_wide
    _server_process_wide.reset()


@pytest.fixture
def seeds_file(tmp_path) -> Path:
    seeds = ["Write a haiku about autumn leaves.", "Explain what a hash table is.",
             "EQUAL Give a synonym for happy.", "SORRY Tell me a joke about cats.",
             "STOPWORDS List three colours.", "LEAK Summarise the plot of Hamlet.",
             "Suggest a name for a bakery.", "Describe the water cycle in two sentences."]
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(seeds))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tokenizer and random 2-layer Llama saved together: a model directory like any other."""
    from tests.tiny import save_tiny_model

    directory = tmp_path_factory.mktemp("tiny-model")
    save_tiny_model(directory)
    return directory
