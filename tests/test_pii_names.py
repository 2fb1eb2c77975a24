"""Person names, English and Chinese: each phrasing the realistic corpus and the walk-throughs
brought up, the word-by-word equivalence of the fast English scan, and the labelled real and
written prompts (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate import pii_names_zh
from curate.pii import find_pii
from tests.pii_corpus import corpus, name_scores
from tests.test_pii_formats import found


@pytest.mark.parametrize("text, kind, value", [
    ("Hi, I'm Norma Fisher and I need help.", "PERSON", "Norma Fisher"),
    ("Customer Nicholas Nolan asked for a refund.", "PERSON", "Nicholas Nolan"),
    ("Patient: Mrs. Peggy Cherry, follow up.", "PERSON", "Mrs. Peggy Cherry"),
    ("Ask Maria Lopez about it.", "PERSON", "Maria Lopez"),
    ("Thomas Good wrote that the build is red.", "PERSON", "Thomas Good"),
    ("A novelty song written by Steve Goodman in 1971.", "PERSON", "Steve Goodman"),  # T0
    ("Send the signed lease to Dana Whitfield, please.", "PERSON", "Dana Whitfield"),
    ("The letters were mailed to Governor Palin in May.", "PERSON", "Governor Palin"),  # T0
    # no cue at all: a common given name and a surname (walk-through, T0)
    ("Sure, Maria Lopez can help you with that.", "PERSON", "Maria Lopez"),
    ("ok, John Smith here, about my refund", "PERSON", "John Smith"),
    ("Basically Ned Kelly (Heath Ledger) is set up by the police.", "PERSON", "Heath Ledger"),
    ("Leonardo DiCaprio's agent called back.", "PERSON", "Leonardo DiCaprio"),  # not its possessive
    ("Contact Maria Lopez's Support Team today.", "PERSON", "Maria Lopez"),
    # a run after an article may end in a person (review find)
    ("In May the Republican Senator John McCain said it was wrong.", "PERSON", "John McCain"),
    # an office before a full name is not part of it (walk-through: "District <PERSON>")
    ("The District Attorney John Smith said no.", "PERSON", "John Smith"),
    ("Foreign Minister Wang Yi said the talks went well.", "PERSON", "Wang Yi"),
    # accented letters are part of the name, not left after it (walk-through: "<PERSON>ë")
    ("The novel was written by Emily Brontë in 1847.", "PERSON", "Emily Brontë"),
    ("I love Salvador Dalí's paintings.", "PERSON", "Salvador Dalí"),
    ("Sure, José Martínez can help.", "PERSON", "José Martínez"),
    ("Contact Łukasz Nguyễn for details.", "PERSON", "Łukasz Nguyễn"),
    ("Please ask Rene\u0301e Dubois.", "PERSON", "Rene\u0301e Dubois"),  # a combining accent
    # names in capitals after a cue, and a letter's header (walk-through)
    ("My name is JOHN SMITH.", "PERSON", "JOHN SMITH"),
    ("By LAUREN MORTON\nStaff writer", "PERSON", "LAUREN MORTON"),
    ("From: Lauren Morton\nSubject: rent", "PERSON", "Lauren Morton"),
    # walk-through: a header's CC, a byline in capitals, accented capitals, a hyphenated given name
    ("CC: Mark Johnson, please", "PERSON", "Mark Johnson"),
    ("BY MITCH DUDEK Staff Reporter", "PERSON", "MITCH DUDEK"),
    ("Signed by JOSÉ ÁLVAREZ.", "PERSON", "JOSÉ ÁLVAREZ"),
    ("Email from Jean-Luc Picard today", "PERSON", "Jean-Luc Picard"),
    ("Justice Peter Smith said no.", "PERSON", "Peter Smith"),
    # lower-case particles inside a name (walk-through: "<PERSON> bin Salman <PERSON>")
    ("Contact Ludwig van Beethoven today", "PERSON", "Ludwig van Beethoven"),
    ("Vincent van Gogh said he was tired.", "PERSON", "Vincent van Gogh"),
    ("Regards,\nMohammed bin Salman Al Saud", "PERSON", "Mohammed bin Salman Al Saud"),
    ("Thanks to the Democrat Nancy Pelosi the bill passed.", "PERSON", "Nancy Pelosi"),
    ("Frank Lloyd Wright designed it.", "PERSON", "Frank Lloyd Wright"),
    # a clause's first word is not part of the name (walk-through: "But Graham said" -> "<PERSON> said")
    ("But Graham said no.", "PERSON", "Graham"),
    ("Although Hutchins wrote the report, nobody read it.", "PERSON", "Hutchins"),
    ("But Maria Lopez said no.", "PERSON", "Maria Lopez"),
    ("联系田淑英，邮箱已更新。", "PERSON", "田淑英"),
    ("客户傅彬的订单已发货。", "PERSON", "傅彬"),
    # a name ends before a word that starts with its last character (walk-through: "<PERSON>天来上班")
    ("李娜明天来上班", "PERSON", "李娜"),
    ("王芳今天不在", "PERSON", "王芳"),
    ("我和刘洋一起去", "PERSON", "刘洋"),
    ("马云创立了阿里巴巴", "PERSON", "马云"),
    # 伍 and 陆 are numerals too, but these are names (second walk-through: all were lost)
    ("陆九渊是哲学家", "PERSON", "陆九渊"),
    ("我和伍六一去了", "PERSON", "伍六一"),
    ("陆元是我的同学", "PERSON", "陆元"),
    ("陆万年在家", "PERSON", "陆万年"),
    ("陆天明写了小说", "PERSON", "陆天明"),  # (陆天 and a time word after it is a span of time: below)
    # a three-character name before 了, 过 or 着 stays whole (a review: a cut there left 明 of 王小明)
    ("王小明了解这个项目的全部细节。", "PERSON", "王小明"),
    ("张建国过来找我谈合同的事情。", "PERSON", "张建国"),
    ("我已经通知王志强了，他明天到。", "PERSON", "王志强"),
    # 陆天 before a word that starts with 后 or 前 is a name, not "six days later" (review)
    ("陆天后来去了上海工作。", "PERSON", "陆天"),
    ("客户陆天前来咨询。", "PERSON", "陆天"),
    ("请把文件转给李娜", "PERSON", "李娜"),
    # nicknames: 小 or 老 and a surname (written prompts)
    ("谢谢你小张，昨天那个问题已经解决啦", "PERSON", "小张"),
    ("我跟老李约了周六去水库钓鱼", "PERSON", "老李"),
    # a compound surname and the given name after it (walk-through: "<PERSON>明亮", "<PERSON>雨桐")
    ("姓名：诸葛明亮", "PERSON", "诸葛明亮"),
    ("我叫上官雨桐", "PERSON", "上官雨桐"),
    # after a cue, a compound surname and two characters, though jieba knows 司马光 (walk-through: "<PERSON>光明")
    ("收件人：司马光明", "PERSON", "司马光明"),
    ("我叫司马光明。", "PERSON", "司马光明"),
    ("我叫司马光。", "PERSON", "司马光"),
    # family and work roles before a name (walk-through)
    ("我老公陈建国昨天打过电话了", "PERSON", "陈建国"),
    ("技术负责人马云飞下午到", "PERSON", "马云飞"),
    # after an abbreviation (walk-through: "(P.<PERSON>")
    ("(P.S. Stephen Colletti is here)", "PERSON", "Stephen Colletti"),
    # given names of other countries after "to", "from" and "by" (walk-through; T0)
    ("The ticket was assigned to Priya Raghunathan yesterday.", "PERSON", "Priya Raghunathan"),
    ("A reply from Kwame Mensah came at noon.", "PERSON", "Kwame Mensah"),
    ("Forward it to Björn Lindqvist, please.", "PERSON", "Björn Lindqvist"),
    ("The film was directed by Wim Wenders in 1987.", "PERSON", "Wim Wenders"),
    ("It was founded in 2001 by Patryk Strzelewicz, a student.", "PERSON", "Patryk Strzelewicz"),
    # a title is a cue, whatever the name (walk-through: these were all left in)
    ("Please escalate: Mr. Wojciech Kowalski is furious.", "PERSON", "Mr. Wojciech Kowalski"),
    ("Our lead, Dr. Aarav Mehta, will present.", "PERSON", "Dr. Aarav Mehta"),
    ("Ms. Yuki Tanaka states that the parcel never came.", "PERSON", "Ms. Yuki Tanaka"),
    # a CRM's or a form's fields, and roles before a name (walk-through)
    ("Account holder: Lukas Müller", "PERSON", "Lukas Müller"),
    ("Assigned to: Raj Patel", "PERSON", "Raj Patel"),
    ("Requester: Chen Jing", "PERSON", "Chen Jing"),
    ("Signed: Ewa Nowak-Zielińska", "PERSON", "Ewa Nowak-Zielińska"),
    ("Ship to: Nguyen Van An, Hanoi", "PERSON", "Nguyen Van An"),
    ("Please ask my colleague Giulia Rossi.", "PERSON", "Giulia Rossi"),
    ("The driver, Mohamed Salah, was late.", "PERSON", "Mohamed Salah"),
    # surname first, after a label (walk-through; T0: "From: Schneider, Kimberly A.")
    ('From: "Brennan, Siobhan" <s.brennan@example.org>', "PERSON", "Brennan, Siobhan"),
    ("Patient: Garcia, Maria (DOB 1990-01-01)", "PERSON", "Garcia, Maria"),
    ("Customer: O'Brien, Patrick", "PERSON", "O'Brien, Patrick"),
    # four names after the speaker's own cue
    ("Name: Nguyen Thi Minh Khai, DOB: 1990-01-01", "PERSON", "Nguyen Thi Minh Khai"),
    # a person's things after a possessive are still a person's ("Ed Wood's movies")
    ("It is fun the way Ed Wood's movies are fun.", "PERSON", "Ed Wood"),
    # a form's labels, a statement's opening, lower case and other languages (walk-through: all left in)
    ("Customer name - O'Brien, Patrick. Please call back.", "PERSON", "O'Brien, Patrick"),
    ("Customer name: Smith, John", "PERSON", "Smith, John"),
    ("I, Anil Kumar Sharma, agree to the terms.", "PERSON", "Anil Kumar Sharma"),
    ("my name is sarah connor and I need help", "PERSON", "sarah connor"),
    ("hi, i'm john smith from accounts", "PERSON", "john smith"),
    ("i'm john looking for advice", "PERSON", "john"),
    ("NAME: JOHN SMITH\nDOB: 01/02/1980", "PERSON", "JOHN SMITH"),
    ("Ich bin Lukas Schneider und wohne in Berlin.", "PERSON", "Lukas Schneider"),
    ("LONDON (Reuters) -- Harry Potter star Daniel Radcliffe gains access.", "PERSON", "Daniel Radcliffe"),
])
def test_each_phrasing_of_a_name_is_found(text, kind, value):
    assert (kind, value) in found(text), found(text)


def test_english_names_find_what_the_plain_word_by_word_check_finds():
    """english_names skips most capitalised runs early (no cue before them, no speech verb after)
    and takes a run's start without a scan; the plain loop tries every word start: the run's
    own, glued or not, and every one after a space inside it."""
    import random

    from curate import pii_names

    def plain(text: str) -> list[tuple[int, int]]:  # no gate either: every capitalised run is tried
        spans = pii_names._surname_first_names(text)
        for run in pii_names._CAPITALISED_RUN.finditer(text):
            if pii_names._THING_AFTER.match(text, run.end()) and not run.group().endswith("'s") \
                    and not pii_names._SPEECH_VERB.match(text, run.end()):
                continue
            thing = pii_names.after_article(text, run.start())
            inside = [word.start() for word in pii_names._WORD_START.finditer(text, run.start(), run.end())]
            for start in sorted({run.start(), *inside}):
                if thing and not pii_names._starts_a_person(text, start):
                    continue
                name = pii_names._name_from(text, start, run.end(), speech=True)
                if name:
                    spans.append(name)
                    break
        return spans

    rng = random.Random(4)
    words = ["Hi", "hi", "Dear", "I'm", "name is", "Name:", "name", "Customer", "ask", "to", "from", "of", "the", "The",
             "Ann", "Lee", "Maria Lopez", "Mr.", "Dr", "J.", "Jr.", "Sales Team", "Support", "Monday", "wrote",
             "said", "reported", "and", "Google", "New York", "O'Brien", "McDonald", "Smith-Jones", "brand", "From:"]
    glue = [" ", " ", " ", "  ", ", ", ",", ":", "：", "： ", "：\n", "(", '"', "\n", "\t", ". ", "-", "'"]
    texts = ["".join(rng.choice(words) + rng.choice(glue) for _ in range(rng.randrange(1, 10))) for _ in range(40_000)]
    texts += [sample.text for sample in corpus(600, seed=6)]
    for text in texts:
        assert pii_names.english_names(text) == plain(text), text


def test_names_on_labelled_real_prompts():
    """tests/data/t0_person_labels.jsonl: 363 spans of T0 prompts (news, film plots, reviews)
    that some version of the detector called names, each labelled person, not or partial by a
    reader who saw only the text (labelled blind, from samples of this session's versions).
    Each line is its span's window of the prompt, about 100 characters. Before the given-name
    rules, 0.44 of the 279 people were found and 0.69 of the 74 non-people were scrubbed."""
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "t0_person_labels.jsonl").open()]
    hits = {"person": [], "not": []}
    for row in rows:
        spans = [span for span in find_pii(row["text"]) if span.type == "PERSON"]
        if row["label"] in hits:
            hits[row["label"]].append(any(s.start < row["end"] and row["start"] < s.end for s in spans))
    assert sum(hits["person"]) / len(hits["person"]) >= 0.8
    assert sum(hits["not"]) / len(hits["not"]) <= 0.2


def test_no_name_starts_inside_a_compound_surname():
    # 司马光 was cut to 司<PERSON>, 诸葛亮 to 诸<PERSON> (walk-through)
    for text in ("司马光砸缸的故事", "诸葛亮为什么要挥泪斩马谡", "欧阳修是宋代文学家"):
        assert all(text[start - 1:start + 1] not in pii_names_zh._COMPOUND for start, _ in pii_names_zh.zh_names(text)), text


@pytest.mark.parametrize("text, name", [
    ("帮我回复阿强：晚上火锅我去", "阿强"), ("阿珍今天在办公室摔了一跤", "阿珍"), ("我和阿明约了明天打球", "阿明"),
    ("婷婷最近老是不想上幼儿园", "婷婷"), ("伟伟今天已经打过疫苗了", "伟伟"), ("闺蜜佳佳失恋了，我该怎么安慰她", "佳佳"),
])
def test_ah_nicknames_and_doubled_given_names(text, name):
    # what family and friends call each other; all missed on the written prompts
    assert [text[s.start:s.end] for s in find_pii(text) if s.type == "PERSON"] == [name]


@pytest.mark.parametrize("text", [
    "阿姨你好，请问这里怎么走", "阿里巴巴的股票最近为什么跌", "阿拉伯语难学吗", "阿联酋在哪个洲", "阿司匹林饭后吃吗",
    "阿门是什么意思", "阿胶怎么吃", "阿富汗首都是哪里", "这件事我明明白白告诉你了", "我刚刚到家", "天上亮晶晶的星星",
    "我考考你这道题", "你看看这个方案", "他常常加班到深夜", "天天加班怎么办", "祝你平平安安", "她亭亭玉立地站着",
    "这只狗狗很可爱", "宝宝发烧了怎么办", "我们去聚聚吧", "帮我改改这段话", "清清楚楚写下来", "冰冰凉凉的西瓜",
])
def test_ah_words_and_doubled_words_are_no_names(text):
    # kin (阿姨), countries and drugs (阿联酋, 阿司匹林), adverbs and verbs said twice (刚刚, 看看),
    # and doubled characters inside longer words (明明白白, 亮晶晶)
    assert not [s for s in find_pii(text) if s.type == "PERSON"], text


def test_chinese_names_on_written_prompts():
    """tests/data/zh_prompts_labelled.jsonl: 240 Chinese chat and support messages, written (by a
    helper who never saw the detector) to read like real ones, 100 with names (nicknames such as
    小王, famous people, compound surnames, names run into the next word: 晓东明天来) and 140
    without, with every name labelled. Far harder than the Faker corpus (0.96): at 47ba516, 0.51
    of the names were found whole, 25 spans fell on no name, and 15 of the 140 name-free
    messages were changed; now 0.63, 12 and 7 (nicknames, weekdays, compound surnames, a clause's
    first word checked against frequent words); 8 and 5 once no name starts inside a
    dictionary word (石家庄, 太古汇); 87 of 126 (0.69) with 阿 nicknames and doubled given names
    (阿珍, 婷婷), which on the held-out set of bench/pii_names_zh.py took 74 to 78 of 129 and
    added no stray span.
    Most names still missed are given names or nicknames alone (晓东, 阿珍) and famous people,
    whose names jieba's dictionary counts as frequent words (李白, 鲁迅)."""
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "zh_prompts_labelled.jsonl").open()]
    whole, total, stray, changed, _, _ = name_scores(
        rows, lambda text: [(span.start, span.end) for span in find_pii(text) if span.type == "PERSON"])
    assert whole / total >= 0.68, (whole, total)
    assert stray <= 8 and changed <= 5, (stray, changed)


def test_no_name_starts_inside_a_place_or_firm():
    # 石家庄玩 became 石家<PERSON>, 太古汇 太<PERSON>: 庄 and 古 are surnames (walk-through)
    for text in ("我们去石家庄玩，爬了白云山", "我住在广州市天河区太古汇2座1501室"):
        assert not [s for s in find_pii(text) if s.type == "PERSON"], text
    text = "明天和王芳去石家庄玩"
    assert [text[s.start:s.end] for s in find_pii(text) if s.type == "PERSON"] == ["王芳"]
