"""The detectors' fast forms do what their plain forms do: patterns that start on the class
they consume find what a look-behind-first pattern finds, the quick phone parse agrees with
phonenumbers' matcher, gates answer as the alternations they stand for, span resolution agrees
with a scan of every span, and nothing rescans a blank run or every number found. (What each
format finds is in tests/test_pii_formats.py.)"""

from __future__ import annotations

import pytest

from curate import pii_structured
from curate.pii import find_pii
from tests.pii_corpus import corpus


@pytest.mark.parametrize("blank", [" ", "\t"])
def test_no_spelled_email_match_starts_on_a_blank(blank):
    # a pattern that can start on a blank is tried again from each blank of a run, each try
    # reading the rest of it: 40,000 blanks took 21 s (walk-through). Starting only at a bracket
    # or at "at", a scan reads the run once; the blanks before the address belong to no match
    from curate.pii_emails import _SPELLED_AT

    for text in (blank * 30 + "x [at] y.com", "bob" + blank * 30 + "(at)" + blank * 5 + "example.com",
                 "mail bob" + blank * 30 + "at example dot com"):
        starts = [i for i, char in enumerate(text) if char == blank and _SPELLED_AT.match(text, i)]
        assert starts == [] and _SPELLED_AT.search(text) is not None, text


def test_a_whole_phone_run_is_what_phonenumbers_matcher_finds(monkeypatch):
    """The quick whole-run parse stands in for phonenumbers' matcher: wherever it accepts a
    run, the matcher finds that same whole run, on every phone the corpus holds."""
    import phonenumbers

    import curate.pii_detect as detect

    runs = []
    quick = detect._whole_number

    def recorded(candidate, region, formatted):
        accepted = quick(candidate, region, formatted)
        runs.append((candidate, region, formatted, accepted))
        return accepted

    monkeypatch.setattr(detect, "_whole_number", recorded)
    for sample in corpus(2000, seed=5):
        find_pii(sample.text)
    accepted = [run for run in runs if run[3]]
    assert len(accepted) > 300
    for candidate, region, formatted, _ in accepted:
        leniency = phonenumbers.Leniency.POSSIBLE if formatted else phonenumbers.Leniency.VALID
        matches = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(candidate, region, leniency=leniency)]
        assert matches == [(0, len(candidate))], candidate


@pytest.mark.parametrize("run", ["1-800 (555) 1234", "+1-800 (555) 1234", "(1)2)(3(4567", "555) 123-4567"])
def test_brackets_inside_a_run_are_left_to_phonenumbers_matcher(run):
    """The matcher finds a number inside such a run, or none; the quick parse would take it whole."""
    from curate.pii_detect import _whole_number

    assert not _whole_number(run, "US", formatted=True)
    assert _whole_number("+1 (445) 243-6001", None, formatted=True)


# The detectors' patterns begin with the character class they consume and check the character
# before it with a look-behind over both (fast: sre skips to the next candidate in C). Each must
# find exactly what its plain form, a look-behind first, finds.
_PLAIN_FORMS = {
    ("pii_detect", "_CN_ID"): r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                              r"\d{3}[\dXx](?![0-9A-Za-z])",
    ("pii_detect", "_CARD"): r"(?<![0-9A-Za-z.-])(?<!\d{4}[ -])(?:[2-6]\d{3}|0604)(?:[ -]?\d){8,15}(?![0-9A-Za-z]|[.-]\d)",
    ("pii_detect", "_IPV4"): r"(?<![0-9A-Za-z_.])\d{1,3}(?:\.\d{1,3}){3}(?![0-9A-Za-z_]|\.\d)",
    ("pii_detect", "_PHONE"): r"(?<![0-9A-Za-z+])(?:\+|\(\+?)?\d[\d \-.()]{5,20}\d"
                              r"(?:[ \t]*(?:x|ext\.?|extension|#|;ext=|转分机|转|分机)[ \t]*\d{1,6}(?![ \t\-.]\d|[ \t]*[元块次万个天]))?"
                              r"(?![0-9A-Za-z])",
    ("pii_structured", "_SSN"): r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])",
    ("pii_structured", "_STREET"): r"(?<![\w-])\d{1,6}[A-Z]?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|"
                                      r"Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Circle|"
                                      r"Cir|Parkway|Pkwy|Square|Sq|Trail|Trl|Highway|Hwy|Alley|Plaza|Loop|Pike)\.?"
                                      r"(?![A-Za-z])(?:\s+(?:[NSEW]|[NS][EW]|North|South|East|West)(?![\w-]))?"
                                      r"(?:,?\s+(?:Apt\.?|Suite|Unit|Ste\.?|#)\s*[\w-]+)?"
                                      + pii_structured._TOWN_AND_POSTCODE,
    ("pii_structured", "_NINO"): r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z](?<!BG|GB|KN|NK|NT|TN|ZZ)"
                                 r"( ?)\d\d( ?)\d\d( ?)\d\d( ?)[A-D](?![A-Za-z0-9])",
    ("pii_structured", "_IBAN"): r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
                                 r"(?![A-Za-z0-9])",
}


