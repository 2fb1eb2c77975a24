"""PII scrubbing throughput: our checksum-gated detectors against Presidio's AnalyzerEngine.

Run as:  python bench/pii.py [--records 20000] [--workers 2] [--seed 0]

Builds synthetic ~470-character records, a known mix of English, Chinese and mixed text,
about half of them carrying planted PII (emails, US/CN/international phones, Chinese ID
numbers, cards, IPs, credentials in URLs, API keys, a PEM key, person names) and some
carrying near misses that must survive (ID numbers and cards with a bad checksum, version
strings, order numbers). Times `PiiScrubber` end to end (records in, scrubbed records out)
in one process and with --workers processes, then checks each planted value is gone, each
near miss intact, and nothing found in records with nothing planted. If presidio_analyzer is
importable, a sample of the same records (it runs at tens per second) goes through its
AnalyzerEngine in the same run, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.pii import PiiConfig, scrub_records  # noqa: E402
from curate.pii_detect import clear_cache, warm_up  # noqa: E402
from curate.records import Example  # noqa: E402

EN = [
    "Please summarise the attached quarterly report and highlight the main risks for the board.",
    "The migration to the new database finished overnight, and all services are back online.",
    "Write a short poem about the sea at dawn, in the style of an old sailor's song.",
    "Our team will review the proposal on Thursday and send feedback by the end of the week.",
    "Explain the difference between a process and a thread, with an example in Python.",
    "The customer asked whether the warranty covers water damage to the device.",
    "Version 2.4.1 of the library fixes the memory leak reported last month.",
    "I tried restarting the router twice, but the connection still drops every few minutes.",
    "Can you draft a polite reply declining the invitation to speak at the conference?",
    "The recipe needs two cups of flour, one egg, and a pinch of salt.",
    "Translate the following paragraph into formal German for a legal document.",
    "Sales grew by twelve percent compared with the same quarter last year.",
    "The task-scheduler runs the backup job at midnight and emails a summary.",
    "We use scikit-learn and sk-style naming for the risk models in this desk.",
    "List five tips for staying focused while working from home.",
    "The flight was delayed by three hours because of a storm over the mountains.",
]
ZH = [
    "请帮我写一份关于人工智能在医疗领域应用的报告，重点介绍影像诊断和药物研发两个方面。",
    "这家公司的高管认为，明年的市场需求会继续增长，因此决定扩大生产规模。",
    "我们可以用动态规划的方法解决这个问题，时间复杂度是平方级别。",
    "周末天气很好，我和朋友一起去公园散步，看到很多人在放风筝。",
    "如何提高学习效率？首先要制定合理的计划，其次要保证充足的睡眠。",
    "黄金价格在过去一周内上涨了百分之三，投资者普遍持乐观态度。",
    "任何人都不应该忽视网络安全，尤其是在使用公共无线网络的时候。",
    "白天气温较高，晚上比较凉快，出门时最好带一件外套。",
    "程序员在编写代码时，应该注意变量命名的规范性和代码的可读性。",
    "马上就要期末考试了，同学们都在图书馆认真复习。",
    "许多研究表明，适量运动可以有效降低患心脏病的风险。",
    "高速公路上发生了一起交通事故，导致道路拥堵了两个小时。",
    "金融市场的波动往往与宏观经济政策密切相关。",
    "常见的排序算法包括冒泡排序、快速排序和归并排序。",
    "叶子在秋天变成了金黄色，整个山林显得格外美丽。",
    "于是他决定辞职创业，开一家属于自己的咖啡店。",
    "方便面虽然方便，但是长期食用对身体健康不利。",
    "根据用户的反馈，我们对产品界面做了改进，使操作更加简便。",
]
FIRST = "Alice James Maria Robert Linda Michael Sarah David Emma Daniel Olivia Thomas Sophia Kevin Laura Peter".split()
LAST = "Smith Johnson Brown Garcia Miller Davis Wilson Taylor Anderson Thomas Moore Martin Clark Lewis".split()
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭林罗郑梁谢宋唐许韩冯邓曹彭曾"
ZH_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志红玉兰晓婷辉鹏飞"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
CN_PLACES = ("110105", "310104", "440106", "330106", "510104", "420102")


def cn_id(rng: random.Random, valid: bool = True) -> str:
    from stdnum.cn import ric

    body = f"{rng.choice(CN_PLACES)}{rng.randint(1960, 2003)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" \
           f"{rng.randint(0, 999):03d}"
    check = ric.calc_check_digit(body + "0")  # it expects a number with a (any) check digit
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


def card(rng: random.Random, valid: bool = True) -> str:
    from stdnum import luhn

    prefix = rng.choice(["4", "51", "52", "62"])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
    check = luhn.calc_check_digit(body)
    digits = body + (check if valid else str((int(check) + 1) % 10))
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else digits


def phone(rng: random.Random) -> str:
    import phonenumbers

    while True:
        kind = rng.random()
        if kind < 0.4:
            text = rng.choice(["13", "15", "18"]) + "".join(rng.choice("0123456789") for _ in range(9))
        elif kind < 0.6:
            text = f"+86 1{rng.choice('358')}{rng.randint(0, 9)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
        elif kind < 0.85:
            text = f"({rng.choice([212, 415, 646, 312, 617, 206])}) {rng.randint(201, 989)}-{rng.randint(1000, 9999)}"
        else:
            text = f"+1 {rng.choice([212, 415, 312])}-{rng.randint(201, 989)}-{rng.randint(1000, 9999)}"
        region = None if text.startswith("+") else ("CN" if text[0] == "1" else "US")
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


class Plant(NamedTuple):
    kind: str
    value: str  # the part that must be gone from the scrubbed record


def planted(rng: random.Random, zh: bool) -> tuple[Plant, str]:
    """One sentence carrying one PII item, in the record's language."""
    kind = rng.choices(["EMAIL", "PHONE", "CN_ID", "CARD", "IP", "URL_CREDENTIALS", "API_KEY", "PRIVATE_KEY",
                        "PERSON"], [20, 22, 8, 8, 8, 4, 6, 1, 23])[0]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    zh_name = rng.choice(ZH_SURNAMES) + "".join(rng.choice(ZH_GIVEN) for _ in range(rng.choice([1, 2])))
    secret = f"{first.lower()}:pw{rng.randint(1000, 9999)}"
    value = {
        "EMAIL": lambda: f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com",
        "PHONE": lambda: phone(rng),
        "CN_ID": lambda: cn_id(rng),
        "CARD": lambda: card(rng),
        "IP": lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "URL_CREDENTIALS": lambda: secret,
        "API_KEY": lambda: "sk-proj-" + "".join(rng.choice("abcdefABCDEF0123456789") for _ in range(32)),
        "PRIVATE_KEY": lambda: PEM,
        "PERSON": lambda: zh_name if zh else f"{first} {last}",
    }[kind]()
    if kind == "PERSON":
        sentence = rng.choice([f"我叫{value}。", f"姓名：{value}，", f"昨天{value}来办公室了。"]) if zh else \
            rng.choice([f"My name is {value}.", f"Dear {value}, thanks for writing."])
    else:
        shown = f"https://{secret}@git.example.com/repo.git" if kind == "URL_CREDENTIALS" else value
        sentence = f"我的信息：{shown}，请核对。" if zh else f"For reference: {shown} (please check)."
    return Plant(kind, value), sentence


