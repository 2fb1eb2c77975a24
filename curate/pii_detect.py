"""PII detectors: cheap regexes find candidates, a checksum or parser confirms each one.

Speed comes from gating. Each detector runs only when a one-pass check (a substring, a
digit, a Han character) says it could match, and the costly confirmers see candidates,
never whole texts: phonenumbers' matcher gets the digit run, `ipaddress` the dotted or
coloned token. Identifiers with a cue or a checksum of their own (SSN, IBAN, passports,
addresses...) are in pii_structured.py, person names in pii_names.py (English) and
pii_names_zh.py (Chinese); this module runs them all and resolves overlaps by type. Nothing here logs or raises with a found value in the message.
"""

from __future__ import annotations

import bisect
import datetime
import ipaddress
import itertools
import re
from collections.abc import Iterable
from typing import NamedTuple

from curate import pii_names
from curate.pii_names import english_names, load_spacy, spacy_names
from curate.pii_emails import emails
from curate.pii_names_zh import zh_names
from curate.pii_secrets import secrets
from curate.pii_structured import not_personal_label, structured

__all__ = ["PRIORITY", "TYPES", "Span", "detect", "load_spacy", "phone_key", "resolve", "warm_up", "with_names"]

TYPES = ("PRIVATE_KEY", "URL_CREDENTIALS", "API_KEY", "PASSWORD", "EMAIL", "IBAN", "CN_ID", "CARD", "SSN", "IP",
         "PASSPORT", "DOB", "QQ", "WECHAT", "ADDRESS", "PHONE", "PERSON")
# When two spans overlap the earlier type wins: a key block beats what it contains, a
# validated 18-digit ID beats a Luhn hit on the same digits, an address beats the phone-shaped
# digits in it, a name loses to everything (a street named after a person is an address).
PRIORITY = {name: rank for rank, name in enumerate(TYPES)}


class Span(NamedTuple):
    """One found item: its type and [start, end) offsets in the text; never the value."""

    type: str
    start: int
    end: int


_DIGIT = re.compile(r"\d")
# Patterns scanned over whole texts start with the character class they consume, and check the
# character before it with a look-behind that spans both: sre then skips ahead to the next
# candidate character in C, where a leading look-behind made it try every position (twice as
# fast on T0 prompts; the same matches, tests/test_pii_formats.py).
# 6-digit place, birth date 1900-2099, 3-digit sequence, check digit; stdnum then checks all
_CN_ID = re.compile(r"[1-9](?<![0-9A-Za-z][1-9])\d{5}(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                    r"(?![0-9A-Za-z])")
_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
                       "71 81 82".split())
# Issuer digits 2-6 (Mastercard 2-series through UnionPay 62): a 13-digit millisecond
# timestamp starting with 1 passes Luhn one time in ten and is not a card.
# (no card starts after a group of four digits: "Order 1234 5678 9012 3456" holds no card at 5678)
_CARD = re.compile(r"[0-6](?<![0-9A-Za-z.-][0-6])(?<!\d{4}[ -][0-6])(?:(?<=[2-6])\d{3}|(?<=0)604)(?:[ -]?\d){8,15}"
                   r"(?![0-9A-Za-z]|[.-]\d)")
_IPV4 = re.compile(r"\d(?<![0-9A-Za-z_.]\d)\d{0,2}(?:\.\d{1,3}){3}(?![0-9A-Za-z_]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Za-z_:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![0-9A-Za-z_:])")
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f]")
_VERSION_LABEL = re.compile(r"(?i)(?:\b(?:version|release|build|firmware|ver\.?)|版本号?)[ \t]*[:：]?[ \t]*$")  # 1.2.3.4 is a version
_CHINESE_EXTENSION_WORDS = "转分机|转|分机"  # Chinese for "extension"
_EXTENSION = rf"[ \t]*(?:x|ext\.?|extension|#|;ext=|{_CHINESE_EXTENSION_WORDS})"
# digits after 转 that start another number (转 139 8765 4321: "or else") or count something
# (转 3 次, 转100元: "transfer 100 yuan") are not an extension: the number ends before the word
_NOT_AN_EXTENSION = r"(?![ \t\-.]\d|[ \t]*[元块次万个天])"
# an optional + or bracket, then a digit: whichever of the three the first character was
_PHONE = re.compile(rf"[\d+(](?<![0-9A-Za-z+][\d+(])(?:(?<=\+)\d|(?<=\()\+?\d|(?<=\d))"
                    rf"[\d \-.()]{{5,20}}\d(?:{_EXTENSION}[ \t]*\d{{1,6}}{_NOT_AN_EXTENSION})?(?![0-9A-Za-z])")
