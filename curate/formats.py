"""Foreign rows in, export rows out: Alpaca, ShareGPT, OpenAI messages, preference, TRL.

Reading recognises the common layouts without flags; `--map src=dst` renames columns
first for anything else. Writing produces exactly what LLaMA-Factory's documented
loaders and TRL's trainers accept, plus the `dataset_info.json` entry for LLaMA-Factory.
"""

from __future__ import annotations

from typing import Any

from curate.errors import FieldError, UsageError
from curate.records import FIELDS, Example, Preference, Record, record_class

# Column names other tools use for our fields; used only when our own name is absent.
ALIASES = {
    "instruction": ("prompt", "question", "query"),
    "output": ("completion", "response", "answer"),
}
CONVERSATION_COLUMNS = ("conversations", "messages")
MAP_TARGETS = frozenset(FIELDS) | set(CONVERSATION_COLUMNS) | {"prompt", "completion"}

USER_ROLES = {"user", "human"}
ASSISTANT_ROLES = {"assistant", "gpt"}
SYSTEM_ROLES = {"system"}


def parse_mapping(spec: str | None) -> dict[str, str]:
    """`prompt=instruction,response=output` -> {"prompt": "instruction", ...}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        source, sep, target = (side.strip() for side in item.partition("="))
        if not sep or not source or not target:
            raise UsageError(f"--map: expected SOURCE=FIELD pairs separated by commas, got {item!r}")
        if target not in MAP_TARGETS:
            raise UsageError(f"--map: unknown field {target!r}; choose from {', '.join(sorted(MAP_TARGETS))}")
        mapping[source] = target
    return mapping


_EXAMPLE_FIELDS = frozenset(Example.model_fields)


def to_record(row: dict[str, Any], mapping: dict[str, str] | None = None) -> Record:
    """Validate one foreign or native row as an Example or Preference."""
    if not mapping and row.keys() <= _EXAMPLE_FIELDS and None not in row.values():
        return Example.model_validate(row)  # our own rows, the common case: nothing to rename
    row = {(mapping or {}).get(key, key): value for key, value in row.items() if value is not None}
    fields: dict[str, Any] = {}
    conversation = next((c for c in CONVERSATION_COLUMNS if isinstance(row.get(c), list)), None)
    if conversation:
        fields.update(_from_messages(row.pop(conversation), conversation))
    elif isinstance(row.get("prompt"), list):  # TRL conversational prompt
        fields.update(_from_messages(row.pop("prompt"), "prompt"))
    for key in ("chosen", "rejected", "completion"):
        if isinstance(row.get(key), (list, dict)):
            row[key] = _assistant_text(row[key], key)
    for field, names in ALIASES.items():
        if field not in row and field not in fields:
            alias = next((name for name in names if name in row), None)
            if alias:
                fields[field] = row.pop(alias)
    extra = {key: row.pop(key) for key in list(row) if key not in FIELDS}
    fields.update(row)
    meta = fields.get("meta", {})
    if extra and isinstance(meta, dict):  # a non-dict meta fails validation below
        fields["meta"] = {**meta, "extra": extra}
    return record_class(fields).model_validate(fields)


def _message_parts(message: Any, where: str) -> tuple[str, str]:
    if not isinstance(message, dict):
        raise FieldError(where, f"expected a message object, got {type(message).__name__}")
    role = message.get("role", message.get("from"))
    content = message.get("content", message.get("value"))
    if not isinstance(role, str) or not isinstance(content, str):
        raise FieldError(where, "a message needs a string role/from and content/value")
    return role, content


def _from_messages(messages: list[Any], column: str) -> dict[str, Any]:
    """System, history, instruction and output from an alternating conversation."""
    parts = [_message_parts(m, f"{column}[{i}]") for i, m in enumerate(messages)]
    system = [text for role, text in parts if role in SYSTEM_ROLES]
    turns = [(i, role, text) for i, (role, text) in enumerate(parts) if role not in SYSTEM_ROLES]
    for position, (i, role, _) in enumerate(turns):
        expected = USER_ROLES if position % 2 == 0 else ASSISTANT_ROLES
        if role not in expected:
            want = "user/human" if position % 2 == 0 else "assistant/gpt"
            raise FieldError(f"{column}[{i}]", f"expected a {want} turn here, got role {role!r}")
    if not turns:
        raise FieldError(column, "the conversation has no user turn")
    texts = [text for _, _, text in turns]
    output = texts.pop() if len(texts) % 2 == 0 else None
    fields: dict[str, Any] = {
        "instruction": texts[-1],
        "history": [[texts[i], texts[i + 1]] for i in range(0, len(texts) - 1, 2)],
    }
    if system:
        fields["system"] = "\n".join(system)
    if output is not None:
        fields["output"] = output
    return fields


def _assistant_text(value: list[Any] | dict[str, Any], column: str) -> str:
    """`{"from": "gpt", "value": ...}` or a one-message list -> the message text."""
    message = value[-1] if isinstance(value, list) and value else value
    return _message_parts(message, column)[1]


# ---------------------------------------------------------------- export

SFT_FORMATS = ("alpaca", "sharegpt", "messages", "trl", "text")
FORMATS = ("alpaca", "sharegpt", "messages", "preference", "ranking", "trl", "kto", "text")
KTO_MIN_SCORE = 4  # a judged example is desirable at this meta.judge.score or above (judge's --min-score)
PAIR_MODES = ("all", "best-worst")


def export_rows(record: Record, fmt: str, pairs: str = "all", tokenizer: Any = None) -> list[dict[str, Any]]:
    """The rows one record becomes in `fmt` (a ranked preference may become several)."""
    if fmt == "text":
        return [{"text": pretraining_text(record, tokenizer)}]
    if fmt == "kto":
        return [_kto(record, answer, desirable) for answer, desirable in kto_labels(record)]
    if isinstance(record, Example):
        if fmt not in SFT_FORMATS:
            raise FieldError("output", f"--format {fmt} needs preference records (chosen/rejected or responses/ranking)")
        return [_EXAMPLE_WRITERS[fmt](record)]
    if fmt == "ranking":
        responses = record.responses or [record.chosen, record.rejected]
        return [{**_alpaca_prompt(record), "responses": responses, "ranking": record.ranking or [0, 1]}]
    if fmt == "alpaca":  # SFT on the best answer
        best = Example(**_alpaca_prompt(record), output=record.ranked_responses()[0])
        return [_alpaca(best)]
    return [_PAIR_WRITERS[fmt](record, chosen, rejected) for chosen, rejected in record.pairs(pairs)]


def pretraining_text(record: Record, tokenizer: Any = None) -> str:
    """The whole conversation as one document: through a tokenizer's chat template, or our plain
    template (prompts/export/text.j2). A preference contributes its best response."""
    answer = record.output if isinstance(record, Example) else record.ranked_responses()[0]
    if tokenizer is not None:
        return tokenizer.apply_chat_template([*_messages(record), {"role": "assistant", "content": answer}],
                                             tokenize=False)
    from curate.prompts import render

    return render("export/text", instruction=record.instruction, input=record.input, output=answer,
                  system=record.system, history=record.history)


def _alpaca_prompt(record: Record) -> dict[str, Any]:
    return {
        "instruction": record.instruction,
        "input": record.input,
        "system": record.system,
        "history": [list(turn) for turn in record.history],
    }


def _alpaca(example: Example) -> dict[str, Any]:
    prompt = _alpaca_prompt(example)
    return {"instruction": prompt.pop("instruction"), "input": prompt.pop("input"), "output": example.output, **prompt}


def prompt_messages(record: Record) -> list[dict[str, str]]:
    """OpenAI chat messages up to the final user turn: what a model is asked to answer."""
    return _messages(record)


def _messages(record: Record, role: str = "role", content: str = "content", user: str = "user",
              assistant: str = "assistant", with_system: bool = True) -> list[dict[str, str]]:
    """The conversation up to and including the final user turn."""
    out = [{role: "system", content: record.system}] if with_system and record.system else []
    for question, answer in record.history:
        out += [{role: user, content: question}, {role: assistant, content: answer}]
    return out + [{role: user, content: record.user_message()}]


def _sharegpt_prompt(record: Record) -> list[dict[str, str]]:
    return _messages(record, "from", "value", "human", "gpt", with_system=False)


def _sharegpt(example: Example) -> dict[str, Any]:
    turn = {"from": "gpt", "value": example.output}
    return {"conversations": [*_sharegpt_prompt(example), turn], "system": example.system}


def _openai_messages(example: Example) -> dict[str, Any]:
    return {"messages": [*_messages(example), {"role": "assistant", "content": example.output}]}


def _trl_sft(example: Example) -> dict[str, Any]:
    return {"prompt": _messages(example), "completion": [{"role": "assistant", "content": example.output}]}


_EXAMPLE_WRITERS = {"alpaca": _alpaca, "sharegpt": _sharegpt, "messages": _openai_messages, "trl": _trl_sft}


def _pair_preference(record: Preference, chosen: str, rejected: str) -> dict[str, Any]:
    prompt = _alpaca_prompt(record)
    return {"instruction": prompt.pop("instruction"), "input": prompt.pop("input"),
            "chosen": chosen, "rejected": rejected, **prompt}


def _pair_sharegpt(record: Preference, chosen: str, rejected: str) -> dict[str, Any]:
    return {"conversations": _sharegpt_prompt(record), "system": record.system,
            "chosen": {"from": "gpt", "value": chosen}, "rejected": {"from": "gpt", "value": rejected}}


def _pair_messages(record: Preference, chosen: str, rejected: str) -> dict[str, Any]:
    return {"messages": _messages(record), "chosen": {"role": "assistant", "content": chosen},
            "rejected": {"role": "assistant", "content": rejected}}


def _pair_trl(record: Preference, chosen: str, rejected: str) -> dict[str, Any]:
    row = {"prompt": _messages(record), "chosen": [{"role": "assistant", "content": chosen}],
           "rejected": [{"role": "assistant", "content": rejected}]}
    if record.margin is not None:  # RewardTrainer's optional margin column
        row["margin"] = record.margin
    return row


_PAIR_WRITERS = {"preference": _pair_preference, "sharegpt": _pair_sharegpt,
                 "messages": _pair_messages, "trl": _pair_trl}


def kto_labels(record: Record) -> list[tuple[str, bool]]:
    """(answer, desirable) for KTO's unpaired data. A preference: the better half of its ranking
    is desirable and the worse half not (chosen and rejected for a pair; the middle response of
    an odd ranking is left out). An example: desirable when meta.judge.score >= KTO_MIN_SCORE."""
    if isinstance(record, Preference):
        ranked = record.ranked_responses()
        half = len(ranked) // 2
        return [(answer, True) for answer in ranked[:half]] + [(answer, False) for answer in ranked[-half:]]
    score = (record.meta.get("judge") or {}).get("score")
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        raise FieldError("meta.judge.score", "--format kto labels an example by its meta.judge.score; this one has "
                         "none (run curate judge, keeping its --rejects, or export preferences)")
    return [(record.output, score >= KTO_MIN_SCORE)]


def _kto(record: Record, answer: str, desirable: bool) -> dict[str, Any]:
    """One row both trainers read: TRL's unpaired prompt/completion/label, and the Alpaca columns
    that LLaMA-Factory's entry maps, with `label` as its kto_tag."""
    return {"prompt": _messages(record), "completion": [{"role": "assistant", "content": answer}],
            "label": desirable, **_alpaca(Example(**_alpaca_prompt(record), output=answer))}


_OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                "assistant_tag": "assistant", "system_tag": "system"}


def dataset_info_entry(fmt: str, preference: bool, file_name: str) -> dict[str, Any]:
    """The LLaMA-Factory dataset_info.json entry for a file written in `fmt`."""
    entry: dict[str, Any] = {"file_name": file_name}
    if fmt == "text":  # LLaMA-Factory's pre-training layout
        entry["columns"] = {"prompt": "text"}
        return entry
    if fmt in ("alpaca", "preference", "kto"):
        answer = {"chosen": "chosen", "rejected": "rejected"} if fmt == "preference" else {"response": "output"}
        entry["columns"] = {"prompt": "instruction", "query": "input", **answer,
                            "system": "system", "history": "history"}
        if fmt == "kto":
            entry["columns"]["kto_tag"] = "label"
            return entry
    elif fmt == "sharegpt":
        entry["formatting"] = "sharegpt"
        entry["columns"] = {"messages": "conversations", "system": "system"}
    elif fmt == "messages":
        entry["formatting"] = "sharegpt"
        entry["columns"] = {"messages": "messages"}
        entry["tags"] = dict(_OPENAI_TAGS)
    else:
        raise UsageError(f"--dataset-info: LLaMA-Factory has no loader for --format {fmt}")
    if preference and fmt != "alpaca":
        entry["ranking"] = True
        if fmt != "preference":
            entry["columns"].update(chosen="chosen", rejected="rejected")
    return entry
