"""Detectors for identifiers with a fixed shape or a cue: US SSNs and UK National Insurance
numbers, IBANs, passports, dates of birth, postal addresses (US and Chinese), QQ numbers and
WeChat ids.

Each is gated like the detectors in pii_detect.py: a substring or a digit must be there before
a pattern runs, and a checksum (python-stdnum) confirms what has one. Passports, dates of birth,
QQ and WeChat ids carry no checksum, so only a cue ("passport no.", "DOB", 出生日期, QQ号,
微信) makes them personal: a bare date or a bare number is left alone.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from curate.text import any_of


class Found(NamedTuple):
    type: str
    start: int
    end: int


# ---------------------------------------------------------------- checksummed numbers

# A number right after one of these labels names an order or a record, not a person's line,
# card or social security number: a label's word, then "number", "no.", "id" or "#", then "is"
# or "was" (each optional), then a colon or "#", at the very end of the 24 characters before it.
_RECORD_WORDS = ("order", "invoice", "tracking", "receipt", "serial", "confirmation", "ticket", "case", "reference",
                 "ref", "booking", "claim", "account", "transaction", "po", "part", "model", "item", "sku", "product",
                 "catalog", "catalogue", "lot", "batch")
_RECORD_WORDS_ZH = ("订单号", "订单", "单号", "编号", "流水号", "序列号", "工单号", "工单")
_LABEL_WINDOW = 24
# The label ends where the number starts, so it is matched backwards: on the window reversed,
# one anchored attempt, where a search tried ~25 words at each of 24 places (7.4 us a number, 0.8
# reversed). A newline may end the window ("Order no:\n" then the number), as $ allows.
_NOT_PERSONAL_REVERSED = re.compile(
    r"(?i)\n?[ \t]*[:：#]?[ \t]*(?:(?:(?:si|saw)[ \t]+)?(?:rebmun|\.?on|di|#)?[ \t]*(?:"
    + "|".join(word[::-1] for word in _RECORD_WORDS) + ")|" + "|".join(word[::-1] for word in _RECORD_WORDS_ZH) + ")")


def not_personal_label(text: str, start: int) -> bool:
    """Does a label of an order or a record ("Order #", "ticket number is", 订单号：) end at
    text[start], so that the number there is not a person's?"""
    return _NOT_PERSONAL_REVERSED.match(text[max(0, start - _LABEL_WINDOW):start][::-1]) is not None


# (first the class a match starts with, then a look-behind over it: see _CN_ID in pii_detect.py)
_SSN = re.compile(r"(\d(?<![\d-]\d)\d{2})-(\d{2})-(\d{4})(?![\d-])")
# after the cue, also spaced (536 22 8726) or with spaces round the dashes, as people type it
_SSN_CUE = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\s*(?:#|is|[:：-])?\s*"
                      r"(\d{3}(?:[ \t]*-[ \t]*|[ \t]+)?\d{2}(?:[ \t]*-[ \t]*|[ \t]+)?\d{4})(?![\d-])")
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")


def ssns(text: str, folded: str) -> list[Found]:
    """`folded`: text.casefold(), what (?i) matches (ſ is s): a superset of the texts it can match."""
    dashed = list(_SSN.finditer(text))
    after_cue = list(_SSN_CUE.finditer(text)) if "ssn" in folded or "social" in folded else []
    if not dashed and not after_cue:
        return []  # most texts: no import statement run (a submodule's costs ~8 us even when loaded)
    from stdnum.us import ssn

    return [Found("SSN", *m.span()) for m in dashed if ssn.is_valid(m.group())
            and not not_personal_label(text, m.start())] + \
        [Found("SSN", *m.span(1)) for m in after_cue if ssn.is_valid("".join(c for c in m.group(1) if c.isdigit()))]


# A UK National Insurance number: two letters (neither D, F, I, Q, U or V; O not second; not
# one of the unused pairs BG, GB, KN, NK, NT, TN, ZZ), six digits and A-D, as HMRC allocates
# them. In capitals and spaced (AB 12 34 56 C) it is found anywhere; in any other form (AB123456C,
# which product codes resemble, ab-12-34-56-c) only just after a cue, in prose or in a record's
# key ("NI number:", "nino=", "national_insurance_number": "). Reported as SSN, its US counterpart.
_NINO_LETTERS = r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z](?<!BG|GB|KN|NK|NT|TN|ZZ)"
_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9][A-Z])[A-CEGHJ-NPR-TW-Z](?<!BG|GB|KN|NK|NT|TN|ZZ)"
                   r"( ?)\d\d( ?)\d\d( ?)\d\d( ?)[A-D](?![A-Za-z0-9])")