_CHINESE_EXTENSION = re.compile(f"[ \t]*(?:{_CHINESE_EXTENSION_WORDS})[ \t]*")
_DOTTED = re.compile(r"\d+(?:\.\d+)+")
_DOTTED_PHONE = re.compile(r"(?:\+?1\.)?\(?\d{3}\)?\.\d{3}\.\d{4}")  # 480.302.1372: the US style
# 86.139.1234.5678 and 0086.139.1234.5678, China's code (or its dialled form) before a number; a
# mobile alone (139.1234.5678) only after a word for a phone: documents and releases are numbered so
_DOTTED_CN = re.compile(r"(?:00)?86\.(?:1\d\d\.\d{4}\.\d{4}|1\d{10}|\d{2,3}\.\d{3,4}\.\d{4}|\d{2,3}\.\d{7,8})")
_DOTTED_CN_MOBILE = re.compile(r"1[3-9]\d\.\d{4}\.\d{4}")
_PHONE_CUE = re.compile(r"(?i)(?:call(?:ed)?|phone|tel|telephone|mobile|cell|fax|reach (?:me|us)|text(?: me)?|"
                        r"whatsapp|number|电话|手机|座机|打|联系方式|致电)[^\n\d]{0,12}$")
_AREA_IN_BRACKETS = re.compile(r"(?:\+\d{1,3}[ .-]?)?\(\+?\d{1,5}\)")  # the one bracket pair a quick parse takes
_DATE_TIME = re.compile(r"(?:19|20)\d\d-\d\d-\d\d(?:[ T]\d\d(?::\d\d)*)?")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
# Chinese text often types digits and @ full width (１３８, ＠); detect on the ASCII twins.
# Gate on those, not on all full-width forms: nearly every Chinese text has a ，or ：
_FULL_WIDTH = re.compile("[\uff0d\uff0e\uff10-\uff19\uff20-\uff3a\uff41-\uff5a]")  # and －．: 139－1234－5678
_HALF_WIDTH = {0x3000: " ", **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}}


def detect(text: str, types: frozenset[str], names: bool = True, spacy_model: str | None = None) -> list[Span]:
    """Non-overlapping spans of the wanted types, sorted by start; a found name is a span
    wherever it recurs in the text."""
    if not text.isascii() and _FULL_WIDTH.search(text):  # isascii: a flag, not a scan
        text = text.translate(_HALF_WIDTH)  # char for char, so offsets still fit the original
    spans: list[Span] = [Span(*found) for found in secrets(text, types)]
    if "EMAIL" in types:
        spans += [Span("EMAIL", start, end) for start, end in emails(text)]
    digits = _DIGIT.search(text) is not None
    spans += [Span(*found) for found in structured(text, types, digits)]
    if digits:
        spans += _numbers(text, types, spans)
    if "PHONE" in types and not text.isascii() and _HAN_DIGITS.search(text):
        spans += _han_digit_phones(text)
    # a valid IPv6 address has "::" or two groups side by side ("1:2"): colons in prose have neither
    if "IP" in types and text.count(":") >= 2 and ("::" in text or _HEX_PAIR.search(text)):
        spans += [Span("IP", *m.span()) for m in _IPV6.finditer(text) if _is_ipv6(m.group()) and not _a_network(text, m.end())]
    if "PERSON" in types and names:
        spans += _people(text, spacy_model, spans)
    return resolve(spans)


# Texts that reach every detector's confirmer (made-up values, in our own words)
_WARM_UP_TEXTS = (
    "Call Dana Whitfield on (212) 555-0147 x12 or +44 20 7946 0958; SSN: 536-22-8726; card 4111 1111 1111 1111;"
    " date of birth: 03/12/1984; lives at 1600 Oak Street, Springfield, IL 62704.",
    "Mail ops@example.org from 192.168.0.7 or fe80::1; IBAN GB82 WEST 1234 5698 7654 32; passport no. X1234567.",
    "王小明说明天到北京市朝阳区建国路88号，电话 010-62345678，手机 13812345678，身份证 11010519491231002X，"
    "QQ：123456789，微信：wxid_abc123。",
)


