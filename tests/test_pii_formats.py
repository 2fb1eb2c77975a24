"""Each PII format the realistic corpus brought up, with positives and near misses, and the
corpus itself: Faker values (en_US, zh_CN) in the phrasings of tests/pii_corpus.py. Person
names have their own file, tests/test_pii_names.py, and the fast forms of the detectors theirs,
tests/test_pii_fast_forms.py."""

from __future__ import annotations

import pytest

from curate.pii import PiiConfig, PiiScrubber, find_pii
from curate.records import Example
from tests.pii_corpus import corpus, score


def found(text: str) -> list[tuple[str, str]]:
    return [(span.type, text[span.start:span.end]) for span in find_pii(text, PiiConfig())]


@pytest.mark.parametrize("text, kind, value", [
    ("Call me at (445)243-6001x295 tomorrow.", "PHONE", "(445)243-6001x295"),
    ("Office: 480.302.1372, ask for Sam.", "PHONE", "480.302.1372"),
    ("Reach us on +1-780-563-6083 ext. 77 any time.", "PHONE", "+1-780-563-6083 ext. 77"),
    ("手机+86 138 1234 5678，随时联系。", "PHONE", "+86 138 1234 5678"),
    ("座机(010) 6234 5678。", "PHONE", "(010) 6234 5678"),
    ("总机 010-62345678转801，找王经理。", "PHONE", "010-62345678转801"),  # 转: extension (a walk-through's find)
    ("电话：021-58881234 分机 12。", "PHONE", "021-58881234 分机 12"),
    ("座机 0755 8888 6666 转分机 12，工作日。", "PHONE", "0755 8888 6666 转分机 12"),  # walk-through
    ("tel 212-555-0147;ext=99 (RFC 3966)", "PHONE", "212-555-0147;ext=99"),
    ("手机13812345678转100元给他。", "PHONE", "13812345678"),  # a mobile has no extension: "transfer 100 yuan"
    ("手机+86 138 1234 5678转100元给他。", "PHONE", "+86 138 1234 5678"),  # with its country code too
    ("他的电话是 0571 8888 6666 转 3 次都没人接。", "PHONE", "0571 8888 6666"),  # 转 3 次: "3 times"
    # China's code with the + left out (a real-data miss): read as +86, and it must be valid
    ("请打86-139-1234-5678联系我。", "PHONE", "86-139-1234-5678"),
    ("Call 86 139 1234 5678 after six.", "PHONE", "86 139 1234 5678"),
    ("手机：8613912345678", "PHONE", "8613912345678"),
    ("WeChat or call (86)13912345678.", "PHONE", "(86)13912345678"),
    ("Office 86-10-62345678 ext. 12.", "PHONE", "86-10-62345678 ext. 12"),
    # a mobile in Chinese numerals, written so to slip past filters (幺 is 1 read out in numbers)
    ("加我手机一三八一二三四五六七八，谢谢。", "PHONE", "一三八一二三四五六七八"),
    ("电话：幺三九 八七六五 四三二一", "PHONE", "幺三九 八七六五 四三二一"),
    # dotted, as a walk-through wrote it: 86.139.1234.5678 was taken for a version
    ("手机 86.139.1234.5678 联系", "PHONE", "86.139.1234.5678"),
    ("Call 86.139.1234.5678 now", "PHONE", "86.139.1234.5678"),
    # numerals with a blank after each, formal (cheque) numerals, numerals mixed with digits (walk-through)
    ("手机 一 三 八 一 二 三 四 五 六 七 八 谢谢", "PHONE", "一 三 八 一 二 三 四 五 六 七 八"),
    ("手机壹叁捌壹贰叁肆伍陆柒捌", "PHONE", "壹叁捌壹贰叁肆伍陆柒捌"),
    ("打138一二三四五六七八", "PHONE", "138一二三四五六七八"),
    # in groups of 3, 4 and 4 with a comma, an enumeration comma or a middle dot between
    ("我的手机是一三八，一二三四，五六七八", "PHONE", "一三八，一二三四，五六七八"),
    ("手机：一三八、一二三四、五六七八", "PHONE", "一三八、一二三四、五六七八"),
    ("电话幺三九·八七六五·四三二一", "PHONE", "幺三九·八七六五·四三二一"),
    # UK National Insurance numbers: spaced anywhere, unspaced after a cue
    ("My NI number is AB 12 34 56 C.", "SSN", "AB 12 34 56 C"),
    ("National Insurance No: AB123456C", "SSN", "AB123456C"),
    ("NINO: JG103759A, on file", "SSN", "JG103759A"),
    # a walk-through's: in records' keys, in any case and with dashes after a cue, other wordings
    ('{"ni_number": "AB123456C"}', "SSN", "AB123456C"),
    ("nino=AB123456C", "SSN", "AB123456C"),
    ("national_insurance_number: AB123456C", "SSN", "AB123456C"),
    ("| NI number | AB123456C |", "SSN", "AB123456C"),
    ("<nino>AB123456C</nino>", "SSN", "AB123456C"),
    ("your NI number (AB123456C)", "SSN", "AB123456C"),
    ("My national insurance number is ab123456c", "SSN", "ab123456c"),
    ("NI: AB-12-34-56-C", "SSN", "AB-12-34-56-C"),
    ("Nat Ins No: AB123456C", "SSN", "AB123456C"),
    ("National Insurance Number (NINO): AB123456C", "SSN", "AB123456C"),
    # a second walk-through's: mixed spacing, en dashes, a line break after the cue, NINo
    ("NI number: AB 123456 C", "SSN", "AB 123456 C"),
    ("NI number: AB–12–34–56–C", "SSN", "AB–12–34–56–C"),
    ("NI number:\nAB123456C", "SSN", "AB123456C"),
    ("NINo: AB123456C", "SSN", "AB123456C"),
    ("我的手机+86 一三八一二三四五六七八", "PHONE", "一三八一二三四五六七八"),  # a blank after +86
    ("电话 86.13912345678", "PHONE", "86.13912345678"),
    ("Bob@Gmail dot com", "EMAIL", "Bob@Gmail dot com"),  # a mail host, though capitalised
    # 86 written in digits before numerals, and a spelled local part before a real @ (walk-through)
    ("我的手机+86一三八一二三四五六七八", "PHONE", "一三八一二三四五六七八"),
    ("电话：0086一三八一二三四五六七八", "PHONE", "一三八一二三四五六七八"),
    ("alice dot smith@example.com", "EMAIL", "alice dot smith@example.com"),
    ("write to alice at example [dot] com", "EMAIL", "alice at example [dot] com"),
    ("alice@example dot com.cn", "EMAIL", "alice@example dot com.cn"),
    # addresses spelled out against scrapers
    ("Mail alice@example [dot] com today", "EMAIL", "alice@example [dot] com"),  # a real @ (walk-through)
    ("x@mail.example (dot) co (dot) uk", "EMAIL", "x@mail.example (dot) co (dot) uk"),
    ("Email john dot smith at gmail dot com for the slides.", "EMAIL", "john dot smith at gmail dot com"),
    ("mail me: jane.doe [at] example [dot] org.", "EMAIL", "jane.doe [at] example [dot] org"),
    ("Write to ann(at)mail.example.co.uk today.", "EMAIL", "ann(at)mail.example.co.uk"),
    ("Reach Bob AT Example DOT Com please", "EMAIL", "Bob AT Example DOT Com"),
    # a walk-through's: any case, full-width brackets, spaces inside them, a sentence run on after it
    ("Send the draft to Bob At Example Dot Com.", "EMAIL", "Bob At Example Dot Com"),
    ("联系邮箱：wang_xiao（at）sina（dot）com", "EMAIL", "wang_xiao（at）sina（dot）com"),
    ("mail bob [ at ] example [ dot ] com now", "EMAIL", "bob [ at ] example [ dot ] com"),
    ("write to jane [at] example [dot] org.Thanks", "EMAIL", "jane [at] example [dot] org"),
    ("Send an email to the author at ezuckerman at theatlantic dot com.", "EMAIL", "ezuckerman at theatlantic dot com"),
    ("86 139 1234 5678转3号线", "PHONE", "86 139 1234 5678"),  # a mobile has no extension: "to line 3"
    ("SSN 409-91-0019 on file.", "SSN", "409-91-0019"),
    ("My social security number is 409910019.", "SSN", "409910019"),
    ("Her SSN: 409910019, on file.", "SSN", "409910019"),
    ("SSN: 409 91 0019, on file.", "SSN", "409 91 0019"),  # spaced after a cue (found by a walk-through)
    ("my social security number is 409 - 91 - 0019.", "SSN", "409 - 91 - 0019"),
    ("SSN-409-91-0019 on file.", "SSN", "409-91-0019"),  # glued to its cue (walk-through)
    ("SSN  409  91  0019 on file.", "SSN", "409  91  0019"),
    ("Host 2001:0db8:85a3:0000:0000:8a2e:0370:7334 is down.", "IP", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("Ping ::1 or fe80::1ff:fe23:4567:890a now.", "IP", "fe80::1ff:fe23:4567:890a"),
    ("Maestro 501862027866 expired.", "CARD", "501862027866"),
    # spaced or bracketed @, after a word for mail; dotted and full-width Chinese mobiles
    ("Write to alice @ example dot com today", "EMAIL", "alice @ example dot com"),
    ("alice[@]example[dot]com", "EMAIL", "alice[@]example[dot]com"),
    ("mail bob(@)example.com now", "EMAIL", "bob(@)example.com"),
    ("手机139.1234.5678", "PHONE", "139.1234.5678"),
    ("call 0086.139.1234.5678", "PHONE", "0086.139.1234.5678"),
    ("电话86．139．1234．5678", "PHONE", "86．139．1234．5678"),
    ("手机 139－1234－5678，随时打。", "PHONE", "139－1234－5678"),
    ("Write to alice @ example.com today", "EMAIL", "alice @ example.com"),  # a spaced @, real dots (review)
    # "flight" before a number other than a NI number's shape says nothing (review)
    ("Emergency contact during the flight: 212-555-0147", "PHONE", "212-555-0147"),
    ("Before the flight 536-22-8726 was my SSN.", "SSN", "536-22-8726"),
    ("Email me at alice @ example.com", "EMAIL", "alice @ example.com"),
    # a full-width dash or dot folds the text half width (，to ,): clause starts must survive it (review)
    ("北京－上海，李明明天到。", "PERSON", "李明"),
    ("他说，金志强明天到。见第1．2节", "PERSON", "金志强"),
    ("他说，金志强明天到。（１）", "PERSON", "金志强"),
    ("Amex 3782 822463 10005 please.", "CARD", "3782 822463 10005"),
    ("Pay to GB63RHSC45498174104090 today.", "IBAN", "GB63RHSC45498174104090"),
    ("Passport number: N10339621.", "PASSPORT", "N10339621"),
    ("护照号码：E12345678", "PASSPORT", "E12345678"),
    # a series and a number, spaced (walk-through: "passport 72 <PHONE>" left the series)
    ("Please verify: passport 72 1234567 and phone.", "PASSPORT", "72 1234567"),
    ("Internal passport 45 06 123456 issued in 2019.", "PASSPORT", "45 06 123456"),
    ("Patient DOB 03/22/1963, seen today.", "DOB", "03/22/1963"),
    ("She was born on March 3, 1985 in Ohio.", "DOB", "March 3, 1985"),
    ("出生日期1990年5月12日。", "DOB", "1990年5月12日"),
    ("Ship to 166 Pierce Station, Edwardsborough, SD 42105 by Monday.", "ADDRESS",
     "166 Pierce Station, Edwardsborough, SD 42105"),
    ("We moved to 42 Maple Street, Apt 3B last year.", "ADDRESS", "42 Maple Street, Apt 3B"),
    ("请寄到北京市朝阳区建国路88号，谢谢。", "ADDRESS", "北京市朝阳区建国路88号"),
    # the building, unit, floor and room after the number, and a province before the city (walk-through)
    ("寄到北京市朝阳区建国路88号3单元502室。", "ADDRESS", "北京市朝阳区建国路88号3单元502室"),
    ("上海市浦东新区世纪大道100号环球金融中心15楼1502室，谢谢", "ADDRESS", "上海市浦东新区世纪大道100号环球金融中心15楼1502室"),
    ("收件人 刘洋 广东省深圳市南山区科技园路1号", "ADDRESS", "广东省深圳市南山区科技园路1号"),
    ("我的QQ号是 123456789。", "QQ", "123456789"),
    ("加微信 zhang_san-88 聊。", "WECHAT", "zhang_san-88"),
    ("寄到北京市朝阳区建国路27号3号楼，谢谢", "ADDRESS", "北京市朝阳区建国路27号3号楼"),
    # addresses of other countries, and the town and postcode after a street (walk-through: only
    # "350 Bay St" went, "221B Baker Street, London NW1 6XE" and PO boxes not at all)
    ("Ship it to 221B Baker Street, London NW1 6XE, United Kingdom.", "ADDRESS",
     "221B Baker Street, London NW1 6XE, United Kingdom"),
    ("Send to 350 Bay St, Toronto, ON M5H 2S6.", "ADDRESS", "350 Bay St, Toronto, ON M5H 2S6"),
    ("She lives at 88 Queen St W, Toronto, ON M5V 2A1, Canada.", "ADDRESS",
     "88 Queen St W, Toronto, ON M5V 2A1, Canada"),
    ("My address is 12 George St, Sydney NSW 2000.", "ADDRESS", "12 George St, Sydney NSW 2000"),
    ("Flat 2, 15 Church Road, Manchester M1 1AE", "ADDRESS", "Flat 2, 15 Church Road, Manchester M1 1AE"),
    ("Mail to PO Box 4521, Austin, TX 78765.", "ADDRESS", "PO Box 4521, Austin, TX 78765"),
    ("Send it to P.O. Box 123 before May.", "ADDRESS", "P.O. Box 123"),
    ("Ich wohne in der Hauptstraße 5, 10115 Berlin.", "ADDRESS", "Hauptstraße 5, 10115 Berlin"),
    ("Lieferadresse: Berliner Str. 12a, 80331 München", "ADDRESS", "Berliner Str. 12a, 80331 München"),
    ("Je vis au 12 rue de la Paix, 75002 Paris.", "ADDRESS", "12 rue de la Paix, 75002 Paris"),
])
def test_each_format_is_found(text, kind, value):
    assert (kind, value) in found(text), found(text)


@pytest.mark.parametrize("text, phones", [
    ("有事打13812345678 转 139 8765 4321 都能找到我。", ["13812345678", "139 8765 4321"]),  # 转: "or else"
    ("总机 010-62345678 转 138 1234 5678（无人接听时）。", ["010-62345678", "138 1234 5678"]),
    ("2024-01-15转 138 1234 5678 联系我。", ["138 1234 5678"]),
    ("版本 1.2.3.4 转 138 1234 5678", ["138 1234 5678"]),
])
def test_digits_after_zhuan_that_start_a_number_are_that_number_not_an_extension(text, phones):
    # an extension that took the next number's first group left the rest of it unscrubbed (review find)
    assert found(text) == [("PHONE", phone) for phone in phones]


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
    "Ticket 409 91 0019 was closed.",  # an SSN's digits spaced, with no SSN cue
    "Part no. 123-45-6789 is back in stock.",  # SSN-shaped, labelled a part (walk-through)
    "The build was born on Tuesday.",
    "请查收附件，谢谢。",
    "Contact Sales Team for a quote.",
    "Call the Customer Service line.",
    # organisations and places after "from", "by", "to" (seen in the real T0 prompts)
    "He was banned from Alaska Airlines for touching a flight attendant.",
    "As reported by Associated Press on Monday.",
    "A statement from Human Rights Watch said so.",
    "She moved to Jersey City last year.",
    # after "to", "from" or "by", capitalised words that start with no given name (T0)
    "He bought a Powerball ticket from Eagle Liquors last week.",
    "The column was picked up by Huffington Post within the hour.",
    "The shop was officially registered to Lego Store Budapest on May 25.",
    # given names that are also words or places start no name without a cue
    "Meet me at Grant Park at noon.",
    "Will Power is the book of the month.",
    "The Johnnie Walker Blue Label sold out.",
    # word-like given names, places, and three words with no given name in the middle (review)
    "We went carol singing with the Carol Singers at Crystal Palace.",
    "Sue Ryder Care shops sell used books.",
    "Traffic on George Washington Bridge was slow.",
    "We drove from Austin Texas to Long Beach.",
    "She got a place at Georgia Tech.",
    # places, teams and firms after "to", "from" or "by" that other countries' name lists hold
    # as given names, or that share a word with one
    "We flew from Atlanta Georgia to Manila Bay.",
    "The deal was led by Smith Barney and Kennedy Wilson.",
    "Tickets to Phoenix Suns games sold out.",
    "The crowd cheered for Aston Villa, then went to Brooklyn Heights.",
    # organisations named like people, and names of things followed by the kind of thing (T0)
    "Al Qaeda also took responsibility for the attack.",
    "She told Al Jazeera through an interpreter.",
    "Charlie Hebdo printed the cartoon again.",
    "He was pronounced dead at Anne Arundel Medical Center.",
    "He was fired by Warner Bros. last year.",
    "This time it is from Diageo and their Johnnie Walker brand.",
    # what a title starts that is no person, and a place after a form's "to:"
    "A cold Dr. Pepper, please.",
    "She was crowned Miss Universe in 2020.",
    "Ship to: Paris",
    "My passport is 12 years old; passport 12 2024 was a typo.",
    # a place and its country after "to" (France is a given name too)
    "We flew from Austin, Texas to Paris, France last May.",
    # named things after an article, before a speech verb (T0 again)
    "Across town, the Seasons Pizza said it had closed.",
    "Prices rose, the Maeil Business Newspaper said, quoting officials.",
    "If Hurricane Charley hits, we leave.",  # a storm
    # no name starts inside another name or a place (walk-through: "The Martin <PERSON>. Day")
    "The Martin Luther King Jr. Day parade was fun.",
    "San Manuel Stadium is big.",
    "NEW YORK TIMES BEST SELLER",
    "Call 1-800-273-TALK for help.",
    "I went to the Van Gogh Museum in May.",
    # a title after the kind of work it names (walk-through)
    "We watched the movie Forrest Gump again.",
    "Read the novel Harry Potter and the Goblet of Fire.",  # a vanity number: it was cut to "<PHONE>-TALK"
    "高兴地回答了问题",
    # written prompts: a pronoun, a weekday, a word and a verb, and words far commoner than nicknames
    "谢谢你 今天帮了我很多",
    "请查收并提出修改意见，周五前反馈即可。",
    "明天能洗澡吗",
    "小时候我住在老师家",
    # a clause starting with a word whose first character is a surname (walk-through)
    "方法有很多种",
    "温度太低了",
    "安静一点",
    "谢谢大家的支持",
    "何时能发货",
    "孙子兵法讲了什么",
    # an abbreviation, and a version then a time (walk-through: "U.<PERSON>", "(iOS <PHONE>.0ms")
    "The U.S. Geological Survey said the quake was small.",
    "Apple iPad (iOS 4.2.1) 8207.0ms",
    # shaped a little like the streets and boxes above
    "In Spring 2020 we met at Platz 3 of the stadium.",
    "The box 12 contains three items; put them in box 4.",
    "Chapter 5 of the book covers Street Fighter 2.",
    "Ich bin Lehrer und Student.",
    "Then I, Robot came out in 2004.",
    "File name: Report Final",
    "i'm looking for a new job; i am so tired, call me later",
    "hi i'm will and i'm grace under pressure",
    "Order 8612345678901 shipped.",  # 86 and 11 digits, but no valid Chinese number
    "Take the 86-139 bus downtown.",
    "Sign up at example.com to join.",  # a site, not an address: a bare "at" needs a spelled dot
    "Meet at five dot twenty, look at the dot product.",
    # a bare "at" before a spelled dot, in prose (a walk-through's): no mail word, a local part that is a word
    "Look at python dot org for the docs.",
    "I work at google dot com, I'm at school dot edu now.",
    "The meeting is at home dot com bubble era was weird.",
    "yield step(at)\n        self.total += 1",  # code: the bracketed at needs a domain's ending
    "print(at) self.name",
    "version 86.139.1234.5678 ships",  # dotted after a word for a version
    "build 480.302.1372",
    "See @home dot com bubble.",  # a mention, no address
    "Look @ python dot org for the docs.",  # a spaced @ with no word for mail
    "version 139.1234.5678 ships",
    "第1．2．3节",  # full-width dots in a section number
    # a stop word before a spaced @ or at is no mailbox, a word for mail or not (review)
    "Contact us @home dot com",
    "Write to @ python dot org for details",
    "Reach out @ twitter dot com",
    "Please send feedback, or find us @ github dot com",
    "Send x = a @ b dot com",
    "Contact us at home dot com",
    "$arr{@}list.pm",  # braces round an @: code
    # a dotted mobile's shape with no word for a phone: a document's, a coordinate's (review)
    "Release notes 139.1234.5678 are out",
    "ISBN 139.1234.5678",
    "坐标 139.1234.5678",
    "Part AB123456C in stock.",  # NI-shaped, but unspaced and with no cue: a product code
    "GB 12 34 56 A and QQ 12 34 56 C",  # prefixes never allocated
    "AB 12 34 56 E",  # no such suffix
    "ref XAB 12 34 56 C",
    "Flight BA 12 34 56 A leaves at nine",  # a NI number's shape after a label of a booking or a flight
    "Booking ref: AB 12 34 56 C",
    "壹贰叁肆伍陆柒捌玖拾元整",  # a sum in cheque numerals
    # a walk-through's: thousands in European style, cheque sums and counts, notation, Spanish, brands, code
    "Die Bilanzsumme beträgt 861.062.345.678 Euro.",
    "Anggaran Rp 862.155.551.234,00",
    "人民币壹拾叁万捌仟壹佰贰拾叁元肆角伍分",
    "合计壹仟叁佰捌拾壹万贰仟叁佰肆拾伍元陆角柒分",
    "金额大写：伍万陆仟元整",
    "共伍件，放在第陆条",
    "乐谱：一 三 五 一 三 五 六 五 四 三 二 一",
    "一三八一二三四五六七八年",
    "No acepta ni PC123456A ni PC123456B",
    "Nino AB123456C",
    "Pets@Home dot com and Stay@Home dot org",
    "二 一三八一二三四五六七八",  # inside a run of numerals with blanks between
    "第一、三、四、五、六、七、八、九章",  # an enumeration of numerals
    "一三八，一二三四，五六七八九",  # a group too long
    "二、一三八、一二三四、五六七八",  # inside a longer list of groups
    # sums with 万 (a surname too) and counts after 伍 or 陆 (second walk-through)
    "陆万伍仟元，人民币叁万伍仟元",
    "共计叁万陆仟肆佰元",
    "第伍章讲的是伍岁的孩子",
    "伍年前我来过这里",  # a span of time in cheque numerals: five years ago, six days later
    "陆天后出发",
    "陆个月以来一直下雨",
    "陆周前已经寄出。",  # and its unit starts no name (review: 周前)
    # lists of numerals in groups, with no word for a phone (review)
    "他考了一五〇，二〇〇〇，三〇〇〇米的比赛。",
    "房间号分别是一五八、二〇一〇、二〇一二。",
    "编号一三六、一〇二四、二〇四八依次排列。",
    "本期双色球开奖号码：一三五，二四六八，〇九一二。",
    "obj@model dot to(device); a@b dot py",
    "这本书卖了一三〇〇〇〇〇〇〇〇〇册。",  # a count: a measure word follows
    "人口一千三百四十五万六千七百八十九。",  # a count, with 千 and 万 between its digits
    "编号一三八一二三四五六七八九。",  # twelve numerals: no mobile
    "口令是一一一一一一一一一一一。",  # eleven, but no valid number
])
def test_near_misses_are_left_alone(text):
    assert found(text) == []