_NINO_SEPARATOR = r"(?:[ \t]?[.\-–][ \t]?|[ \t])?"  # AB 12 34 56 C, AB-12-34-56-C, AB – 12 – …, AB 123456 C
_NINO_AFTER_CUE = re.compile(rf"(?i:{_NINO_LETTERS}){_NINO_SEPARATOR}\d\d{_NINO_SEPARATOR}\d\d{_NINO_SEPARATOR}\d\d"
                             rf"{_NINO_SEPARATOR}(?i:[A-D])(?![A-Za-z0-9])")
# the cue: "NI", "N.I." and "NINO" in capitals ("ni" is Spanish for "nor", Nino a name), the words
# in any case, as a key too; then a label's word, and what stands between a key and its value
_NINO_CUE = re.compile(r"(?:\bNI\b|\bN\.I\.|\bNIN[Oo]\b|\bnino(?=[\"'>]?[ \t]*[:=,|]|>)"
                       r"|(?i:\bnational[ _-]?insurance(?![a-z])|\bnat\.?[ _-]?ins(?:urance)?\.?|\bni_))"
                       r"(?i:[ _-]*(?:\((?:NINO|NI)\))?[ _-]*(?:number|num|no\.?|nr|#)?[ _-]*(?:\((?:NINO|NI)\))?)"
                       r"(?:[ \t]*\bis\b)?[\"'\]>]*[ \t]*[:：=,|#\-]?\s*[\"'(\[<]*[ \t]*")
_FLIGHT = re.compile(r"(?i)\bflight[ \t]+$")
_NINO_FOLDED_HINTS = any_of("nsurance", "ni_", "nino", "nat ins", "nat. ins", "nat_ins")


def ni_numbers(text: str, folded: str) -> list[Found]:
    """`folded`: as for ssns."""
    # (not after a record's label, "Booking ref: AB 12 34 56 C", nor right after "flight": BA is
    # an airline's code, "Flight BA 12 34 56 A")
    found = [Found("SSN", *m.span()) for m in _NINO.finditer(text) if all(m.groups())
             and not not_personal_label(text, m.start()) and not _FLIGHT.search(text, max(0, m.start() - 8), m.start())]
    if "NI" in text or "N.I." in text or _NINO_FOLDED_HINTS.search(folded):
        spaced = {item.start for item in found}  # a set: a scan of `found` per cue was quadratic
        for cue in _NINO_CUE.finditer(text):
            value = _NINO_AFTER_CUE.match(text, cue.end())
            if value and value.start() not in spaced:
                found.append(Found("SSN", *value.span()))
    return found


def ibans(text: str) -> list[Found]:
    matches = list(_IBAN.finditer(text))
    if not matches:
        return []
    from stdnum import iban

    return [Found("IBAN", *m.span()) for m in matches if iban.is_valid(m.group())]


# ---------------------------------------------------------------- identifiers after a cue

# (a series and a number, spaced, as Russian ones are written: "72 1234567", "45 06 123456")
_PASSPORT = re.compile(r"(?i:passport)(?:\s+(?i:number|no\.?|#|id))?\s*(?:is|[:：#])?\s*"
                       r"(\d\d \d{7}|\d\d ?\d\d \d{6}|[A-Z0-9]{6,9})(?![A-Za-z0-9])"
                       r"|护照(?:号码?|号)?\s*(?:是|为|[:：])?\s*([A-Z]{1,2}\d{7,8})(?![A-Za-z0-9])")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = (rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{1,2}}\.\d{{1,2}}\.\d{{4}}"
         rf"|(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}"
         rf"|\d{{4}}年\d{{1,2}}月\d{{1,2}}日)")
_DOB = re.compile(rf"(?:(?i:date of birth|d\.?o\.?b\.?|birth ?date|born(?: on)?|birthday)"
                  rf"|出生日期|出生于|生日)\s*(?:is|[:：])?\s*({_DATE})")
_DOB_HINTS = any_of("birth", "Birth", "DOB", "dob", "D.O.B", "born", "Born", "birthday", "Birthday", "出生", "生日")
_QQ = re.compile(r"(?<![A-Za-z])QQ(?:号码|号)?\s*(?:是|为|[:：])?\s*([1-9]\d{4,10})(?!\d)")
_WECHAT = re.compile(r"(?:微信(?:号)?|(?i:wechat)(?:\s+id)?|(?<![A-Za-z])(?:vx|VX|wx))\s*(?:是|为|[:：])?\s*"
                     r"([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])")


