"""Person names in English and Chinese text: found by their context, never by a model.

English: runs of capitalised words, then a cue in the few characters before one of their words
("Hi, I'm", "Customer", "Patient:", "Ask", "copy", "in the name of") or a speech verb after
them ("... wrote"). After the weakest cues ("to", "from", "by") the name must start with a
given name of the US census list (curate/data/given_names.txt) or an office ("Governor"); with
no cue at all, a common given name and a surname ("Sure, Maria Lopez can help") make a name;
no run after an article is one. Offices before a full name and a clause's first word are left
out of it ("District Attorney <PERSON>", "But <PERSON> said"); names in capitals count only
after a cue. Chinese: after a cue (我叫, 姓名：), after a role word (联系, 客户) or at
the start of a clause, and at a surname that jieba's segmenter and dictionary call the start of
a name. Optional: a spaCy NER model. Each finder returns (start, end) pairs; pii_detect.py makes
them spans and resolves overlaps with the other types.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from typing import Any

from curate.errors import UsageError

# Latin letters with accents too (Brontë, José, Łukasz, Nguyễn; and combining accents): a name
# cut at one left the rest of the word in the text ("<PERSON>ë")
_UPPER = "A-ZÀ-ÖØ-Þ\u0100-\u024f\u1e00-\u1eff"
_LOWER = "a-zß-öø-ÿ\u0100-\u024f\u1e00-\u1eff\u0300-\u036f"
# a capital inside counts too (DuVall, DiCaprio, LaToya): a name cut there left the rest in the text
_CAPITALISED = rf"(?:Mc|Mac|O'|D')?[{_UPPER}][{_LOWER}]+(?:[{_UPPER}][{_LOWER}]+)?(?:[-'][{_UPPER}]?[{_LOWER}]+)?"
_TITLE_WORD = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?"
_SUFFIX = r"(?:,?[ \t]+(?:Jr|Sr|II|III|IV|MD|DDS|DVM|PhD|Esq)\.?(?![A-Za-z]))?"
# A run of capitalised words (titles and initials among them), found first; a cue in the few
# characters before one of its words, a speech verb after it, or a common given name starting
# two or three of its words then makes the rest a name.
# One cheap scan and a few anchored look-ups per run: an alternation of every cue tried at
# every position of a 1 KB prompt cost ~300 us. The look-ahead for a capital, first, lets sre give
# up at once on the other characters, instead of trying each alternative there: 31 us, not 78, on
# T0 (and 27 us, not 48, with the look-behind after it). No run starts inside an abbreviation:
# "U.S. Geological Survey" and "P.S. Stephen" were cut to "U.<PERSON>" and "P.<PERSON>".
# the lower-case particles inside a name: Ludwig van Beethoven, Leonardo da Vinci, Mohammed bin Salman
_PARTICLES = frozenset("van von der den de da di du del della dos das bin bint ibn al el le la".split())
_PARTICLE = "(?:" + "|".join(sorted(_PARTICLES, key=len, reverse=True)) + ")"
_CAPITALISED_RUN = re.compile(rf"(?=[{_UPPER}])(?<![A-Za-z{_LOWER}{_UPPER}'-])(?<![A-Za-z]\.)"
                              rf"(?:(?:{_TITLE_WORD}|{_CAPITALISED}|[A-Z]\.)[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}})*"
                              rf"{_CAPITALISED}(?![^\W\d_]){_SUFFIX}")
_WORD_START = re.compile(r"(?<!\S)\S")
_AFTER_ARTICLE = re.compile(r"\b(?:[Tt]he|[Aa]n?)[ \t]+$")
# the speaker's own name, a greeting or a sign-off: one word is enough ("Hi, Ann")
_OWN_CUE = re.compile(
    r"(?:\b[Mm]y name(?: is|'s)|(?<![A-Za-z][ _-])\b(?:(?:[Ff]ull|[Ff]irst|[Ll]ast) )?[Nn]ame[ \t]*[:：]"
    r"|\b(?:Dear|Hi|Hello|Hey|Thanks|Thank you|Cheers|Congratulations|Welcome),?"
    r"|\b[Cc]all me|\bI(?:'m| am) called|\b(?:I'm|I am|[Tt]his is|[Ii]t's)"
    r"|\b(?:[Bb]est |[Kk]ind |[Ww]arm )?[Rr]egards,|\b[Ss]incerely,)[ \t]*\n?[ \t]*$")
_SELF_CUE = re.compile(r"\b(?:I'm|I am|[Tt]his is|[Ii]t's)[ \t]*$")
# a role or a verb that takes a person: two or three words ("Ask Maria Lopez", not "Ask Google")
_ROLE_CUE = re.compile(
    r"(?:\b(?:[Cc]ustomer|[Cc]lient|[Pp]atient|[Cc]ontact|[Ee]mployee|[Cc]andidate|[Aa]pplicant|[Tt]enant|[Gg]uest"
    r"|[Pp]assenger|[Rr]ecipient|[Ss]ender|[Oo]wner|[Aa]uthor|[Ss]ubscriber|[Mm]ember|[Ss]tudent|[Aa]gent"
    r"|[Cc]c|CC|[Tt]o|[Ff]rom|[Bb]y|BY)"  # and a letter's header ("From: Ann Lee", "CC: Ann Lee") or a byline
    r"(?:[ \t]*[:：][ \t]*|[ \t]+)"  # a colon may be glued to the name: "Customer:Maria Lopez"
    r"|(?:\b(?:[Aa]sk|[Tt]ell|[Ee]mail|[Cc]all|[Cc]ontact|[Pp]ing|[Mm]essage|[Tt]ext|[Cc]opy|[Ii]nvite|[Mm]eet"
    r"|[Tt]hank|[Rr]emind|[Pp]ay|[Vv]isit)"
    r"|\bin the name of|\b(?:signed|written|reported|approved|sent|requested) by)[ \t]+)$")
# a full name as the subject of a speech or report verb: "Maria Lopez wrote", "that Ann Lee reported"
_SPEECH_VERB = re.compile(r"[ \t]+(?:wrote|said|says|asked|asks|reported|called|mentioned|replied|commented|emailed|"
                          r"texted|told|explained|added|noted|confirmed|complained)\b")
# the first words of places that look like a first and last name after "to" or "from" ("San
# Jose"): no name starts at them, nor at the word after them ("San Manuel Stadium")
_PLACE_STARTS = frozenset("San Santa Los Las Hong Saint St Port Fort Mount Lake Cape United Great Little Upper Lower "
                          "Central Southern Northern Eastern Western Royal National North South East West "
                          "New".split())
# words that start a sentence or clause, capitalised before a name: "But Graham said" is But,
# then the name Graham
_CLAUSE_STARTS = frozenset("But And Or Nor Although Though As If When While Because Since After Before Until Unless "
                           "So Then Also Yet Now Today Yesterday Tomorrow However Meanwhile Once Even Only Just "
                           "Both Either Neither Every Each Some Many Most Not For With Without In On At Of From By "
                           "To Into About Like Unlike Did Does Do Is Are Was Were Has Have Had Can Could Would "
                           "Should Might Must".split())
# "Dear Sir", "Name: Customer": the cue fits, but what follows is a role, not a person.
# ("File name: Report" is kept out by the look-behind: a word before "name:" makes it a label.)
_NOT_NAMES = frozenset("Sir Madam Customer Customers Team All Friend Friends Colleague Colleagues Hiring Manager "
                       "User Users Valued Support Everyone Reader Readers Student Students Parent Parents Member "
                       "Members Applicant Client Owner Admin Unknown Anonymous Service Services Care Success Sales "
                       "Relations Experience Account Accounts Portal Center Centre Desk Department There Here Thanks "
                       "Please The This That These Those We You They It Our My Your His Her Their What When Where Why World "
                       "How Which Who Yes No Okay Ok Good Great Monday Tuesday Wednesday Thursday Friday Saturday "
                       "Sunday January February March July September October November December "
                       "God Lord Google Apple Microsoft Amazon Python Java English Chinese French German Spanish "
                       "YouTube GitHub LinkedIn PayPal PowerPoint JavaScript TypeScript WordPress WhatsApp TikTok "
                       "FedEx PlayStation "
                       "Street Avenue Road Drive Lane Old Happy Merry Christmas "
                       "Hurricane Storm Typhoon Cyclone Tropical".split()) | _PLACE_STARTS | _CLAUSE_STARTS


# About 250 surnames covering nearly all of China's population, and the common compounds.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁傅萧"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫"
             "孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童"
             "凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连"
             "芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩"
             "明佘池查麻苑迟邝")
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "皇甫", "令狐", "慕容", "司徒", "夏侯", "尉迟", "宇文", "公孙", "轩辕",
             "端木", "南宫", "独孤")
_SURNAME_SET = frozenset(_SURNAMES)
_STOP_AFTER_SURNAME = "的了是在和与及或等也都就还又着过吗呢吧啊把被给对从向到说很为以之其这那个们上下中里地得你我他她它"  # 高兴地, 谢谢你
# One character class, then set look-ups in Python: sre tries an alternation's branches at
# every position, and a 250-branch pattern took ~700 us per record.
_SURNAME = re.compile(f"[{''.join(sorted(_SURNAME_SET | {c[0] for c in _COMPOUND}))}]"
                      f"(?=[\u4e00-\u9fff])(?![{_STOP_AFTER_SURNAME}])")
_ALL_HAN = re.compile(r"[\u4e00-\u9fff]+")
_NICKNAME = re.compile(f"[小老](?=[{''.join(sorted(_SURNAME_SET))}])")
_WEEK = re.compile("[上下本这每]周|.?周[一二三四五六日末]")
# A strong cue is followed by a name whatever the tagger says; after 我是 it must be tagged nr
_ZH_CUE = re.compile(r"(?:我叫|我的名字[是叫]|名字[是叫]|名叫|本人|(?:姓名|联系人|收件人|收货人|申请人|患者)\s*[:：])\s*"
                     r"|(我是)")
# Where a name often starts with no cue of its own: the start of a clause, or after a word that
# takes a person (联系, 请, 客户, 患者...). There a surname and the one- or two-character word
# after it make a name unless the pair is itself a frequent word (江水, 高度).
_ZH_NAME_PLACE = re.compile(r"(?:^|(?<=[。！？，、；：\s\n]))|(请|由|被|跟|给|让|和|是)|(联系|客户|患者|病人|收件人|寄件人|寄给|发给|"
                            r"交给|转给|找|问|告诉|通知|转告|感谢|谢谢|恭喜|同事|老板|经理|医生|老师)")
# after one of the role words (the last group) a one-character given name counts too, if the
# name then ends: 客户傅彬的, 患者宋想，
_NAME_ENDS = "，。！？、；：,.!?;: 的在说是也和"
_FUNCTION_TAGS = frozenset("vpcudrmqxyeoft")  # verbs, particles, pronouns, numbers, punctuation...
_NOT_AFTER_CUE = frozenset("rpcudxyeo")  # 我叫什么: a pronoun after the cue is a question, not a name
_TITLES = frozenset("先生 女士 小姐 老师 经理 教授 医生 同学 主任 律师 师傅".split())
_COMMON = 100  # jieba tags 叶子, 顾客 and 谢谢 nr too; a private person's name is rarely that frequent
_FAR_COMMON = 5 * _COMMON  # commoner than names ever are: 李娜 438, 小张 302; 安静 1,199, 小时 8,143


def english_names(text: str) -> list[tuple[int, int]]:
    spans = _capital_letter_names(text) if _CAPS_PAIR.search(text) else []
    if not (_ASCII_CAPITAL_PAIR if text.isascii() else _CAPITAL_PAIR).search(text):  # no word can start a name
        return spans
    for run in _CAPITALISED_RUN.finditer(text):
        # after "the" or "a" a run names a thing ("the Seasons Pizza said"), but may end in a
        # person ("the Republican Senator John McCain said"): only a given name or an office
        # starts a name inside it
        thing = after_article(text, run.start())
        # its words: the first starts the run even when glued to what precedes it ("Name:Bob
        # Lee", "Hi,Ann"), the others after a space or tab
        starts = [run.start()]
        if " " in run.group() or "\t" in run.group():
            starts += [word.start() for word in _WORD_START.finditer(text, run.start() + 1, run.end())]
        # a speech verb can only follow the whole run: where _name_from drops a last word
        # ("Sales Team"), that word, not a verb, comes next
        speech = _SPEECH_VERB.match(text, run.end()) is not None
        for start in starts:  # the name may start at any word
            if thing and not _starts_a_person(text, start):
                continue
            name = _name_from(text, start, run.end(), speech, start != starts[-1])
            if name:
                spans.append(name)
                break
    return spans


def _capital_letter_names(text: str) -> list[tuple[int, int]]:
    """Names in capital letters after a cue ("My name is JOHN SMITH", "By LAUREN MORTON"): two
    or three words, the first a given name. Headings in capitals ("NEW YORK TIMES") have no cue."""
    spans = []
    for run in _CAPS_RUN.finditer(text):
        words = run.group().title().split()
        before, last_word = _before(text, run.start())
        cue = (last_word in _OWN_CUE_ENDS and _OWN_CUE.search(before)) or \
            (last_word in _ROLE_CUE_ENDS and _ROLE_CUE.search(before))
        if cue and _known(words[0], _weak_cue_given_names()) and not any(w in _NEVER_IN_NAMES for w in words):
            spans.append((run.start(), run.end()))
    return spans


_CAPS_RUN = re.compile(rf"(?<![^\W\d_])(?!(?:BY|FROM|TO|CC|DEAR|HI)\b)"  # the cue, in capitals too
                       rf"[{_UPPER}][{_UPPER}'-]+(?:[ \t]+[{_UPPER}][{_UPPER}'-]+){{1,2}}(?![^\W\d_])")
# a cheap gate for _CAPS_RUN (4 us, not 9, on T0): a space first lets sre skip from space to space
_CAPS_PAIR = re.compile(rf" [{_UPPER}][{_UPPER}'-]+[ \t]+[{_UPPER}][{_UPPER}]")


def after_article(text: str, start: int) -> bool:
    """Does an article come right before text[start:]? It makes the capitalised words there a
    named thing ("the Seasons Pizza said", "to the Anne Arundel Medical Center"); a person's name
    takes none."""
    # most capitalised words follow no word ending in e, a, A or n before the space: no regex for them
    return start >= 2 and text[start - 2] in "eaAn \t" and _AFTER_ARTICLE.search(text, max(0, start - 5), start) is not None


def _starts_a_person(text: str, start: int) -> bool:
    """Does a common given name or an office start at text[start]?"""
    word = _WORD_AT.match(text, start)
    return word is not None and (_known(word.group(), cueless_given_names()) or word.group() in _OFFICES)


_WORD_AT = re.compile(r"[^\s.,]+")


def _name_from(text: str, start: int, end: int, speech: bool, several: bool = True) -> tuple[int, int] | None:
    """(start, end) if the capitalised words text[start:end] are a name: by a cue before them, a
    speech verb after them (`speech`: False when none follows text[:end]), or, with neither, by
    a common given name starting them (`several`: False when text[start:end] is one word, which
    makes no name without a cue)."""
    before, last_word = _before(text, start)
    if not speech and last_word not in _OWN_CUE_ENDS and last_word not in _ROLE_CUE_ENDS \
            and not (several and _may_start_a_cueless_name(text, start, end)):
        return None  # most capitalised words start a sentence or a title: decided before the word checks
    if text[start].islower():
        return None  # a particle inside the run ("van" of Vincent van Gogh) starts no name
    if last_word in _WORK_NOUNS:
        return None  # "the movie Forrest Gump", "the novel Harry Potter": a title, not a person
    words = text[start:end].split()
    if after_article(text, start):  # "The Johnnie Walker": a thing
        return None
    if _inside_a_name(text, start):
        return None
    if words[-1] in _ORGANISATION_ENDS:
        return None
    while len(words) > 1 and words[-1] in _NOT_NAME_ENDS:  # "Contact Sales Team": no person
        end = len(text[:text.rindex(words.pop(), start, end)].rstrip())
    if words[-1].endswith("'s"):  # "Leonardo DiCaprio's agent": the name, not its possessive
        words[-1], end = words[-1][:-2], end - 2
    names = [w for w in words if _is_name_word(w) and w.rstrip(".,") not in _SUFFIXES and w not in _PARTICLES]
    most = 4 if any(w in _PARTICLES for w in words) else 3  # four with a particle: Mohammed bin Salman Al Saud
    if not names or len(names) > most or words[-1] in _NOT_NAME_ENDS or names[0] in _NOT_NAMES \
            or any(n.rstrip(".,") in _NEVER_IN_NAMES for n in names):
        return None
    # the regexes only where the word before could end a cue: most capitalised words start a sentence
    if last_word in _OWN_CUE_ENDS and _OWN_CUE.search(before) and (len(names) >= 2 or not _SELF_CUE.search(before)):
        return _after_offices(text, start, end)  # "I'm Canadian", "it's Monday": after those, one word is not a name
    if len(names) >= 2 and _SPEECH_VERB.match(text, end):
        return _after_offices(text, start, end)
    if len(names) == 1 and len(words) == 1 and _SPEECH_VERB.match(text, end) \
            and _previous_word(text, start) in _CLAUSE_STARTS:
        return start, end  # "But Cox said": the surname alone, as the subject of a clause
    if len(names) >= 2 and last_word in _ROLE_CUE_ENDS and _ROLE_CUE.search(before):
        # after "to", "from" or "by" come places and organisations as often as people (in T0's
        # news prompts, "from Eagle Liquors", "by Huffington Post"): there the name must start
        # with a known given name, or an office that only a person holds ("to Governor Palin")
        if last_word not in _WEAK_CUE_ENDS or _known(names[0], _weak_cue_given_names()) \
                or names[0].rstrip(".") in _OFFICES:
            return _after_offices(text, start, end)
    # no cue: a common given name and a surname ("Sure, Maria Lopez can help", "Heath Ledger
    # plays"); three words only with a given name in the middle (Sarah Jessica Parker, not
    # "Sue Ryder Care" or "George Washington Bridge")
    if 2 <= len(names) and _known(names[0], cueless_given_names()) \
            and (len(names) == 2 or _known(names[1], given_names())):
        return start, end
    return None


def _before(text: str, start: int) -> tuple[str, str]:
    """The 32 characters before text[start], where a cue would be, and the last word among
    them, lower-cased ("name" of "Name: ", "hi" of "Hi, ")."""
    before = text[max(0, start - 32):start]
    last = before.rstrip(" \t\n,:：").rsplit(None, 1)[-1:] or [""]
    return before, last[0].lower()


def _previous_word(text: str, start: int) -> str:
    """The word a space or tab before text[start] (Martin of "Martin Luther"), or ""."""
    if not start or text[start - 1] not in " \t":
        return ""
    words = text[max(0, start - 24):start].split()
    return words[-1] if words else ""


def _inside_a_name(text: str, start: int) -> bool:
    """Is text[start] a later word of a name or place that starts before it? A name does not
    start after a given name ("Martin Luther King Jr. Day": not "Luther King Jr"; the word-like
    ones aside: "Young Ben Clark", "to China Gary Locke") or after the first word of a place
    ("San Manuel Stadium")."""
    previous = _previous_word(text, start)
    return bool(previous) and (previous in _PLACE_STARTS or _known(previous, _weak_cue_given_names()))


def _after_offices(text: str, start: int, end: int) -> tuple[int, int]:
    """The name without the offices before it, when two or more words follow them: "District
    Attorney John Smith" and "Foreign Minister Wang Yi" are John Smith and Wang Yi, while
    "Senator Warren" stays whole (one word alone would not be found again)."""
    words = list(_NON_SPACE.finditer(text, start, end))
    last_office = max((i for i, word in enumerate(words) if word.group().rstrip(".") in _OFFICE_WORDS), default=-1)
    if 0 <= last_office < len(words) - 2:
        return words[last_office + 1].start(), end
    return start, end


_NON_SPACE = re.compile(r"\S+")


def _known(word: str, names: frozenset[str]) -> bool:
    """Is `word` one of `names`, its accents ignored (José, Zoë: the census list has Jose, Zoe),
    or, hyphenated, its first part (Jean-Luc, Hans-Peter)?"""
    if word in names or (not word.isascii() and _unaccented(word) in names):
        return True
    return "-" in word and _known(word.split("-", 1)[0], names)


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _is_name_word(word: str) -> bool:
    return word.rstrip(".,") not in _TITLES_EN and not _INITIAL.fullmatch(word)


def _may_start_a_cueless_name(text: str, start: int, end: int) -> bool:
    """Is the first name word of text[start:end] (after any titles and initials: Ann, of "Dr. J.
    Ann Lee") a common given name? Looked at without splitting the run, for most runs start
    with neither."""
    first = _WORD_AT.match(text, start)
    if first is None:
        return False
    if _known(first.group(), cueless_given_names()):
        return True
    if first.group() not in _TITLES_EN and not (len(first.group()) == 1 and text.startswith(".", first.end())):
        return False
    return _known(next((word for word in text[start:end].split() if _is_name_word(word)), ""), cueless_given_names())


_WEAK_CUE_ENDS = frozenset(["to", "from", "by"])
# (not book, show or play: "show Maria Lopez the door" is a person)
_WORK_NOUNS = frozenset("movie film novel song album series musical opera poem painting character brand whisky "
                        "whiskey magazine newspaper".split())
# Offices only a person holds, which may start a name after a weak cue. Not General, King,
# Queen, Prince: General Motors, King County, Prince Edward Island
_OFFICES = frozenset("President Senator Sen Governor Gov Mayor Judge Minister Sheriff Officer Detective Sergeant "
                     "Sgt Lieutenant Lt Colonel Col Captain Capt Marshal Admiral Pope Rev Reverend Rabbi Imam".split())
# Offices, ranks and their first words, left out of a full name that follows them
_OFFICE_WORDS = _OFFICES | frozenset("Attorney Secretary Chancellor Commissioner Ambassador Premier Chairman "
                                     "Chairwoman Chair Chief Director Coach Professor Congressman Congresswoman "
                                     "Representative Rep General Prince Princess King Queen Lord Lady Sir Dame "
                                     "Prime Vice Deputy Inspector Constable Bishop Cardinal Father Air Justice "
                                     "Superintendent Principal Commander".split())


@functools.cache
def _given_name_shares() -> dict[str, float]:
    """{given name: share of people bearing it, in percent} from curate/data/given_names.txt
    (the 1990 US census lists: 5,163 names)."""
    from importlib import resources

    lines = (resources.files("curate") / "data" / "given_names.txt").read_text(encoding="utf-8").splitlines()
    return {name: float(share) for name, share in (line.split() for line in lines if line and line[0] != "#")}


@functools.cache
def given_names() -> frozenset[str]:
    """Every given name of the census list."""
    return frozenset(_given_name_shares())


@functools.cache
def _weak_cue_given_names() -> frozenset[str]:
    """What a name after "to", "from" or "by" starts with: any given name but the word-like ones
    and places ("to Georgia Tech", "from Austin Texas", "to Long Beach")."""
    return given_names() - _WORD_NAMES


@functools.cache
def cueless_given_names() -> frozenset[str]:
    """Given names that start a name with no cue before it: borne by 0.01% of people or more
    (the rarer entries of the census list include In, My and So), less those that are also
    English words or places (Will, Grant, Hope, Georgia, Austin: "Grant Park")."""
    return frozenset(name for name, share in _given_name_shares().items() if share >= 0.01) - _WORD_NAMES


_WORD_NAMES = frozenset("Will May June April August Autumn Summer Grant Mark Bill Rose Hope Joy Grace Faith Charity "
                        "Guy Don Dean Chase Drew Miles Ward Young Son Brain Gay Clay Cliff Rob Rod Van Pearl Penny "
                        "Olive Ginger Fern Laurel Melody Candy Brandy Buddy Rocky Earnest Rex Morgan Marina Christian "
                        "Israel Jordan Georgia Virginia Carolina Florence Austin Dallas Charlotte Victoria Sydney "
                        "Paris Houston Lincoln Madison Amber Angel Basil Carol Crystal Daisy Dawn Ebony Eve Gale "
                        "Hazel Heather Holly Iris Ivy Jewel Lily Misty Opal Sandy Sterling Violet Rusty Reed Cole "
                        "Roman Junior Mercedes Jesus Kenya Chad Cleveland Orlando Savannah Geneva Augusta Aurora "
                        "Alexandria Santiago Long China India Asia Florida King Queen Major Golden Sunny Wm "
                        "Williams".split())


_OWN_CUE_ENDS = frozenset("is name's name dear hi hello hey thanks you cheers congratulations welcome me called i'm am "
                          "it's regards sincerely".split())
_ROLE_CUE_ENDS = frozenset("customer client patient contact employee candidate applicant tenant guest passenger "
                           "recipient sender owner author subscriber member student agent ask tell email call ping "
                           "message text cc copy invite meet thank remind pay visit to from by of".split())  # of: in the name of


_INITIAL = re.compile(r"[A-Z]\.")
_NEVER_IN_NAMES = frozenset("Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March "
                            "July September October November December Day Times House Corporation Company Institute "
                            "Management Force Army Navy University College School Hospital Bank".split())
_SUFFIXES = frozenset("Jr Sr II III IV MD DDS DVM PhD Esq".split())
_TITLES_EN = frozenset("Mr Mrs Ms Miss Mx Dr Prof".split())
_NOT_NAME_ENDS = frozenset("Team Support Service Services Department Street Avenue Road Inc Ltd LLC Corp Group "
                           "Desk Center Centre Office".split())
# The last words of organisations and places, never of a person's name: a run ending in one is
# no name, nor are the words before it (real prompts: "banned from Alaska Airlines", "reported
# by Associated Press", "a statement from Human Rights Watch")
_ORGANISATION_ENDS = frozenset("Airlines Airways Press News Tribune Journal Herald Gazette Ministry Agency Authority "
                           "Council Commission Committee Foundation Association Society Partners Patrol Police "
                           "Lottery Museum Festival Awards League Federation Airport County City Coast Island "
                           "Islands Isles Valley Mountains Province Kingdom Republic Parenthood Watch Minor "
                           "Arabia Examiner Leader Stadium Arena Theatre Theater Records Gifts Health Clinic Motors "
                           "Brewery Foods Pharmacy Bakery Cafe Restaurant Hotel Hotels Casino Studios Pictures "
                           "Entertainment Publishing Magazine Bridge Square Station Church Cathedral Library "
                           "Stores Mall Survey".split())


# A capitalised word after another word: after a space, tab or line break ("Thanks,\nPeter",
# "Name： Bob"), or glued to the comma or colon that ends a cue ("Hi,Ann", "Name:Bob"). Every
# way _name_from accepts a run needs one: a cue ends in a letter or one of those marks, and a
# run of two or more words has a letter and a space before its second. (A capital, then a
# lower-case letter or an apostrophe: O'Brien.)
_CAPITAL_PAIR = re.compile(rf"(?:[^\W\d_]|[,.!?:：;'])[ \t\n]+[{_UPPER}][{_LOWER}']|[,:：][{_UPPER}][{_LOWER}']")
_ASCII_CAPITAL_PAIR = re.compile(r"[A-Za-z,.!?:;'][ \t\n]+[A-Z][a-z']|[,:][A-Z][a-z']")  # the same, 2x faster


def zh_names(text: str) -> list[tuple[int, int]]:
    """Names after a cue (我叫, 姓名：) or at a surname that jieba tags as the start of a name."""
    if text.isascii() or not _ALL_HAN.search(text):  # isascii: a flag, not a scan
        return []
    spans = []
    for match in _ZH_CUE.finditer(text):
        end = _zh_name_at(text, match.end(), strong=match.group(1) is None)
        if end:
            spans.append((match.end(), end))
    for match in _NICKNAME.finditer(text):  # 小王, 老李: what colleagues call each other
        start = match.start()
        if _nickname_at(text, start) and not any(s <= start < e for s, e in spans):
            spans.append((start, start + 2))
    for match in _ZH_NAME_PLACE.finditer(text):
        start = match.end()
        if start < len(text) and not any(s <= start < e for s, e in spans):
            end = _zh_name_in_place(text, start, role=match.group(2) is not None,
                                    clause=match.group(1) is None and match.group(2) is None)
            if end:
                spans.append((start, end))
    starts_word, ends_word = _surname_bigrams()
    last = 0
    for match in _SURNAME.finditer(text):
        start = match.start()
        pair = text[start:start + 2]
        pair_before = text[start - 1:start + 1] if start else ""
        if pair not in _COMPOUND and (text[start] not in _SURNAME_SET or pair in starts_word
                                      or pair_before in ends_word or pair_before in starts_word
                                      or _WEEK.match(text, max(0, start - 1))):
            continue  # 方法, 高兴 begin with a surname character; 如何, 任何 end with one (何时 both); 下周, 周一: weeks
        if start < last or any(s <= start < e for s, e in spans) or pair_before in _COMPOUND:
            continue  # (马 of 司马光 starts no name: a cut there left 司 in the text)
        end = _zh_name_at(text, start, strong=False)
        if end:
            spans.append((start, end))
            last = end
    # a three-character name whose last character starts a word: 王芳今天 is 王芳, then 今天
    return [(s, e - 1) if e - s == 3 and _starts_a_word(text, e - 1) else (s, e) for s, e in spans]


def _nickname_at(text: str, start: int) -> bool:
    """Is text[start:start + 2] 小 or 老 and a surname, used as a name? Not inside a full name
    (王小明: a surname before it, unless that is a nickname too: 小李小王), nor a word far more
    frequent than nicknames are (小时, 老师, 小说; jieba counts 小张 302 times, 小时 8,143)."""
    if start and text[start - 1] in _SURNAME_SET and text[start - 2:start - 1] not in ("小", "老"):
        return False
    return _jieba_tables()[0].get(text[start:start + 2], 0) <= _FAR_COMMON


def _zh_name_at(text: str, start: int, strong: bool) -> int:
    """The end of a name starting at `start`, or 0; decided by jieba's tags on a short window."""
    width = 4 if strong or text[start:start + 2] in _COMPOUND else 3
    tokens = _pos_tags(text[start:start + width])
    if not tokens or not _ALL_HAN.fullmatch(tokens[0][0]):
        return 0
    word, tag = tokens[0]
    if tag.startswith("nr") and len(word) == 2 and len(tokens) > 1 and tokens[1][1].startswith("nr") \
            and len(tokens[1][0]) == 1:
        word = word + tokens[1][0]  # 李娜/nr 杰/nr: one three-character name
    if tag.startswith("nr") and len(word) > 2 and word[-2:] in _TITLES:
        return start + len(word) - 2  # 李先生 tagged as one word: the surname is the name
    if tag.startswith("nr") and len(word) >= 2 and word not in _COMPOUND:  # 诸葛/明亮: the given name follows
        return start + len(word) if strong or not _common_word(word) else 0
    if len(tokens) > 1 and (len(word) == 1 and (tag.startswith("nr") or strong) or word in _COMPOUND):
        given, given_tag = tokens[1]
        if given in _TITLES:
            return start + len(word) if tag.startswith("nr") else 0  # 李先生: the surname is the name
        # after a compound surname, a given name jieba does not know (x) is one too: 上官/雨桐
        if len(given) <= 2 and _ALL_HAN.fullmatch(given) and (
                given_tag[0] not in _FUNCTION_TAGS or (word in _COMPOUND and given_tag == "x")):
            return start + len(word) + len(given)  # 赵/nr 建国/ns
    if strong and 2 <= len(word) <= 4 and tag[0] not in _NOT_AFTER_CUE:
        return start + len(word)  # 我叫许平: the tagger calls 许平 a numeral, the cue says otherwise
    return 0


def _zh_name_in_place(text: str, start: int, role: bool = False, clause: bool = False) -> int:
    """The end of a surname and given name at `start` (a place names often start), or 0.

    No segmenting here, only character look-ups: the given name is one or two characters that
    names in jieba's dictionary use (_given_characters). Two make a name anywhere such a place
    is; one only after a role word, and only if the name then ends (客户傅彬的, not 请查收).
    At a clause's start (`clause`), not where the surname and the next character are a frequent
    word: most clauses start with a word (方法有, 温度太低, 明天见), few with a name."""
    if text[start:start + 2] in _COMPOUND:
        surname = 2
    elif text[start] in _SURNAME_SET and not _WEEK.match(text, max(0, start - 1)):  # 周五前: a weekday
        surname = 1
    else:
        return 0
    given_characters = _given_characters()
    given = text[start + surname:start + surname + 2]
    if text[start + surname + 1:start + surname + 3] in _TITLES:
        length = 1  # 陈静女士: the title ends the name
    elif given[:1] == "总":
        length = 1  # 王总开会: 总 (the boss) is a title; 开会 is a verb, not a given name
    elif text[start:start + 2] in _surname_bigrams()[0] and (clause or given[1:] in _VERB_OR_PARTICLE):
        return 0  # 明天能洗澡吗: a word (明天), then a verb, not 明 and a given name
    elif len(given) == 2 and given[0] in given_characters and given[1] in given_characters:
        # 李娜明天来: the second character starts a word (明天), so the name is 李娜
        length = 1 if _starts_a_word(text, start + surname + 1) else 2
    elif role and given and given[0] in given_characters and (len(given) == 1 or given[1] in _NAME_ENDS):
        length = 1
    else:
        return 0
    name = text[start:start + surname + length]
    freq, tags = _jieba_tables()
    if freq.get(name, 0) > _COMMON and not tags.get(name, "").startswith("nr"):
        return 0  # 江水, 高度: a word, not a name
    if name[surname:] in _TITLES:
        return 0
    return start + len(name)


def _starts_a_word(text: str, start: int) -> bool:
    """Do text[start] and the character after it make a frequent word (明天, 一起, 创立)?"""
    word = text[start:start + 2]
    return len(word) == 2 and _common_word(word)


@functools.cache
def _given_characters() -> frozenset[str]:
    """Characters that given names use: those after the surname in the names of jieba's
    dictionary (tagged nr) at least 12 times, less particles and the like."""
    counts: dict[str, int] = {}
    for word, tag in _jieba_tables()[1].items():
        if tag == "nr" and len(word) in (2, 3) and word[0] in _SURNAME_SET:
            for character in word[1:]:
                counts[character] = counts.get(character, 0) + 1
    common = frozenset(c for c, n in counts.items() if n >= 12) | frozenset(_MODERN_GIVEN)
    return common - frozenset(_STOP_AFTER_SURNAME + _NAME_ENDS)


# jieba's names are mostly of famous and historical people; characters common in the given
# names of people born since the 1950s that it has few of
_MODERN_GIVEN = ("云伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玲燕辉鹏华飞婷红梅鑫波斌宇浩凯健俊帆"
                 "帅旭宁龙林欢阳佳慧雪琳晶倩颖莉萍玉凤淑珍荣丹峰建国春秋冬梦琪欣怡思雨子涵轩睿博彬晨瑶"
                 "璐露薇蕾茜妍婧婕琦璇莹瑞祥福贵生成志永海东方亮金兵文武德胜利卫新民正清")


def _common_word(word: str) -> bool:
    freq, _ = _jieba_tables()
    return freq.get(word, 0) > _COMMON or (len(word) == 3 and freq.get(word[1:], 0) > _COMMON)  # 朱/红色


@functools.lru_cache(maxsize=1 << 16)
def _pos_tags(window: str) -> tuple[tuple[str, str], ...]:
    """(word, tag) for a short window: jieba's segmenter (its HMM has 4 states, not the
    part-of-speech tagger's ~200: ~1 ms a window there) and the dictionary's tags; a word the
    dictionary lacks that starts with a surname and is two or three characters long is what
    the tagger would call a name (nr), anything else unknown is x. Cached: windows recur."""
    tags = _jieba_tables()[1]
    out = []
    for word in _posseg().tokenizer.cut(window, HMM=True):
        tag = tags.get(word)
        if tag is None and len(word) == 3 and word[2] in _VERB_OR_PARTICLE:
            out.append((word[:2], "nr" if word[0] in _SURNAME_SET else "x"))  # 李华去: 李华, then 去
            word, tag = word[2], "v"
        elif tag is None:
            tag = "nr" if 2 <= len(word) <= 3 and word[0] in _SURNAME_SET else "x"
        out.append((word, tag))
    return tuple(out)


_VERB_OR_PARTICLE = frozenset(_STOP_AFTER_SURNAME + "去来要会能想看做叫让请")


@functools.cache
def _posseg() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary cache at INFO on stderr
    jieba.initialize()
    return jieba.posseg.dt


@functools.cache
def _jieba_tables() -> tuple[dict[str, int], dict[str, str]]:
    posseg = _posseg()
    return posseg.tokenizer.FREQ, posseg.word_tag_tab


@functools.cache
def _surname_bigrams() -> tuple[frozenset[str], frozenset[str]]:
    """Frequent words that begin with a surname character, and very frequent ones that end with one."""
    freq, tags = _jieba_tables()
    # jieba tags many such words nr (安静 1,199 times, 谢谢 1,089, 孙子 871): a word tagged nr is
    # a word here only when it is more frequent than names are (李娜: 438)
    starts = frozenset(w for w, n in freq.items() if len(w) == 2 and w[0] in _SURNAME_SET
                       and n > (_FAR_COMMON if tags.get(w, "").startswith("nr") else _COMMON))
    ends = frozenset(w for w, n in freq.items() if n > 10 * _COMMON and len(w) == 2 and w[1] in _SURNAME_SET)
    return starts, ends


def clear_cache() -> None:
    """Forget tagged windows, so a benchmark times a cold start."""
    _pos_tags.cache_clear()


def warm_up() -> None:
    """Load jieba and build the tables made from its dictionary now: before forking workers, so
    they share one copy instead of each building its own in its first chunk (~0.2 s)."""
    _surname_bigrams()
    _given_characters()
    cueless_given_names()
    _weak_cue_given_names()


@functools.cache
def load_spacy(name: str) -> Any:
    try:
        import spacy
    except ImportError:
        raise UsageError(f"spacy_model {name!r}: spaCy is not installed; run `pip install spacy` and "
                         f"`python -m spacy download {name}`, or leave spacy_model unset") from None
    try:
        return spacy.load(name)
    except OSError:
        raise UsageError(f"spacy_model {name!r}: that spaCy model is not installed; run "
                         f"`python -m spacy download {name}`") from None


def spacy_names(nlp: Any, text: str) -> list[tuple[int, int]]:
    return [(ent.start_char, ent.end_char) for ent in nlp(text).ents if ent.label_ in ("PERSON", "PER")]
