"""Each PII format the realistic corpus brought up, with positives and near misses, and the
corpus itself: Faker values (en_US, zh_CN) in the phrasings of tests/pii_corpus.py."""

from __future__ import annotations

import pytest

from curate.pii import PiiConfig, find_pii
from tests.pii_corpus import corpus, score


def found(text: str) -> list[tuple[str, str]]:
    return [(span.type, text[span.start:span.end]) for span in find_pii(text, PiiConfig())]


@pytest.mark.parametrize("text, kind, value", [
    ("Call me at (445)243-6001x295 tomorrow.", "PHONE", "(445)243-6001x295"),
    ("Office: 480.302.1372, ask for Sam.", "PHONE", "480.302.1372"),
    ("Reach us on +1-780-563-6083 ext. 77 any time.", "PHONE", "+1-780-563-6083 ext. 77"),
    ("手机+86 138 1234 5678，随时联系。", "PHONE", "+86 138 1234 5678"),
    ("座机(010) 6234 5678。", "PHONE", "(010) 6234 5678"),
    ("SSN 409-91-0019 on file.", "SSN", "409-91-0019"),
    ("My social security number is 409910019.", "SSN", "409910019"),
    ("Maestro 501862027866 expired.", "CARD", "501862027866"),
    ("Amex 3782 822463 10005 please.", "CARD", "3782 822463 10005"),
    ("Pay to GB63RHSC45498174104090 today.", "IBAN", "GB63RHSC45498174104090"),
    ("Passport number: N10339621.", "PASSPORT", "N10339621"),
    ("护照号码：E12345678", "PASSPORT", "E12345678"),
    ("Patient DOB 03/22/1963, seen today.", "DOB", "03/22/1963"),
    ("She was born on March 3, 1985 in Ohio.", "DOB", "March 3, 1985"),
    ("出生日期1990年5月12日。", "DOB", "1990年5月12日"),
    ("Ship to 166 Pierce Station, Edwardsborough, SD 42105 by Monday.", "ADDRESS",
     "166 Pierce Station, Edwardsborough, SD 42105"),
    ("We moved to 42 Maple Street, Apt 3B last year.", "ADDRESS", "42 Maple Street, Apt 3B"),
    ("请寄到北京市朝阳区建国路88号，谢谢。", "ADDRESS", "北京市朝阳区建国路88号"),
    ("我的QQ号是 123456789。", "QQ", "123456789"),
    ("加微信 zhang_san-88 聊。", "WECHAT", "zhang_san-88"),
    ("Hi, I'm Norma Fisher and I need help.", "PERSON", "Norma Fisher"),
    ("Customer Nicholas Nolan asked for a refund.", "PERSON", "Nicholas Nolan"),
    ("Patient: Mrs. Peggy Cherry, follow up.", "PERSON", "Mrs. Peggy Cherry"),
    ("Ask Maria Lopez about it.", "PERSON", "Maria Lopez"),
    ("Thomas Good wrote that the build is red.", "PERSON", "Thomas Good"),
    ("联系田淑英，邮箱已更新。", "PERSON", "田淑英"),
    ("客户傅彬的订单已发货。", "PERSON", "傅彬"),
])
def test_each_format_is_found(text, kind, value):
    assert (kind, value) in found(text), found(text)


@pytest.mark.parametrize("text", [
    "The ticket number is 938-555-0147, keep it.",
    "Order 979212965548 shipped.",
    "The job ran at 2024-03-05 14:22:10 and failed.",
    "Version 2.14.3 fixed it.",
    "It costs $1,299.00 a year.",
    "Confirmation code ABCD2345.",
    "Card ending 4111111111111112 failed.",  # fails Luhn
    "身份证150928200106291001校验不通过。",  # wrong check digit
    "Reference number 123-45-6789 is a case id.",  # SSN-shaped (and valid), but labelled a reference
    "The build was born on Tuesday.",
    "请查收附件，谢谢。",
    "Contact Sales Team for a quote.",
    "Call the Customer Service line.",
])
def test_near_misses_are_left_alone(text):
    assert found(text) == []


def test_the_realistic_corpus_meets_the_targets():
    samples = corpus(3000, seed=11)
    spans = [[(span.start, span.end) for span in find_pii(sample.text)] for sample in samples]
    results = score(samples, spans)
    for kind, (hit, total) in results.items():
        if kind.startswith("~"):
            assert hit / total >= 0.98, (kind, hit, total)
        elif kind not in ("PERSON", "ADDRESS"):
            assert hit / total >= 0.99, (kind, hit, total)
    assert results["ADDRESS"][0] / results["ADDRESS"][1] >= 0.9
    for lang, bound in (("en", 0.95), ("zh", 0.95)):
        chosen = [(s, f) for s, f in zip(samples, spans) if s.lang == lang]
        hit, total = score([s for s, _ in chosen], [f for _, f in chosen])["PERSON"]
        assert hit / total >= bound, (lang, hit, total)


def test_fields_all_scrubs_user_ids_and_kept_columns(tmp_path):
    from curate.pii import PiiScrubber
    from curate.records import Example

    record = Example(instruction="Summarise the call.", user_id="maria.lopez@example.com",
                     meta={"extra": {"caller": "Hi, I'm Maria Lopez, call me on (445)243-6001x295", "duration": 31}})
    default, _ = PiiScrubber(PiiConfig())(record)
    assert default.user_id == record.user_id and default.meta["extra"] == record.meta["extra"]
    everything, found = PiiScrubber(PiiConfig(fields="all"))(record)
    assert everything.user_id == "<EMAIL>"
    assert everything.meta["extra"] == {"caller": "Hi, I'm <PERSON>, call me on <PHONE>", "duration": 31}
    assert {item.field for item in found} == {"user_id", "meta.extra.caller"}


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