def warm_up(types: Iterable[str] = TYPES) -> None:
    """Load now what detection otherwise loads on first use (jieba and the name tables built
    from it, phonenumbers and its metadata, python-stdnum, compiled patterns): called before
    forking workers, so they share one copy instead of each spending its first chunk loading."""
    wanted = frozenset(types)
    if "PERSON" in wanted:
        pii_names.warm_up()
    for text in _WARM_UP_TEXTS:
        detect(text, wanted)


def _numbers(text: str, types: frozenset[str], found: list[Span]) -> list[Span]:
    """ID numbers, cards, IPv4 addresses and phones: each checked, not just shaped right."""
    spans: list[Span] = []
    if "CN_ID" in types:
        spans += [Span("CN_ID", *m.span()) for m in _CN_ID.finditer(text) if _is_cn_id(m.group())]
    if "CARD" in types:
        # an 18-digit number shaped like an ID (place, birth date) that failed its checksum is
        # a mistyped ID, not a card that happens to pass Luhn
        spans += [Span("CARD", *m.span()) for m in _CARD.finditer(text)
                  if _is_card(m.group()) and not _CN_ID.fullmatch(m.group())
                  and not not_personal_label(text, m.start())]
    if "IP" in types and "." in text:
        spans += [Span("IP", *m.span()) for m in _IPV4.finditer(text) if _is_ipv4(m.group())
                  and not _VERSION_LABEL.search(text, max(0, m.start() - 16), m.start()) and not _a_network(text, m.end())]
    if "PHONE" in types:
        taken = _Covered(found + spans)  # digits already claimed by a checked type need no phone parse
        for m in _PHONE.finditer(text):
            if not taken.overlaps(m.start(), m.end()):
                spans += _phones(text, m.start(), m.group())
    return spans


def _is_cn_id(number: str) -> bool:
    """Checksum, a real birth date not in the future, and a province code.

    Not `ric.is_valid`: it also rejects a county code created after the birth year, but
    codes follow where a person is registered, so real IDs of people born earlier carry them.
    """
    from stdnum.cn import ric
    from stdnum.exceptions import ValidationError

    if number[:2] not in _PROVINCES or number[-1].upper() != ric.calc_check_digit(number):
        return False
    try:
        return ric.get_birth_date(number) <= datetime.date.today()
    except ValidationError:
        return False


def _is_card(number: str) -> bool:
    from stdnum import luhn

    digits = number.replace(" ", "").replace("-", "")
    if len(digits) == 12:  # only Maestro issues 12-digit cards
        return digits[:2] in _MAESTRO_12 and luhn.is_valid(digits)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


_MAESTRO_12 = frozenset(["50", "06", *map(str, range(56, 70))])  # 06: Maestro UK's 0604


def _is_ipv4(candidate: str) -> bool:
    try:
        address = ipaddress.IPv4Address(candidate)
    except ValueError:  # 999.1.1.1, leading zeros
        return False
    return not (address.is_loopback or address.is_unspecified)  # 127.0.0.1, 0.0.0.0: every machine's own


def _a_network(text: str, end: int) -> bool:
    """Is the address ending at text[end] a network's, as in 192.168.0.0/16? It names no host."""
    return text.startswith("/", end) and text[end + 1:end + 2].isdigit()


def _is_ipv6(candidate: str) -> bool:
    # "a::b" is a valid address and also C++; a real one in text has a digit in it
    if not any(c.isdigit() for c in candidate) or candidate.count(":") < 2:
        return False
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:  # times (12:30:45), MAC addresses
        return False
    return not (address.is_loopback or address.is_unspecified)  # ::1, ::


def _phone_region(candidate: str, digits: str) -> str | None:
    if candidate.lstrip("(").startswith("+"):
        return None
    if _CN_MOBILE.fullmatch(digits) or digits.startswith("0"):
        return "CN"  # mobiles, and landlines dialled with the trunk 0 (010-12345678)
    return "US"  # a bare 10-digit number is a US one or nothing, never a CN landline


def _china_without_plus(candidate: str, digits: str) -> bool:
    """Is this China's country code with its + left out, as people write it: 86 139 1234 5678,
    86-10-62345678, (86)13912345678? (0086, the dialled form, phonenumbers reads itself.)"""
    return digits.startswith("86") and len(digits) in (12, 13) and not candidate.lstrip("(").startswith("+")


def _plus_added(candidate: str) -> str:
    return "(+" + candidate[1:] if candidate.startswith("(") else "+" + candidate


