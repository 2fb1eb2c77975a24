import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from curate.records import Example, Preference, content_id, record_class


def test_id_is_a_content_hash_of_the_prompt():
    a = Example(instruction="Sort  the list.", input="3, 1", output="1, 3")
    same_text_other_spacing = Example(instruction=" Sort the\tlist. ", input="3, 1", output="different answer")
    other = Example(instruction="Sort the list.", input="3, 2")
    assert a.id == same_text_other_spacing.id  # whitespace and the answer do not change the prompt
    assert a.id != other.id
    assert len(a.id) == 16 and int(a.id, 16) >= 0


def test_id_covers_system_and_history():
    base = Example(instruction="q")
    assert base.id != Example(instruction="q", system="s").id
    assert base.id != Example(instruction="q", history=[("u", "a")]).id


def test_nfkc_variants_share_an_id():
    assert Example(instruction="ＡＢＣ　１２３").id == Example(instruction="ABC 123").id


def test_given_id_is_kept():
    assert Example(id="mine", instruction="q").id == "mine"


def test_id_is_derived_when_made_here_or_equal_to_the_one_made_from_the_content():
    made = Example(instruction="q")
    assert made.id_is_derived() and Preference(instruction="q", chosen="a", rejected="b").id_is_derived()
    # a file written by an earlier stage carries the derived id; pickled and copied records keep the answer
    assert Example.model_validate_json(made.model_dump_json()).id_is_derived()
    assert made.model_copy(update={"instruction": "other"}).id_is_derived()  # still a hash of (old) content
    assert not Example(id="ticket-7", instruction="q").id_is_derived()
    assert not Example(id="0123456789abcdef", instruction="q").id_is_derived()  # the right form, another value
    assert Example(id="", instruction="q").id_is_derived()


def test_id_is_stable_across_processes():
    """A fresh interpreter (different hash seed) computes the same id."""
    record = {"instruction": "Explain 光合作用", "input": "x", "history": [["a", "b"]]}
    code = ("import json,sys; from curate.records import Example; "
            "print(Example(**json.loads(sys.argv[1])).id)")
    env = {"PYTHONHASHSEED": "12345"}
    import os

    out = subprocess.run([sys.executable, "-c", code, json.dumps(record)], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}).stdout.strip()
    assert out == Example(**record).id


def test_numeric_user_id_becomes_a_string():
    assert Example(instruction="q", user_id=42).user_id == "42"


def test_numeric_id_becomes_a_string(tmp_path):
    # exports often number their rows: {"id": 1} was refused by every stage (walk-through)
    from curate.io import read_records

    assert Example(instruction="q", id=7).id == "7"
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "instruction": "q"}\n{"id": 2, "instruction": "r", "chosen": "a", "rejected": "b"}\n')
    assert [record.id for record in read_records(source)] == ["1", "2"]
    with pytest.raises(ValidationError):
        Example(instruction="q", id=True)  # a flag is no id


def test_unknown_field_is_rejected_in_python():
    with pytest.raises(ValidationError, match="outptu"):
        Example(instruction="q", outptu="typo")


def test_preference_pairwise_and_ranked():
    pair = Preference(instruction="q", chosen="good", rejected="bad")
    assert pair.pairs() == [("good", "bad")]
    ranked = Preference(instruction="q", responses=["mid", "best", "worst"], ranking=[1, 0, 2])
    assert ranked.ranked_responses() == ["best", "mid", "worst"]
    assert ranked.pairs() == [("best", "mid"), ("best", "worst"), ("mid", "worst")]
    assert ranked.pairs("best-worst") == [("best", "worst")]


def test_preference_id_depends_on_answers_not_listing_order():
    one = Preference(instruction="q", responses=["a", "b", "c"], ranking=[2, 0, 1])
    same = Preference(instruction="q", responses=["c", "a", "b"], ranking=[0, 1, 2])
    other = Preference(instruction="q", responses=["a", "b", "c"], ranking=[0, 1, 2])
    assert one.id == same.id
    assert one.id != other.id


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"chosen": "a"}, "'rejected' is missing"),
        ({"rejected": "a"}, "'chosen' is missing"),
        ({"responses": ["a", "b"]}, "'ranking' is missing"),
        ({"responses": ["a"], "ranking": [0]}, "at least 2 responses"),
        ({"responses": ["a", "b"], "ranking": [0, 0]}, "exactly once"),
        ({"responses": ["a", "b"], "ranking": [0, 2]}, "exactly once"),
        ({"chosen": "a", "rejected": "b", "responses": ["a", "b"], "ranking": [0, 1]}, "not both"),
        ({}, "needs chosen/rejected"),
    ],
)
def test_malformed_preferences_are_rejected(fields, message):
    with pytest.raises(ValidationError, match=message):
        Preference(instruction="q", **fields)


def test_record_class_by_fields():
    assert record_class({"instruction": "q", "output": "a"}) is Example
    assert record_class({"instruction": "q", "responses": []}) is Preference


def test_content_id_is_order_sensitive():
    assert content_id("a", "b") != content_id("b", "a")


def test_normalised_text_is_nfkc_with_whitespace_runs_collapsed():
    """The quick ASCII path gives exactly `" ".join(NFKC(text).split())`, which ids hash: every
    character str.split() splits on, in runs, at the ends, beside letters and non-ASCII ones."""
    import random
    import unicodedata

    from curate.text import normalize_text

    rng = random.Random(7)
    pieces = ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", " ", "  ", "a", "Bc", "1", "é", "\u3000", "ｆ",
              "\x85", "\xa0", "\u1680", "\u2003", "\u2028", "\u2029", "\u202f", "李", "Å", "ﬁ", "\u0301"]
    for _ in range(30000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        assert normalize_text(text) == " ".join(unicodedata.normalize("NFKC", text).split()), repr(text)
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]  # every one str.split() knows
    for space in spaces:
        text = f"é{space}x {space}{space}李"
        assert normalize_text(text) == " ".join(unicodedata.normalize("NFKC", text).split()), repr(text)
    assert Example(instruction="Say\t hi\n\n now ").id == Example(instruction="Say hi now").id


def test_content_id_hashes_the_bytes_json_writes_for_every_code_point():
    # content_id serialises with pydantic-core for speed; ids must stay those of json's compact form
    import hashlib
    import json

    def by_json(*parts):
        payload = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for start in range(0, len(every), 4096):
        text = every[start:start + 4096]
        assert content_id("example", [text, "", "", [[text, '"\\\n']]]) == by_json("example", [text, "", "", [[text, '"\\\n']]])
    messages = [{"role": "user", "content": "hi\t\"there\"\x00"}]
    assert content_id("self-instruct request", messages, 2**70) == by_json("self-instruct request", messages, 2**70)
    with pytest.raises(UnicodeEncodeError):  # as json's encoding raised before: a lone surrogate has no UTF-8
        content_id("lone \ud800 surrogate")
