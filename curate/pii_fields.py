"""Which texts of a record `curate pii` reads, by name, and how replaced ones are put back.

A text's name says where it is: `instruction`, `history[0].user`, `responses[1]`, and with
--fields all `user_id` and every string inside meta.extra (`meta.extra.contact.email`,
`meta.extra.tags[0]`, `meta.extra["a.b"]` where a key could read as a path). Names number the
replacements (numbered mode follows reading order) and say, for meta.extra, which column a
secret is in by its name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from curate.pii_secret_names import named_secret
from curate.records import Example, Preference, Record

EXTRA = "meta.extra"  # the name of a kept column's strings starts so: meta.extra.caller, meta.extra["a.b"]


def text_fields(record: Record, everything: bool = False) -> list[tuple[str, str]]:
    """(name, text) for every text field, in reading order: numbering follows it; with
    `everything`, user_id and the strings of meta.extra too."""
    fields = [("system", record.system)]
    for turn, (user, reply) in enumerate(record.history):
        fields += [(f"history[{turn}].user", user), (f"history[{turn}].assistant", reply)]
    fields += [("instruction", record.instruction), ("input", record.input)]
    if isinstance(record, Example):
        fields.append(("output", record.output))
    elif isinstance(record, Preference):
        for name in ("chosen", "rejected"):
            value = getattr(record, name)
            if value is not None:
                fields.append((name, value))
        fields += [(f"responses[{i}]", text) for i, text in enumerate(record.responses or [])]
    if everything:
        if record.user_id:
            fields.append(("user_id", record.user_id))
        extra = record.meta.get("extra")
        if isinstance(extra, dict):
            fields += list(strings_in(extra, EXTRA))
    return fields


def secret_kinds(fields: list[tuple[str, str]]) -> list[str | None]:
    """Per field, the secret a column of meta.extra holds by its name (password, api_key...)."""
    return [named_secret(name) if name.startswith(EXTRA) else None for name, _ in fields]


def strings_in(value: Any, name: str) -> Iterator[tuple[str, str]]:
    """(name, text) for every string inside a kept column's value, nested objects and lists
    included: meta.extra.caller, meta.extra.contact.email, meta.extra.tags[0]. A key that could
    read as a path (a dot or a bracket in it) is written as JSON in brackets, so no two strings
    share a name."""
    if isinstance(value, (str, bytes)):
        text = as_text(value)
        if text is not None:
            yield name, text
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, child(name, key))
    elif isinstance(value, (list, tuple)):  # a Parquet map column reads as a list of (key, value)
        for index, item in enumerate(value):
            yield from strings_in(item, f"{name}[{index}]")


def as_text(value: str | bytes) -> str | None:
    """A string, or the text of UTF-8 bytes (Spark and Hive write strings as Parquet BINARY);
    None for bytes that are no text (an image, a hash)."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def with_texts(value: Any, name: str, texts: dict[str, str]) -> Any:
    """`value` with the strings named in `texts` replaced: the walk of strings_in, rebuilt."""
    if isinstance(value, (str, bytes)):
        return texts.get(name, value)  # scrubbed bytes come back as text, as they are written out
    if isinstance(value, dict):
        return {key: with_texts(item, child(name, key), texts) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(with_texts(item, f"{name}[{index}]", texts) for index, item in enumerate(value))
    return value


def child(name: str, key: Any) -> str:
    key = str(key)
    return f"{name}.{key}" if key and _PLAIN_KEY.fullmatch(key) else f"{name}[{json.dumps(key, ensure_ascii=False)}]"


_PLAIN_KEY = re.compile(r"[^.\[\]\"]+")


def rebuild(record: Record, texts: dict[str, str]) -> dict[str, Any]:
    """The model_copy update that puts replaced texts back where text_fields found them."""
    update: dict[str, Any] = {name: text for name, text in texts.items() if "[" not in name and "." not in name}
    if any(name.startswith("history[") for name in texts):
        update["history"] = [(texts.get(f"history[{i}].user", user), texts.get(f"history[{i}].assistant", reply))
                             for i, (user, reply) in enumerate(record.history)]
    if isinstance(record, Preference) and any(name.startswith("responses[") for name in texts):
        update["responses"] = [texts.get(f"responses[{i}]", text) for i, text in enumerate(record.responses or [])]
    return update