@pytest.mark.parametrize("module, name", sorted(_PLAIN_FORMS))
def test_fast_patterns_find_what_their_plain_forms_find(module, name):
    import importlib
    import random
    import re

    fast, plain = getattr(importlib.import_module(f"curate.{module}"), name), re.compile(_PLAIN_FORMS[module, name])
    rng = random.Random(0)
    # number-shaped texts that probe every edge: groups of digits (or capitals) of any length
    # joined by separators, with any character before and after
    edges = ["", "a", "Z", "7", ".", "-", "+", "_", " ", "(", ")", "x", "#", "\n"]
    separators = [".", "-", " ", "(", ")", "+", "", " ext. ", "x", ") ", "/", "转", " 分机 ", "转分机", ";ext="]

    def group() -> str:
        if rng.random() < 0.1:
            return rng.choice(["GB", "DE", "NO", "AB12", "X", "AZ9", "C", "JG", "KN"])
        return "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 7)))

    def shaped() -> str:
        groups = [group() for _ in range(rng.randrange(1, 8))]
        body = groups[0] + "".join(rng.choice(separators) + part for part in groups[1:])
        return rng.choice(edges) + rng.choice(edges) + body + rng.choice(edges) + rng.choice(edges)

    # and real values of each shape, a character or two changed, with the same edges
    values = ["409-91-0019", "GB63RHSC45498174104090", "GB63 RHSC 4549 8174 1040 90", "110101199003078515",
              "11010119900307851X", "0604123456789012", "4111 1111 1111 1111", "3782-822463-10005", "192.168.1.20",
              "(445)243-6001x295", "+1-780-563-6083 ext. 77", "(+86) 138 1234 5678", "480.302.1372",
              "42 Maple Street, Apt 3B", "1600 Pine Hill Rd.", "123456 Elm Street", "221B Baker Street, London NW1 6XE",
              "88 Queen St W, Toronto, ON M5V 2A1", "12 George St, Sydney NSW 2000", "AB 12 34 56 C", "JG103759A"]

    def near(value: str) -> str:
        for _ in range(rng.randrange(3)):
            at = rng.randrange(len(value))
            value = value[:at] + rng.choice(["", rng.choice("0123456789-. ")]) + value[at + rng.randrange(2):]
        return rng.choice(edges) + rng.choice(edges) + value + rng.choice(edges) + rng.choice(edges)

    texts = [shaped() for _ in range(30_000)] + [near(rng.choice(values)) for _ in range(30_000)]
    texts += [sample.text for sample in corpus(600, seed=5)]
    for text in texts:
        spans = lambda pattern: [(m.span(), m.groups()) for m in pattern.finditer(text)]  # noqa: E731
        assert spans(fast) == spans(plain), text


def test_state_and_zip_gate_answers_as_the_alternation_of_states():
    import random
    import re

    from curate.pii_structured import _US_STATES, _state_and_zip

    plain = re.compile(r"\b(?:" + "|".join(_US_STATES) + r")\s+\d{5}\b")
    rng = random.Random(1)
    pieces = ["CA", "NY", "XX", "QQ", "AE", "c", "A", " ", "\t", "\n", "12345", "1234", "123456", "_", "é", "中", ",", "-"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(50_000)]
    assert any(plain.search(text) for text in texts) and not all(plain.search(text) for text in texts)
    for text in texts:
        assert _state_and_zip(text) == (plain.search(text) is not None), text