def phone_key(value: str) -> str:
    """E.164 form of a found phone number, so +86 138 1234 5678, 86 138 1234 5678 and
    13812345678 are one."""
    import phonenumbers

    # 一三八… is 138… (every such number had the key ""), and 138，1234，5678 is 13812345678
    value = value.translate(_HAN_DIGIT_VALUES).translate(_NO_GROUP_MARKS)
    digits = "".join(c for c in value if c.isdigit())
    if _china_without_plus(value, digits):
        value = _plus_added(value)
    try:
        number = phonenumbers.parse(value, _phone_region(value, digits))
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A mobile number in Chinese numerals (一三八一二三四五六七八), written so to slip past filters:
# also in the formal numerals of cheques (壹叁捌…), a blank or dash after any numeral, or mixed
# with digits (138一二三四五六七八); not a count (a measure word follows: 一三〇〇〇〇〇〇〇〇〇册)
_HAN_NUMERALS = "〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖"
_HAN_DIGIT_VALUES = str.maketrans(_HAN_NUMERALS, "001234567891" "123456789")  # 幺: how 1 is said in numbers
_HAN_DIGITS = re.compile(f"[{_HAN_NUMERALS}][ -]?[{_HAN_NUMERALS}]")  # the gate: two numerals side by side
_ANY_DIGIT = f"[0-9{_HAN_NUMERALS}]"
# (after 86 or 0 in digits, a number in numerals may start: 86一三八…, +86 一三八…; one in digits
# may not start inside a run of them; nor a number inside a run of numerals with blanks between)
_HAN_NUMBER = f"[{_HAN_NUMERALS}十百千万亿]"
_NOT_BESIDE = f"[0-9{_HAN_NUMERALS}十百千万亿]"
_HAN_MOBILE = re.compile(rf"(?:(?<!{_NOT_BESIDE})1|(?<!{_HAN_NUMBER})[一幺壹])"
                         rf"(?<!{_HAN_NUMBER}[ \-].)[ \-]?[3-9三四五六七八九叁肆伍陆柒捌玖]"
                         rf"(?:[ \-]?{_ANY_DIGIT}){{9}}(?![ \-]?{_NOT_BESIDE}|[ \t]*[册本个件次元块年页人号])")

# or in groups of 3, 4 and 4 with one mark between them, after a word for a phone: a comma, an
# enumeration comma or a middle dot (手机一三八，一二三四，五六七八), not inside a longer list of groups
_GROUP_MARKS = "，,、·・"
_GROUP_MARK = f"[{_GROUP_MARKS}]"
_HAN_MOBILE_GROUPED = re.compile(rf"(?<!{_NOT_BESIDE})(?<!{_NOT_BESIDE}{_GROUP_MARK})[1一幺壹][3-9三四五六七八九叁肆伍陆柒捌玖]"
                                 rf"{_ANY_DIGIT}({_GROUP_MARK}){_ANY_DIGIT}{{4}}\1{_ANY_DIGIT}{{4}}"
                                 rf"(?!{_GROUP_MARK}?{_NOT_BESIDE}|[ \t]*[册本个件次元块年页人号])")
_NO_GROUP_MARKS = str.maketrans("", "", _GROUP_MARKS)  # which phonenumbers reads as no separator
_NOT_DIGITS = str.maketrans("", "", " -" + _GROUP_MARKS)


def _han_digit_phones(text: str) -> list[Span]:
    """Mobile numbers with Chinese numerals in them that are valid when read as digits."""
    import phonenumbers

    spans = []
    for pattern in (_HAN_MOBILE, _HAN_MOBILE_GROUPED):
        for match in pattern.finditer(text):
            if match.group().isascii():
                continue  # digits only: the phone detector's
            if pattern is _HAN_MOBILE_GROUPED and (not _after_a_phone_word(text, match.start())
                                                   or not_personal_label(text, match.start())):
                continue  # groups of numerals are lists as often (一五〇，二〇〇〇，三〇〇〇米): a phone's word first
            digits = match.group().translate(_HAN_DIGIT_VALUES).translate(_NOT_DIGITS)
            if phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN")):
                spans.append(Span("PHONE", *match.span()))
    return spans


def _after_a_phone_word(text: str, start: int) -> bool:
    """Does a word for a phone ("call", "phone", 电话, 手机…) come just before text[start]?"""
    return _PHONE_CUE.search(text, max(0, start - 24), start) is not None


_NOT_A_PHONE_AFTER = re.compile(r"-[A-Z]{3,}\b|\.\d")  # a vanity number's letters, a decimal part


