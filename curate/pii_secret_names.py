"""What a name says a value is: a variable's (a Kubernetes `- name: DB_PASSWORD` / `value: ...`
pair) or a kept column's (meta.extra.password, meta.extra.creds.apiKey). A value under such a
name is a secret whatever it looks like: `changeme` and `123456` too.

A name says so when its last word is one for a secret: DB_PASSWORD, smtp_pass, jwtSecret,
clientSecret, github_token, api_keys. Not when a word follows (password_hint, TOKEN_TTL,
SECRET_NAME, POSTGRES_PASSWORD_FILE), nor when the first word makes it a question or a count
(is_secret, has_password, requires_password, max_tokens), nor for a tokenizer's tokens
(eos_token, pad_token, a bare token).
"""

from __future__ import annotations

import json
import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_BREAKS = re.compile(r"[_ .\-]+")
_PASSWORD_WORDS = frozenset("password passwords passwd passphrase passcode".split())
_PASSWORD_LAST_WORDS = frozenset(["pass", "pwd"])  # only after another word: DB_PASS; PWD is the working directory
_TOKEN_ENDS = (("api", "key"), ("api", "keys"), ("apikey",), ("secret",), ("secrets",), ("secret", "key"),
               ("access", "key"), ("private", "key"), ("account", "key"))
_NOT_SECRET_TOKENS = frozenset("eos bos pad unk sep cls mask special start end first last next prev max min num "
                               "total input output new id".split())
_QUESTION_OR_COUNT = frozenset("is has have requires require required needs need no top use uses show hide reset "
                               "forgot must allow enable enabled num max min total count".split())


def kind_of_name(name: str) -> str | None:
    """PASSWORD or API_KEY where a variable's or a column's name says its value is one."""
    words = [word for word in _WORD_BREAKS.split(_CAMEL.sub("_", name).lower()) if word]
    if not words or words[0] in _QUESTION_OR_COUNT or len(words) > 8:
        return None
    if words[-1] in _PASSWORD_WORDS or (words[-1] in _PASSWORD_LAST_WORDS and len(words) > 1):
        return "PASSWORD"
    if any(tuple(words[-len(end):]) == end for end in _TOKEN_ENDS):
        return "API_KEY"
    if words[-1] in ("token", "tokens") and len(words) > 1 and words[-2] not in _NOT_SECRET_TOKENS:
        return "API_KEY"
    return None


# the keys of a kept column's name: meta.extra.db.password, meta.extra["client-secret"],
# meta.extra.passwords[0] (list places are no keys)
_KEY = re.compile(r'\.([^.\[\]"]+)|\[("(?:[^"\\]|\\.)*")\]')


def named_secret(field: str) -> str | None:
    """The secret a string of meta.extra is by the names of its column and the keys above it
    (meta.extra.password, meta.extra.dbPassword.value, meta.extra.api_keys[0]), else None."""
    keys = [plain if plain is not None else json.loads(quoted) for plain, quoted in _KEY.findall(field)]
    for key in reversed(keys[1:]):  # keys[0] is "extra"
        kind = kind_of_name(str(key))
        if kind is not None:
            return kind
    return None


HIDDEN = re.compile(r"[*•●·xX]+|\*+[^*\s]*\*+|\.{3,}|…+")  # a value already masked: ********, ***redacted***
_FLAG = re.compile(r"(?i:true|false|yes|no|null|none|~)")


def masked_or_flag(value: str) -> bool:
    """A value under a secret's name that is none: a mask (********) or a flag (true, no)."""
    return bool(HIDDEN.fullmatch(value) or _FLAG.fullmatch(value))


def secret_value(value: str) -> tuple[int, int] | None:
    """(start, end) of a secret column's value without its surrounding blanks; None for one
    that holds none: empty, a mask or a flag."""
    start, end = len(value) - len(value.lstrip()), len(value.rstrip())
    stripped = value[start:end]
    if not stripped or masked_or_flag(stripped):
        return None
    return start, end