def near_miss(rng: random.Random, zh: bool) -> tuple[str, str]:
    miss = rng.choice([cn_id(rng, valid=False), card(rng, valid=False), "1.2.3.4.5", "999.1.1.1",
                       f"#{rng.randint(1000000000, 1999999999)}"])
    return miss, f"订单号和编号：{miss}。" if zh else f"Order number {miss} is not personal data."


class Case(NamedTuple):
    record: Example
    plants: list[Plant]
    misses: list[str]  # near misses that must survive


def build(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        language = rng.choices(["en", "zh", "mixed"], [45, 45, 10])[0]
        parts, plants, misses = [], [], []
        for _ in range(rng.choices([0, 1, 2, 3], [45, 30, 17, 8])[0]):
            plant, sentence = planted(rng, zh=language == "zh" or (language == "mixed" and rng.random() < 0.5))
            plants.append(plant)
            parts.append(sentence)
        if rng.random() < 0.15:
            miss, sentence = near_miss(rng, language == "zh")
            misses.append(miss)
            parts.append(sentence)
        while sum(map(len, parts)) < 440:  # joined and split: ~470 characters in either script
            pool = EN if language == "en" else ZH if language == "zh" else rng.choice([EN, ZH])
            parts.append(rng.choice(pool))
        rng.shuffle(parts)
        split = max(1, len(parts) // 3)
        joiner = " " if language == "en" else ""
        record = Example(instruction=joiner.join(parts[:split]), output=joiner.join(parts[split:]))
        cases.append(Case(record, plants, misses))
    return cases


def time_ours(records: list[Example], workers: int) -> tuple[float, list[tuple[Example, list[Any]]]]:
    clear_cache()  # every run starts with no tagged windows remembered
    start = time.perf_counter()
    results = list(scrub_records(records, PiiConfig(workers=workers)))
    return len(records) / (time.perf_counter() - start), results  # type: ignore[return-value]


def quality(cases: list[Case], results: list[tuple[Example, list[Any]]]) -> list[str]:
    """Planted values still present, near misses changed, and spans found in records with neither."""
    planted, missed, clean_hits = Counter(), Counter(), Counter()
    changed = 0
    for case, (scrubbed, found) in zip(cases, results):
        text = scrubbed.instruction + "\n" + scrubbed.output
        for plant in case.plants:
            planted[plant.kind] += 1
            missed[plant.kind] += plant.value in text
        changed += sum(miss not in text for miss in case.misses)
        if not case.plants and not case.misses:
            clean_hits.update(item.type for item in found)
    clean = sum(1 for case in cases if not case.plants and not case.misses)
    return [
        "recall by type:   " + "  ".join(f"{kind} {planted[kind] - missed[kind]}/{planted[kind]}"
                                         for kind in sorted(planted)),
        f"near misses changed: {changed} of {sum(len(case.misses) for case in cases)}",
        f"spans found in {clean:,} records with nothing planted: "
        + (", ".join(f"{kind} {count}" for kind, count in sorted(clean_hits.items())) or "none"),
    ]


def time_presidio(records: list[Example], limit: int) -> float | None:
    try:
        from presidio_analyzer import AnalyzerEngine
    except ImportError:
        return None
    engine = AnalyzerEngine()
    engine.analyze(text="warm-up", language="en")  # model loading is not per-record work
    sample = records[:limit]  # Presidio runs at tens of records/s: a sample is enough for a rate
    start = time.perf_counter()
    for record in sample:
        for text in (record.instruction, record.output):
            engine.analyze(text=text, language="en")
    return len(sample) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--presidio-sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cases = build(args.records, args.seed)
    records = [case.record for case in cases]
    chars = sum(len(r.instruction) + len(r.output) for r in records) / len(records)
    print(f"{len(records):,} records, {chars:.0f} characters on average, "
          f"{sum(len(case.plants) for case in cases):,} planted items")
    warm_up()  # jieba's dictionary loads once per process (~1 s): not part of the per-record rate
    single, results = time_ours(records, 1)
    print(f"ours: {single:,.0f} records/s (1 worker)")
    multi, parallel = time_ours(records, args.workers)
    print(f"ours: {multi:,.0f} records/s ({args.workers} workers, output identical: {parallel == results})")
    for line in quality(cases, results):
        print(line)
    presidio = time_presidio(records, args.presidio_sample)
    if presidio is None:
        print("presidio: not installed (pip install presidio-analyzer and a spaCy model to compare)")
    else:
        print(f"presidio: {presidio:,.1f} records/s (AnalyzerEngine, 1 process, {args.presidio_sample} records)")
        print(f"ratio: ours / presidio = {single / presidio:,.0f}x (1 worker), {multi / presidio:,.0f}x "
              f"({args.workers} workers)")


if __name__ == "__main__":
    main()