def _phones(text: str, offset: int, candidate: str) -> list[Span]:
    """Valid numbers inside one digit run, parsed in the region its shape suggests."""
    if candidate.startswith("(") and ")" not in candidate:  # "(1-800-273-8255)": the bracket opens a remark
        return _phones(text, offset + 1, candidate[1:])
    if ")" in candidate and "(" not in candidate:  # "(iOS 4.2.1) 8207.0ms": the bracket closes a remark
        cut = candidate.index(")") + 1
        rest = candidate[cut:].lstrip()
        return _phones(text, offset + len(candidate) - len(rest), rest) if rest else []
    if _NOT_A_PHONE_AFTER.match(text, offset + len(candidate)):
        return []  # 1-800-273-TALK: a business's vanity number, once cut to "<PHONE>-TALK"; 8207.0 ms
    number = re.split(_EXTENSION, candidate, maxsplit=1)[0]
    digits = "".join(c for c in number if c.isdigit())
    with_code = number.lstrip("(").startswith(("+86", "+ 86")) or _china_without_plus(number, digits)
    national = digits[2:] if digits.startswith("86") and with_code else digits
    if _CN_MOBILE.fullmatch(national) and _CHINESE_EXTENSION.search(candidate):
        candidate = number.rstrip()  # a mobile has no extension: 13812345678转100元 is "transfer 100 yuan"
    if not 7 <= len(digits) <= 15 or (_DOTTED.fullmatch(number) and _a_version(text, offset, number, digits)):
        return []  # too short or long for E.164
    if _DATE_TIME.match(number):
        return []  # 2024-03-05 14:22 is a time
    if not_personal_label(text, offset):
        return []
    # a number written as one (separators, brackets, a +, an extension), or a run of digits
    # right after "call", "phone", 电话..., only has to be possible in its region; any other
    # bare run of digits must be a valid, assigned number to count
    formatted = not number.isdigit() or _after_a_phone_word(text, offset)
    if not formatted and _a_quantity(text, offset, offset + len(candidate), len(digits)):
        return []
    if _china_without_plus(candidate, digits):
        # read with the + it left out; a valid number, not just a possible one, as 12-13 digits
        # after 86 are often some other number's
        valid = _whole_number(_CHINESE_EXTENSION.sub(" ext ", _plus_added(candidate)), None, formatted=False)
        return [Span("PHONE", offset, offset + len(candidate))] if valid else []
    region = _phone_region(candidate, digits)
    if _whole_number(_CHINESE_EXTENSION.sub(" ext ", candidate), region, formatted):  # phonenumbers reads ext only
        return [Span("PHONE", offset, offset + len(candidate))]
    from phonenumbers import Leniency, PhoneNumberMatcher

    leniency = Leniency.POSSIBLE if formatted else Leniency.VALID
    matches = PhoneNumberMatcher(candidate, region, leniency=leniency)
    return [Span("PHONE", offset + m.start, offset + m.end) for m in matches]


def _a_version(text: str, offset: int, number: str, digits: str) -> bool:
    """Is a dotted run of digits a version or an IP rather than a phone? It is, unless it is
    US-shaped (480.302.1372) or China's code before a number (86.139.1234.5678, checked as valid
    later), and not after a word for a version."""
    if not (_DOTTED_PHONE.fullmatch(number)
            or _DOTTED_CN.fullmatch(number) and _china_without_plus(number.removeprefix("00"), digits.removeprefix("00"))
            or _DOTTED_CN_MOBILE.fullmatch(number) and _after_a_phone_word(text, offset)):
        return True  # (not 861.062.345.678 either: thousands, not 86 and a number's groups)
    return _VERSION_LABEL.search(text, max(0, offset - 16), offset) is not None


def _a_quantity(text: str, start: int, end: int, digits: int) -> bool:
    """Is a bare run of digits, with no word for a phone before it, a quantity? Shorter than a
    whole national number (3109595: a local number is written with a dash, or after "call"),
    in a sum ("6505550133 modulo 7", "= 4155550198"), or with a unit after it (bytes, 元)."""
    return digits < 10 or bool(_SUM_BEFORE.search(text, max(0, start - 12), start)) or \
        bool(_SUM_OR_UNIT_AFTER.match(text, end))


_SUM_BEFORE = re.compile(r"(?:[=+*/×÷^%<>]|\b(?:compute|calculate|sum|product|times|plus|minus|divided by|of))[ \t]*$",
                         re.I)