def passports(text: str) -> list[Found]:
    if "assport" not in text and "护照" not in text:
        return []
    found = []
    for match in _PASSPORT.finditer(text):
        group = 1 if match.group(1) else 2
        if any(c.isdigit() for c in match.group(group)):  # "passport is ready" is not a number
            found.append(Found("PASSPORT", *match.span(group)))
    return found


def birth_dates(text: str) -> list[Found]:
    if not _DOB_HINTS.search(text):
        return []
    return [Found("DOB", *m.span(1)) for m in _DOB.finditer(text)]


def messenger_ids(text: str) -> list[Found]:
    found = []
    if "QQ" in text:
        found += [Found("QQ", *m.span(1)) for m in _QQ.finditer(text)]
    if "微信" in text or "echat" in text or "vx" in text or "VX" in text or "wx" in text:
        found += [Found("WECHAT", *m.span(1)) for m in _WECHAT.finditer(text)]
    return found


# ---------------------------------------------------------------- postal addresses

_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
              "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP FM MH PW AA AE AP").split()
_STATES = frozenset(_US_STATES)
# two capitals and a ZIP, the capitals then looked up: an alternation of 60 states tried at every
# word start cost 75 us a 1 KB prompt, this 5
_TWO_CAPITALS_AND_ZIP = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]\s+\d{5}\b")
# a number, a street (words), then ", City, ST 12345": the state and ZIP anchor the match
_US_ADDRESS = re.compile(
    r"(?<![\w-])\d{1,6}[A-Za-z]?\s+(?:[A-Za-z0-9.'-]+\s+){0,5}?[A-Za-z0-9.'-]+"
    r"(?:,?\s+(?:Apt\.?|Suite|Unit|Ste\.?|#)\s*[\w-]+)?"
    r",?\s+(?:[A-Z][A-Za-z.'-]*\s+){0,3}[A-Z][A-Za-z.'-]*,\s+(?:" + "|".join(_US_STATES) + r")\s+\d{5}(?:-\d{4})?"
    r"(?!\d)"
    # military and diplomatic mail: "USNS Smith, FPO AA 12345", "PSC 1234, Box 5678, APO AE 12345"
    r"|(?<!\w)(?:USNS|USNV|USS|USCGC|PSC|Unit)\s+[\w ]{1,30}?,\s+(?:Box\s+\d+,\s+)?(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}"
    r"(?!\d)")
_STREET_SUFFIX = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
                  r"Circle|Cir|Parkway|Pkwy|Square|Sq|Trail|Trl|Highway|Hwy|Alley|Plaza|Loop|Pike")
# After a street: its town and a postcode of the UK (NW1 6XE), Canada (M5H 2S6, after a province),
# Australia (NSW 2000) or the US (TX 78765); the street alone stays an address without one.
_CITY = r"(?:[A-Z][A-Za-z.'-]*\s+){0,2}[A-Z][A-Za-z.'-]*"
_POSTCODE = (r"(?:(?:[A-Z]{2}\s+)?[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|(?:[A-Z]{2}\s+)?[A-Z]\d[A-Z]\s?\d[A-Z]\d"
             r"|(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT)\s+\d{4}|[A-Z]{2}\s+\d{5}(?:-\d{4})?)(?![\w-])")
_TOWN_AND_POSTCODE = rf"(?:,?\s+{_CITY},?\s+{_POSTCODE}(?:,\s+(?:United Kingdom|UK|Canada|Australia|USA?))?)?"
# no state and ZIP needed: a number (221B too), one to three capitalised words and a street suffix
_STREET = re.compile(rf"\d(?<![\w-]\d)\d{{0,5}}[A-Z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_STREET_SUFFIX})\.?(?![A-Za-z])"
                        r"(?:\s+(?:[NSEW]|[NS][EW]|North|South|East|West)(?![\w-]))?"  # 88 Queen St W
                        r"(?:,?\s+(?:Apt\.?|Suite|Unit|Ste\.?|#)\s*[\w-]+)?" + _TOWN_AND_POSTCODE)
_FLAT_BEFORE = re.compile(r"(?<![\w-])(?:Flat|Apartment|Apt\.?|Unit|Suite)\s+\d{1,5}[A-Z]?,?\s+$")
_PO_BOX = re.compile(r"(?<![\w.])(?:P\.?\s?O\.?|Post Office)\s+Box\s+\d{1,6}(?!\d)" + _TOWN_AND_POSTCODE,
                     re.IGNORECASE)