def test_mobiles_in_chinese_numerals_are_numbered_by_their_digits():
    # every such number had the key "": two wives' numbers were one <PHONE_1> (walk-through)
    record = Example(instruction="我的手机是一三八一二三四五六七八，我妻子的是一三九八七六五四三二一。",
                     input="或者打13812345678，手机一三八、一二三四、五六七八")
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(record)
    assert (scrubbed.instruction, scrubbed.input) == ("我的手机是<PHONE_1>，我妻子的是<PHONE_2>。", "或者打<PHONE_1>，手机<PHONE_1>")


def test_a_value_written_two_ways_is_one_value_when_numbered():
    text = "Mail Bob at Example dot com or bob@example.com; 86 139 1234 5678 or +86 139 1234 5678"
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(Example(instruction=text))
    assert scrubbed.instruction == "Mail <EMAIL_1> or <EMAIL_1>; <PHONE_1> or <PHONE_1>"
    text = "bob@example [dot] com or bob@example.com; 86.139.1234.5678, 壹叁玖壹贰叁肆伍陆柒捌 or 13912345678"
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(Example(instruction=text))
    assert scrubbed.instruction == "<EMAIL_1> or <EMAIL_1>; <PHONE_1>, <PHONE_1> or <PHONE_1>"
    text = "mail bob[@]example[dot]com, bob @ example dot com or bob@example.com"
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(Example(instruction=text))
    assert scrubbed.instruction == "mail <EMAIL_1>, <EMAIL_1> or <EMAIL_1>"
    # a NI number and an SSN written two ways each had a number for each way (walk-through)
    text = "NI AB123456C, AB 12 34 56 C; SSN 409-91-0019 or ssn: 409910019"
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(Example(instruction=text))
    assert scrubbed.instruction == "NI <SSN_1>, <SSN_1>; SSN <SSN_2> or ssn: <SSN_2>"


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
    from curate.errors import RecordError
    from curate.pii import PiiScrubber
    from curate.records import Example

    record = Example(instruction="Summarise the call.", user_id="maria.lopez@example.com",
                     meta={"extra": {"caller": "Hi, I'm Maria Lopez, call me on (445)243-6001x295", "duration": 31}})
    default, _ = PiiScrubber(PiiConfig())(record)
    assert default.user_id == record.user_id and default.meta["extra"] == record.meta["extra"]
    with pytest.raises(RecordError, match="user_id holds EMAIL"):  # as <EMAIL> all such users would be one
        PiiScrubber(PiiConfig(fields="all"))(record)
    everything, found = PiiScrubber(PiiConfig(fields="all", mode="hash", salt="s"))(record)
    assert everything.user_id.startswith("<EMAIL:")
    assert everything.meta["extra"]["caller"].startswith("Hi, I'm <PERSON:") and "<PHONE:" in everything.meta["extra"]["caller"]
    assert {item.field for item in found} == {"user_id", "meta.extra.caller"}