def test_overlaps_are_resolved_as_a_look_at_every_kept_span_resolves_them():
    # resolve and the phone pass looked at every span kept so far for each new one: quadratic in
    # the spans of a text (100 KB of NI numbers took 2.2 s, walk-through); now a bisection
    import random

    from curate.pii_detect import PRIORITY, TYPES, Span, _Covered, resolve

    def plain(spans: list[Span]) -> list[Span]:
        kept: list[Span] = []
        for span in sorted(set(spans), key=lambda s: (PRIORITY[s.type], s.start - s.end, s.start)):
            if not any(span.start < other.end and other.start < span.end for other in kept):
                kept.append(span)
        return sorted(kept, key=lambda s: s.start)

    rng = random.Random(2)
    for _ in range(3000):
        spans = []
        for _ in range(rng.randrange(0, 40)):  # few spans are scanned, many bisected: both ways
            start = rng.randrange(120)
            spans.append(Span(rng.choice(TYPES), start, start + rng.randrange(1, 12)))
        assert resolve(spans) == plain(spans), spans
        covered, start = _Covered(spans), rng.randrange(130)
        end = start + rng.randrange(1, 10)
        assert covered.overlaps(start, end) == any(start < s.end and s.start < end for s in spans), (spans, start, end)


def test_ni_numbers_after_cues_cost_a_look_each_not_one_per_number_found(monkeypatch):
    # each cue's number was compared with every number found before it: quadratic (100 KB of
    # "NI AB123456C " took 2-2.7 s, second walk-through). Count how often a found number's start
    # is read instead of timing it
    from curate import pii_structured

    reads = 0

    class CountingFound(pii_structured.Found):
        @property
        def start(self) -> int:
            nonlocal reads
            reads += 1
            return tuple.__getitem__(self, 1)

    monkeypatch.setattr(pii_structured, "Found", CountingFound)
    text = "NI AB 12 34 56 C, " * 1000 + "NI AB123456C " * 1000
    found = pii_structured.ni_numbers(text, text.casefold())
    assert len(found) == 2000
    assert reads <= 4 * len(found), reads


def _texts_of(pieces: list[str], count: int, longest: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randrange(longest + 1))) for _ in range(count)]


def test_a_record_label_read_backwards_is_the_label_pattern_read_forwards():
    """not_personal_label matches the reversed window: it answers as the plain pattern, a
    search for the label ending the 24 characters before the number, at every place."""
    import re

    from curate.pii_structured import not_personal_label

    plain = re.compile(r"(?i)(?:(?:order|invoice|tracking|receipt|serial|confirmation|ticket|case|reference|ref|booking"
                       r"|claim|account|transaction|po|part|model|item|sku|product|catalog(?:ue)?|lot|batch)"
                       r"[ \t]*(?:number|no\.?|id|#)?(?:[ \t]+(?:is|was))?|订单号?|单号|编号|流水号|序列号|工单号?)"
                       r"[ \t]*[:：#]?[ \t]*$")
    pieces = ["order", "ORDER", "Ticket", "po", "ref", "reference", "catalog", "ue", "number", "no", "No.", "id", "#",
              "is", "was", " ", "\t", ":", "：", "\n", "订单", "号", "单", "编", "工", "流水", "序列", "x", "1",
              "ſku", "SKU", "K", "batch", "a", "call me at "]
    texts = _texts_of(pieces, 40_000, 9, seed=2) + [sample.text for sample in corpus(300, seed=6)]
    answers = set()
    for text in texts:
        for end in range(len(text) + 1):
            expected = plain.search(text, max(0, end - 24), end) is not None
            assert not_personal_label(text, end) == expected, (text, end)
            answers.add(expected)
    assert answers == {True, False}


def test_the_places_chinese_names_start_are_those_of_one_alternation():
    """Two scans merged stand for one pattern with an empty branch at a clause's start: the
    same places, in the same order, with the same kind."""
    import re

    from curate.pii_names_zh import _name_places

    plain = re.compile(r"(?:^|(?<=[。！？，、；：,:;!?\s\n]))|(请|由|被|跟|给|让|和|是)|(联系|客户|患者|病人|收件人|寄件人|寄给|发给|"
                       r"交给|转给|找|问|告诉|通知|转告|感谢|谢谢|恭喜|同事|老板|经理|医生|老师|"
                       r"老公|老婆|丈夫|妻子|爱人|儿子|女儿|朋友|同学|负责人|主管|司机)")
    pieces = [*"请由被跟给让和是找问。！？，、；：,:;!? \n\tab王李", "联系", "联系人", "客户", "收件人", "谢谢", "老师", "负责人", "司机"]
    texts = _texts_of(pieces, 40_000, 12, seed=3) + [sample.text for sample in corpus(300, seed=7)]
    for text in texts:
        expected = [(m.end(), m.group(2) is not None, m.group(1) is None and m.group(2) is None)
                    for m in plain.finditer(text)]
        assert _name_places(text) == expected, text


