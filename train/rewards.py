"""Reward sources for `train rl`: our reward models and a few rule rewards, as TRL reward functions.

A TRL reward function takes the batch's `prompts` and `completions` (chat messages, since our
prompts are conversations), `completion_ids` and more keywords, and returns one float per
completion. Several sources are summed with weights (`--reward-model DIR:WEIGHT`,
`--reward NAME:WEIGHT`); TRL logs each one as `rewards/NAME/mean`.

A reward model is called through our own scorer rather than handed to TRL as a module: TRL
would render prompt and completion as one text, tokenize it whole and never truncate, while
`train rm` trained on the prompt and the answer tokenized apart and cut from the left. Scoring
the same way keeps the reward model on the inputs it knows, and a LoRA reward model loads with
its trained score head.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import UsageError

RewardFunction = Callable[..., list[float]]


@dataclass(frozen=True)
class Source:
    """One reward source and its weight, as given on the command line."""

    name: str
    weight: float


def parse_source(text: str, flag: str) -> Source:
    """`NAME` or `NAME:WEIGHT` (a directory may itself hold a colon: only a numeric tail is a weight)."""
    head, _, tail = text.rpartition(":")
    if head:
        try:
            weight = float(tail)
        except ValueError:
            pass
        else:
            if not math.isfinite(weight):
                raise UsageError(f"{flag} {text}: the weight must be a finite number")
            return Source(head, weight)
    if not text.strip():
        raise UsageError(f"{flag}: empty value; give NAME or NAME:WEIGHT")
    return Source(text, 1.0)


def completion_text(completion: Any) -> str:
    """A completion's text: TRL passes conversational completions as a list of messages."""
    if isinstance(completion, list):
        return "".join(str(message.get("content", "")) for message in completion)
    return str(completion)


def _prompt_messages(prompt: Any) -> list[dict[str, str]]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]


class RewardModel:
    """A reward model from `train rm` as a reward function: its score of prompt + completion."""

    def __init__(self, model_dir: str | Path, max_length: int, batch_size: int = 16):
        from train.score import Scorer

        if not Path(model_dir).is_dir():
            raise UsageError(f"--reward-model {model_dir}: no such directory (train one with train rm)")
        if not _is_reward_model(Path(model_dir)):
            raise UsageError(f"--reward-model {model_dir}: not a reward model (a one-score sequence classifier, "
                             "as train rm saves)")
        self.scorer = Scorer(model_dir, max_length, batch_size)
        self.__name__ = f"rm_{Path(model_dir).resolve().name}"  # TRL's log key: rewards/rm_NAME/mean

    def __call__(self, prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        pairs = [(_prompt_messages(p), completion_text(c)) for p, c in zip(prompts, completions, strict=True)]
        return self.scorer.score_pairs(pairs)


def _is_reward_model(directory: Path) -> bool:
    """A full model saved with one label, or a LoRA adapter for sequence classification."""
    try:
        if (directory / "adapter_config.json").exists():
            return json.loads((directory / "adapter_config.json").read_text()).get("task_type") == "SEQ_CLS"
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return False
    labels = config.get("id2label")
    return any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or []) and \
        (labels is None or len(labels) == 1)


# Lines where a completion starts speaking for the user or opens a new turn: the model did not
# stop at the end of its own answer.
_TURN_MARKERS = re.compile(r"^\s*(?:user|human|assistant|system|instruction|### ?(?:instruction|input|response))\s*:"
                           r"|<\|im_start\|>|<\|im_end\|>|<\|eot_id\|>|<\|start_header_id\|>|\[/?INST\]|</s>",
                           re.IGNORECASE | re.MULTILINE)


def format_reward(completions: list[Any], **_: Any) -> list[float]:
    """1 for a completion that says something and stays in its own turn; 0 for a blank one or one
    that writes the chat's markers or a next 'User:' turn itself."""
    return [float(bool(text.strip()) and not _TURN_MARKERS.search(text))
            for text in map(completion_text, completions)]


def length_penalty(target: int) -> RewardFunction:
    """0 up to `target` completion tokens, then minus the share by which a completion is longer:
    -0.5 at 1.5 x target. It counts tokens, so it is the same for every language."""

    def length_penalty(completions: list[Any], completion_ids: list[list[int]] | None = None, **_: Any) -> list[float]:
        sizes = [len(ids) for ids in completion_ids] if completion_ids is not None else \
            [len(completion_text(c).split()) for c in completions]
        return [-max(0, size - target) / target for size in sizes]

    return length_penalty


class Named:
    """A reward function under another name (TRL logs each source as rewards/NAME/mean)."""

    def __init__(self, function: RewardFunction, name: str):
        self.function, self.__name__ = function, name

    def __call__(self, *args: Any, **keywords: Any) -> list[float]:
        return self.function(*args, **keywords)


RULES = {"format": lambda target: format_reward, "length": length_penalty}


def reward_functions(models: list[str], rules: list[str], max_length: int,
                     length_target: int) -> tuple[list[RewardFunction], list[float]]:
    """The reward functions and their weights, reward models first; at least one source is needed."""
    functions: list[RewardFunction] = []
    weights: list[float] = []
    for text in models:
        source = parse_source(text, "--reward-model")
        functions.append(RewardModel(source.name, max_length))
        weights.append(source.weight)
    for text in rules:
        source = parse_source(text, "--reward")
        if source.name not in RULES:
            raise UsageError(f"--reward {text}: unknown rule reward '{source.name}'; "
                             f"choose from {', '.join(sorted(RULES))}")
        functions.append(RULES[source.name](length_target))
        weights.append(source.weight)
    named: list[RewardFunction] = []
    for function in functions:  # two sources of one name (two rm/ folders, a rule twice): logs kept apart
        name = function.__name__
        if name in [f.__name__ for f in named]:
            name = f"{name}_{len(named) + 1}"
        named.append(function if name == function.__name__ else Named(function, name))
    functions = named
    if not functions:
        raise UsageError("no reward: pass --reward-model DIR (from train rm) and/or --reward format|length")
    return functions, weights