# German (Hauptstraße 5, Berliner Str. 12a) and French (12 rue de la Paix) streets, each with an
# optional five-digit postcode and town after them (10115 Berlin, 75002 Paris)
_EU_TOWN = r"(?:,?\s+\d{5}\s+[A-ZÄÖÜÉ][\w-]+)?"
_DE_STREET = re.compile(
    r"(?<![\w-])(?:[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ]?[a-zäöüß]+)*(?:straße|strasse|str\.|weg|platz|gasse|allee)"
    r"|[A-ZÄÖÜ][a-zäöüß]+\s+(?:Straße|Strasse|Str\.|Weg|Platz|Gasse|Allee))\s+\d{1,4}[a-z]?(?![\w-])" + _EU_TOWN)
_FR_STREET = re.compile(
    r"(?<![\w-])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai)\s+"
    r"(?:(?:de|du|des|la|le)\s+|[ld]'\s?)*[A-ZÉ][\w'-]+(?:\s+[A-ZÉ][\w'-]+){0,3}" + _EU_TOWN)
# words one of which each must hold, looked for in the lower-cased text first (1 us; the
# patterns themselves cost 3 us a text)
_DE_WORDS = any_of("str", "weg", "platz", "gasse", "allee")
_FR_WORDS = any_of("rue ", "avenue ", "boulevard ", "bd ", "place ", "chemin ", "allée ", "impasse ", "quai ")
# province or city (two or three characters), then anything up to a road or street, then its
# numbers and buildings, and a postcode; a verb or particle caught in front (寄到北京市) is trimmed
# After the number: a named building (环球金融中心), then its block, unit, floor and room
# (3单元502室, 15楼1502室), which identify a home as much as the rest.
_CN_ADDRESS = re.compile(
    r"(?:[\u4e00-\u9fff]{2,3}(?:省|自治区))?[\u4e00-\u9fff]{2,3}(?:省|市|自治区|特别行政区)"
    r"(?:[\u4e00-\u9fff]{1,12}?(?:路|街|大道|道|巷|弄|胡同)){1,2}"
    r"(?:[0-9A-Za-z]+(?:号楼|号院|[号座栋室楼层])|[0-9A-Za-z]+单元|[\u4e00-\u9fff]{1,3}[号座栋])*"  # 3号楼: not "<ADDRESS>楼"
    r"(?:[\u4e00-\u9fff]{2,10}?(?:中心|大厦|大楼|广场|花园|小区|公寓|苑)(?:[0-9A-Za-z]+(?:[号座栋室楼层]|单元))*)?"
    r"(?:\d+[号室])?(?:\s*(?:邮编[:：]?\s*)?\d{6}(?!\d))?")


def addresses(text: str, digits: bool = True) -> list[Found]:
    found = []
    if digits:  # a US address has a building number
        if ", " in text and _state_and_zip(text):
            found += [Found("ADDRESS", *m.span()) for m in _US_ADDRESS.finditer(text)]
        for match in _STREET.finditer(text):  # with its flat or unit before it: Flat 2, 15 Church Road
            flat = _FLAT_BEFORE.search(text, max(0, match.start() - 24), match.start())
            found.append(Found("ADDRESS", flat.start() if flat else match.start(), match.end()))
        lowered = text.lower()
        if "box" in lowered:
            found += [Found("ADDRESS", *m.span()) for m in _PO_BOX.finditer(text)]
        for pattern, words in ((_DE_STREET, _DE_WORDS), (_FR_STREET, _FR_WORDS)):
            if words.search(lowered):
                found += [Found("ADDRESS", *m.span()) for m in pattern.finditer(text)]
    if "路" in text or "街" in text or "道" in text or "巷" in text or "弄" in text or "胡同" in text:
        for match in _CN_ADDRESS.finditer(text):
            start = match.start()
            while text[start] in _BEFORE_PLACE and match.end() - start > 6:
                start += 1
            found.append(Found("ADDRESS", start, match.end()))
    return found


def _state_and_zip(text: str) -> bool:
    return any(match.group()[:2] in _STATES for match in _TWO_CAPITALS_AND_ZIP.finditer(text))


_BEFORE_PLACE = frozenset("到在于至往从寄住是的送发")


def structured(text: str, types: frozenset[str], digits: bool) -> list[Found]:
    """Every span of the wanted types among those this module detects; `digits`: whether the
    text has a digit at all (the caller has looked already)."""
    found: list[Found] = []
    if "SSN" in types and digits:
        folded = text.casefold()
        found += ssns(text, folded) + ni_numbers(text, folded)
    if "IBAN" in types and digits:
        found += ibans(text)
    if "PASSPORT" in types:
        found += passports(text)
    if "DOB" in types:
        found += birth_dates(text)
    if ("QQ" in types or "WECHAT" in types):
        found += [item for item in messenger_ids(text) if item.type in types]
    if "ADDRESS" in types:
        found += addresses(text, digits)
    return found