_SUM_OR_UNIT_AFTER = re.compile(r"[ \t]*(?:[=+*/×÷^%<>]|(?:modulo|mod|times|plus|minus|divided|squared|cubed"
                                r"|bytes?|[KMGT]i?B|ms|km|kg|dollars|USD|EUR|people|years)\b|元|块|万|亿|美元|人民币|字节)",
                                re.I)


def _whole_number(candidate: str, region: str | None, formatted: bool) -> bool:
    """Is the whole digit run one possible (formatted) or valid (bare) number? phonenumbers'
    matcher answers the same for such a run but costs ~5x more, as it also looks for numbers
    inside it; it is asked only when this says no. Brackets anywhere but one pair round the
    area code at the front ("(445)243-6001", "+1 (445) 243 6001") go to the matcher too: it may
    find a number inside (1-800 (555) 1234) or none."""
    import phonenumbers

    if ("(" in candidate or ")" in candidate) and not (
            candidate.count("(") == candidate.count(")") == 1 and _AREA_IN_BRACKETS.match(candidate)):
        return False
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) if formatted else phonenumbers.is_valid_number(number)


def _people(text: str, spacy_model: str | None, found: list[Span]) -> list[Span]:
    taken_spans = [(span.start, span.end) for span in found]
    spans = [Span("PERSON", s, e) for s, e in english_names(text, taken_spans)]
    spans += [Span("PERSON", s, e) for s, e in zh_names(text, taken_spans)]
    if spacy_model:
        spans += [Span("PERSON", s, e) for s, e in spacy_names(load_spacy(spacy_model), text)]
    taken = _Covered(found)
    spans = [span for span in spans if not taken.overlaps(span.start, span.end)]
    return spans + _recurrences(text, {text[s.start:s.end] for s in spans})


def with_names(text: str, spans: list[Span], names: Iterable[str]) -> list[Span]:
    """`spans` plus every occurrence of names found elsewhere in the same record."""
    return resolve(spans + _recurrences(text, names))


def _recurrences(text: str, values: Iterable[str]) -> list[Span]:
    """Every other place a found name occurs; English names only as whole words.

    A lone surname (李 of 李先生) is not looked for again: 行李 and 李子 would go with it.
    """
    spans = []
    for value in values:
        start = text.find(value) if len(value) > 1 else -1
        # a full-width Latin name (Ｂｏｂ, found in the half-width copy detect reads) is English too
        english = value.isascii() or value.translate(_HALF_WIDTH).isascii()
        while start >= 0:
            end = start + len(value)
            if not (english and _inside_word(text, start, end)):
                spans.append(Span("PERSON", start, end))
            start = text.find(value, end)
    return spans


def _inside_word(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())


class _Covered:
    """Does a range overlap any of some spans (which may overlap each other)? A bisection of
    their starts and the running maximum of their ends: O(log n) a question, where a scan of
    every span made a text of many found values quadratic (100 KB of NI numbers: 2.2 s)."""

    def __init__(self, spans: list[Span]):
        self.spans = spans
        self.starts: list[int] | None = None  # sorted on the first question, if there are many spans

    def overlaps(self, start: int, end: int) -> bool:
        if len(self.spans) <= 16:  # most texts: a scan costs less than sorting
            return any(start < span.end and span.start < end for span in self.spans)
        if self.starts is None:
            ordered = sorted((span.start, span.end) for span in self.spans)
            self.starts = [first for first, _ in ordered]
            self.reach = list(itertools.accumulate((last for _, last in ordered), max))
        before_end = bisect.bisect_left(self.starts, end)  # the spans that start before `end`
        return before_end > 0 and self.reach[before_end - 1] > start


def resolve(spans: list[Span]) -> list[Span]:
    """Keep the highest-priority, then longest, of overlapping spans; sorted by start."""
    if len(spans) < 2:
        return spans
    kept: list[Span] = []
    starts: list[int] = []  # of the kept spans, which never overlap, in order, and their ends
    ends: list[int] = []
    for span in sorted(set(spans), key=lambda s: (PRIORITY[s.type], s.start - s.end, s.start)):
        at = bisect.bisect_left(starts, span.end)
        if at and ends[at - 1] > span.start:
            continue  # of the kept spans that start before it ends, the last reaches furthest
        starts.insert(at, span.start)
        ends.insert(at, span.end)
        kept.append(span)
    return sorted(kept, key=lambda s: s.start)
