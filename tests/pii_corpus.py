"""A realistic PII corpus: Faker values (en_US, zh_CN) in the phrasings real prompts use.

Each sample knows where every planted value is and what type it is, and where each near miss
is (order and ticket numbers, versions, timestamps, prices, numbers that fail a checksum),
so a detector is scored on exact positions: a planted value is found when spans cover nearly
all of its letters and digits, a near miss is kept when no span touches it. Used by
tests/test_pii_corpus.py and bench/pii.py; Faker is a dev dependency.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

# Slots: {TYPE} is a planted value of that type; {~kind} a near miss. English phrasings
# first, then Chinese; each language has more than twelve.
EN_PHRASINGS = [
    "Hi, I'm {PERSON}. You can reach me at {PHONE} or {EMAIL}.",
    "Customer {PERSON} called from {PHONE} about order {~order}.",
    "Patient: {PERSON}, DOB {DOB}, SSN {SSN}.",
    "Ask {PERSON} about it before Friday.",
    "Please ship it to {ADDRESS}. Contact {PERSON} at {PHONE}.",
    "My card {CARD} was declined; the ticket number is {~ticket}.",
    "Wire the refund to IBAN {IBAN} in the name of {PERSON}.",
    "Passport number: {PASSPORT}, date of birth {DOB}.",
    "Server {IP} rejected the login from {EMAIL} at {~timestamp}.",
    "{PERSON} wrote: call me on {PHONE} after 5pm.",
    "Send the invoice to {PERSON}, {ADDRESS}.",
    "Version {~version} fixed the crash that {PERSON} reported.",
    "Our office number is {PHONE}; the plan costs {~price} a month.",
    "Thanks, {PERSON}! Your confirmation code is {~code}.",
    "Forward this to {EMAIL} and copy {PERSON}.",
    "The card ending {~card_bad} failed, so I used {CARD} instead.",
]
ZH_PHRASINGS = [
    "你好，我是{PERSON}，电话{PHONE}。",
    "{PERSON}说明天到。",
    "请把快递寄到{ADDRESS}，收件人{PERSON}，手机{PHONE}。",
    "身份证号{CN_ID}，姓名：{PERSON}。",
    "我的QQ是{QQ}，微信号{WECHAT}。",
    "联系{PERSON}，邮箱{EMAIL}。",
    "客户{PERSON}的银行卡{CARD}被冻结了。",
    "订单号{~order}已发货，请{PERSON}注意查收。",
    "患者{PERSON}，出生日期{DOB}。",
    "{PERSON}在{ADDRESS}开了一家店。",
    "版本{~version}修复了{PERSON}报告的问题。",
    "服务器{IP}在{~timestamp}重启了。",
    "加我微信{WECHAT}，或者打{PHONE}。",
    "身份证{~cn_id_bad}校验不通过，请{PERSON}重新填写。",
]
TYPES = ("EMAIL", "PHONE", "SSN", "CARD", "IBAN", "PASSPORT", "DOB", "ADDRESS", "IP", "CN_ID", "QQ", "WECHAT",
         "PERSON")
_SLOT = re.compile(r"\{(~?[A-Za-z_]+)\}")


class Planted(NamedTuple):
    type: str  # a TYPE, or "~kind" for a near miss
    start: int
    end: int


class Sample(NamedTuple):
    text: str
    lang: str
    planted: list[Planted]

    def values(self) -> list[tuple[str, str]]:
        return [(p.type, self.text[p.start:p.end]) for p in self.planted]


def _luhn_digit(partial: str) -> str:
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


class Values:
    """One value per slot kind, drawn from Faker and a seeded generator."""

    def __init__(self, seed: int):
        from faker import Faker

        self.rng = random.Random(seed)
        self.en, self.zh = Faker("en_US"), Faker("zh_CN")
        self.en.seed_instance(seed)
        self.zh.seed_instance(seed + 1)

    def value(self, kind: str, lang: str) -> str:
        fake = self.zh if lang == "zh" else self.en
        rng = self.rng
        if kind == "PERSON":
            return fake.name()
        if kind == "PHONE":
            if lang == "zh" and rng.random() < 0.4:  # international and landline forms Faker lacks
                mobile, area = fake.phone_number(), rng.choice(["010", "021", "0755", "0571", "028"])
                local = f"{rng.randint(2000, 8999)}{rng.randint(1000, 9999)}"
                return rng.choice([f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"+86-{mobile}", f"+86{mobile}",
                                   f"({area}) {local[:4]} {local[4:]}", f"{area}-{local}"])
            return fake.phone_number()
        if kind == "EMAIL":
            return fake.email()
        if kind == "SSN":
            return self.en.ssn()
        if kind == "CARD":
            brand = rng.choice(["maestro", "amex", "visa16", "visa13", "visa19", "mastercard", "discover", "jcb16",
                                "diners"])
            number = self.en.credit_card_number(card_type=brand)
            if rng.random() < 0.4 and len(number) >= 15:  # grouped as printed on the card
                step = [4, 6, 5] if len(number) == 15 else [4] * (len(number) // 4 + 1)
                parts, at = [], 0
                for size in step:
                    if at < len(number):
                        parts.append(number[at:at + size])
                        at += size
                number = rng.choice([" ", "-"]).join(parts)
            return number
        if kind == "IBAN":
            return self.en.iban()
        if kind == "PASSPORT":
            return self.en.passport_number() if lang == "en" else "E" + "".join(rng.choice("0123456789")
                                                                             for _ in range(8))
        if kind == "DOB":
            born = self.en.date_of_birth(minimum_age=18, maximum_age=90)
            if lang == "zh":
                return rng.choice([f"{born.year}年{born.month}月{born.day}日", born.isoformat()])
            return rng.choice([born.strftime("%m/%d/%Y"), born.isoformat(), born.strftime("%B %d, %Y").replace(" 0", " ")])
        if kind == "ADDRESS":
            return fake.address().replace("\n", ", ")
        if kind == "IP":
            return self.en.ipv4() if rng.random() < 0.8 else self.en.ipv6()
        if kind == "CN_ID":
            return self.zh.ssn()
        if kind == "QQ":
            return str(rng.randint(10_000, 3_999_999_999))
        if kind == "WECHAT":
            head = rng.choice("abcdefghijklmnopqrstuvwxyz")
            return head + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(rng.randint(5, 14)))
        return self.near_miss(kind)

    def near_miss(self, kind: str) -> str:
        rng = self.rng
        if kind == "~order":
            return str(rng.randint(10**9, 10**12))
        if kind == "~ticket":
            return f"{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if kind == "~timestamp":
            return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        if kind == "~version":
            return f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        if kind == "~price":
            return f"${rng.randint(5, 2000):,}.{rng.randint(0, 99):02d}"
        if kind == "~code":
            return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
        if kind == "~card_bad":
            partial = "4" + "".join(rng.choice("0123456789") for _ in range(14))
            good = _luhn_digit(partial)
            return partial + str((int(good) + rng.randint(1, 9)) % 10)  # fails Luhn
        if kind == "~cn_id_bad":
            real = self.zh.ssn()
            return real[:-1] + ("0" if real[-1] != "0" else "1")  # wrong check digit
        raise ValueError(kind)


def sample(phrasing: str, lang: str, values: Values) -> Sample:
    text, planted, at = [], [], 0
    for piece in _SLOT.split(phrasing):
        if piece in TYPES or piece.startswith("~"):
            value = values.value(piece, lang)
            planted.append(Planted(piece, at, at + len(value)))
            text.append(value)
        else:
            text.append(piece)
        at += len(text[-1])
    return Sample("".join(text), lang, planted)


def corpus(count: int, seed: int = 0) -> list[Sample]:
    """`count` samples, half English and half Chinese, every phrasing in turn."""
    values = Values(seed)
    samples = []
    for number in range(count):
        lang = "en" if number % 2 == 0 else "zh"
        phrasings = EN_PHRASINGS if lang == "en" else ZH_PHRASINGS
        samples.append(sample(phrasings[(number // 2) % len(phrasings)], lang, values))
    return samples


def covered(start: int, end: int, spans: list[tuple[int, int]], text: str) -> float:
    """The share of letters and digits in [start, end) that some span covers."""
    wanted = [i for i in range(start, end) if text[i].isalnum()]
    if not wanted:
        return 1.0
    hit = sum(1 for i in wanted if any(s <= i < e for s, e in spans))
    return hit / len(wanted)


def score(samples: list[Sample], spans_of: list[list[tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """Per type: (found, planted), and per near-miss kind ("~order", ...): (kept, planted).
    Found: spans cover >= 90% of the value's letters and digits; kept: no span touches it."""
    tally: dict[str, list[int]] = {}
    for sample_, spans in zip(samples, spans_of):
        for item in sample_.planted:
            count = tally.setdefault(item.type, [0, 0])
            count[1] += 1
            share = covered(item.start, item.end, spans, sample_.text)
            count[0] += share == 0.0 if item.type.startswith("~") else share >= 0.9
    return {kind: (found, total) for kind, (found, total) in sorted(tally.items())}