def test_name_patterns_with_a_capital_first_find_what_they_found_without():
    import re

    from curate import pii_names

    plain_surname_first = re.compile(rf"(?<![^\W\d_])({pii_names._CAPITALISED}),[ \t]+({pii_names._CAPITALISED})"
                                     r"(?![^\W\d_])")
    pieces = ["Smith", "O'Brien", "McDonald", "DuVall", "José", "Łukasz", "john", ",", ", ", " ", "\t", "\n", "-",
              "'", "é", "中", "A", "b", "1", ":", "D'Arcy", "Mac"]
    texts = _texts_of(pieces, 40_000, 8, seed=4)
    gated = 0
    for text in texts:
        spans = lambda pattern: [(m.span(), m.groups()) for m in pattern.finditer(text)]  # noqa: E731
        assert spans(pii_names._SURNAME_FIRST) == spans(plain_surname_first), text
        pair = pii_names._CAPITAL_PAIR.search(text) is not None
        assert not pair or pii_names._UPPER_LOWER.search(text), text  # the gate never hides a pair
        gated += not pii_names._UPPER_LOWER.search(text)
    assert gated  # and it does turn texts away


def test_a_gate_of_words_is_found_exactly_where_one_of_its_words_is():
    from curate.pii_emails import _SPELLED_EMAIL_MARKERS
    from curate.pii_structured import _DOB_HINTS, _FR_WORDS
    from curate.text import any_of

    words = ("D.O.B", "at]", "t）", "a|b", "x*", "生日", "dot")  # regex syntax is plain text here
    pieces = [*words, "D", ".", "O", "B", "a", "t", "]", "）", "|", "b", "x", "*", "生", "日", "do", " "]
    gate = any_of(*words)
    texts = _texts_of(pieces, 20_000, 6, seed=8)
    for text in texts:
        assert (gate.search(text) is not None) == any(word in text for word in words), text
    assert any(gate.search(text) for text in texts) and not all(gate.search(text) for text in texts)
    assert _SPELLED_EMAIL_MARKERS.search("bob [at) example") and not _SPELLED_EMAIL_MARKERS.search("bob at example")
    assert _DOB_HINTS.search("D.O.B: 1/2/83") and not _DOB_HINTS.search("DxOxB")
    assert _FR_WORDS.search("12 rue de la paix") and not _FR_WORDS.search("a ruelle")


def test_no_name_is_looked_for_inside_a_value_already_found(monkeypatch):
    """A name inside an address or a number would overlap it and go: the name finders skip the
    capitalised runs wholly inside such a value, and the Chinese surnames inside one (each a
    jieba look-up), and still find the names beside it."""
    from curate import pii_names, pii_names_zh

    looked_at = []
    name_from, name_at = pii_names._name_from, pii_names_zh._zh_name_at
    monkeypatch.setattr(pii_names, "_name_from", lambda text, start, *rest: looked_at.append(start)
                        or name_from(text, start, *rest))
    monkeypatch.setattr(pii_names_zh, "_zh_name_at", lambda text, start, strong: looked_at.append(start)
                        or name_at(text, start, strong))
    for text, name in (("Please ship it to 93328 Davis Island, Rodriguezside, LA 93111. Contact Gary Nielsen.",
                        "Gary Nielsen"),
                       ("请把快递寄到北京市玲市高坪天津街y座 860837，收件人杨建平。", "杨建平")):
        looked_at.clear()
        spans = find_pii(text)
        address = next(span for span in spans if span.type == "ADDRESS")
        assert [text[s.start:s.end] for s in spans if s.type == "PERSON"] == [name]
        assert not [at for at in looked_at if address.start <= at < address.end], (text, looked_at)