def test_fields_all_scrubs_the_strings_inside_nested_kept_columns():
    # a kept column holding an object or a list was left as it was, its emails and phones with it
    from curate.pii import PiiScrubber
    from curate.records import Example

    extra = {"contact": {"email": "jane.roe@example.org", "phone": "415-555-0132"}, "tags": ["owner: bob@example.com", 3],
             "a.b": "mail c.d@example.com", "a": {"b": "hello"}, "n": 5}
    record = Example(instruction="Summarise the call.", meta={"extra": extra})
    scrubbed, found = PiiScrubber(PiiConfig(fields="all"))(record)
    assert scrubbed.meta["extra"] == {"contact": {"email": "<EMAIL>", "phone": "<PHONE>"}, "tags": ["owner: <EMAIL>", 3],
                                      "a.b": "mail <EMAIL>", "a": {"b": "hello"}, "n": 5}
    # each string has a name of its own: a key with a dot in it is not read as a path
    assert [item.field for item in found] == ["meta.extra.contact.email", "meta.extra.contact.phone",
                                              "meta.extra.tags[0]", 'meta.extra["a.b"]']
    assert record.meta["extra"]["contact"]["email"] == "jane.roe@example.org"  # the input record is not changed


def test_fields_all_scrubs_parquet_binary_and_map_columns(tmp_path, run_cli):
    # Spark and Hive write strings as BINARY, and a map column reads as (key, value) pairs:
    # both went out unscrubbed (second walk-through)
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"instruction": ["Summarise the call."],
                             "caller": pa.array([b"bob.stone@example.com"], pa.binary()),
                             "contacts": pa.array([[("work", "ann.lee@example.org")]], pa.map_(pa.string(), pa.string()))}),
                   source)
    code, _, err = run_cli("curate", "pii", str(source), "-o", str(tmp_path / "out.jsonl"), "--fields", "all")
    assert code == 0, err
    extra = json.loads((tmp_path / "out.jsonl").read_text())["meta"]["extra"]
    assert extra["caller"] == "<EMAIL>" and extra["contacts"] == [["work", "<EMAIL>"]]
    assert "example" not in json.dumps(extra)