class NameScores(NamedTuple):
    """Person names of written prompts against their labels (tests/data/zh_prompts_*.jsonl)."""

    whole: int  # labelled names found exactly
    total: int
    stray: int  # PERSON spans touching no labelled name
    changed: int  # name-free messages with a span
    free: int  # name-free messages
    misses: list[tuple[list[str], list[str], str]]  # (names missed, spans found, text) of each imperfect one


def name_scores(rows: list[dict], person_spans) -> NameScores:
    """`rows`: {"text", "names"} (each name as it appears, in order); `person_spans(text)`: the
    (start, end) of each PERSON span found in it."""
    whole = total = stray = changed = 0
    misses = []
    for row in rows:
        text = row["text"]
        spans = person_spans(text)
        names, at = [], 0
        for name in row["names"]:
            start = text.find(name, at)
            names.append((start, start + len(name)))
            at = start + len(name)
        found = sum((a, b) in spans for a, b in names)
        off = [(s, e) for s, e in spans if not any(s < b and a < e for a, b in names)]
        total, whole, stray = total + len(names), whole + found, stray + len(off)
        changed += bool(off) and not names
        if found < len(names) or off:
            misses.append(([text[a:b] for a, b in names if (a, b) not in spans], [text[s:e] for s, e in spans], text))
    return NameScores(whole, total, stray, changed, sum(not row["names"] for row in rows), misses)
