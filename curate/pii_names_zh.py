"""Person names in Chinese text, found by their context and jieba's dictionary, never by a model.

After a cue (我叫, 姓名：), after a role word (联系, 客户) or at the start of a clause, at a
nickname (小张, 老李), and at a surname that jieba's segmenter and dictionary call the start of a
name. zh_names returns (start, end) pairs; pii_detect.py makes them spans.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from typing import Any

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
# Two scans, merged in text order (_name_places): one alternation with an empty branch for a
# clause's start made sre try every branch at every character (~9 us a record, ~2 the two).
# Half-width marks end a clause too: detection reads a text with full-width forms in it (１３８,
# －, ．) folded half width, its ，and ： included.
_CLAUSE_BREAK = re.compile(r"[。！？，、；：,:;!?\s]")
_PERSON_TAKING = re.compile(r"(请|由|被|跟|给|让|和|是)|(联系|客户|患者|病人|收件人|寄件人|寄给|发给|"
                            r"交给|转给|找|问|告诉|通知|转告|感谢|谢谢|恭喜|同事|老板|经理|医生|老师|"
                            r"老公|老婆|丈夫|妻子|爱人|儿子|女儿|朋友|同学|负责人|主管|司机)")
# after one of the role words (the last group) a one-character given name counts too, if the
# name then ends: 客户傅彬的, 患者宋想，
_NAME_ENDS = "，。！？、；：,.!?;: 的在说是也和"
_FUNCTION_TAGS = frozenset("vpcudrmqxyeoft")  # verbs, particles, pronouns, numbers, punctuation...
_NOT_AFTER_CUE = frozenset("rpcudxyeo")  # 我叫什么: a pronoun after the cue is a question, not a name
_CHEQUE_NUMERALS = frozenset("壹贰叁肆伍陆柒捌玖拾佰仟")
_MEASURE_WORDS = frozenset("角分整件号条层册本个次页章只张岁位瓶斤")
_TIME_UNITS = frozenset("年天月周")
_BEFORE_OR_AFTER = frozenset("前后内")
_BEFORE_A_SUM = frozenset("币¥￥计付额写共〇零一二三四五六七八九十百千") | _CHEQUE_NUMERALS
_TITLES = frozenset("先生 女士 小姐 老师 经理 教授 医生 同学 主任 律师 师傅".split())
_COMMON = 100  # jieba tags 叶子, 顾客 and 谢谢 nr too; a private person's name is rarely that frequent
_FAR_COMMON = 5 * _COMMON  # commoner than names ever are: 李娜 438, 小张 302; 安静 1,199, 小时 8,143


def zh_names(text: str, taken: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Names after a cue (我叫, 姓名：) or at a surname that jieba tags as the start of a name.
    `taken`: (start, end) of values other detectors found; no name is looked for that would start
    inside one (高 of an address's 高坪: a jieba look-up for a name that would go, and that would
    keep a name right after the value from being seen)."""
    if text.isascii() or not _ALL_HAN.search(text):  # isascii: a flag, not a scan
        return []
    spans = []
    for match in _ZH_CUE.finditer(text):
        if _within(match.end(), taken):
            continue
        end = _zh_name_at(text, match.end(), strong=match.group(1) is None)
        if end:
            spans.append((match.end(), end))
    for match in _NICKNAME.finditer(text):  # 小王, 老李: what colleagues call each other
        start = match.start()
        if _nickname_at(text, start) and not _within(start, spans):
            spans.append((start, start + 2))
    for match in _AH_OR_DOUBLED.finditer(text):  # 阿珍, 婷婷: what family and friends call each other
        start = match.start()
        if not _within(start, spans) and not _within(start, taken) \
                and (_ah_nickname_at(text, start) if text[start] == "阿" else _doubled_name_at(text, start)):
            spans.append((start, start + 2))
    for start, role, clause in _name_places(text):
        if start < len(text) and not _within(start, spans) and not _a_numeral(text, start):
            end = _zh_name_in_place(text, start, role=role, clause=clause)
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
        if start < last or _within(start, spans) or pair_before in _COMPOUND:
            continue  # (马 of 司马光 starts no name: a cut there left 司 in the text)
        if _inside_a_word(text, start):
            continue  # 庄 of 石家庄, 古 of 太古汇: a place's or a firm's character, not a surname
        if _a_numeral(text, start):
            last = max(last, start + 2)  # nor does its unit start one: 周 of 陆周前
            continue
        if _within(start, taken):
            continue
        end = _zh_name_at(text, start, strong=False)
        if end:
            spans.append((start, end))
            last = end
    # a three-character name whose last character starts a word: 王芳今天 is 王芳, then 今天
    # (not after a compound surname, whose one-character given name would go: 司马光明 of 光明)
    return [(s, e - 1) if e - s == 3 and text[s:s + 2] not in _COMPOUND and _starts_a_word(text, e - 1) else (s, e)
            for s, e in spans]


def _within(at: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Is position `at` inside one of `spans` ((start, end) pairs)?"""
    return bool(spans) and any(start <= at < end for start, end in spans)  # no generator for none


def _name_places(text: str) -> list[tuple[int, bool, bool]]:
    """(start, after a role word, at a clause's start) for each place a name often starts, in
    text order: a clause's start comes before a word that takes a person at the same place
    (，请王芳: the place after ，, then the one after 请)."""
    # (where the scan met it, 0 for a clause's start and 1 for a word, then what is returned)
    places = [(0, 0, 0, False, True)] + [(m.end(), 0, m.end(), False, True) for m in _CLAUSE_BREAK.finditer(text)]
    places += [(m.start(), 1, m.end(), m.group(2) is not None, False) for m in _PERSON_TAKING.finditer(text)]
    places.sort()
    return [(start, role, clause) for _, _, start, role, clause in places]


def _a_numeral(text: str, start: int) -> bool:
    """Is the surname at `start` a numeral (伍 5, 陆 6, 万 10,000) in a sum or a count? It is
    before a cheque numeral or a measure word (伍陆柒, 万伍仟, 陆角柒, 共伍件, 第陆条), before 元
    that ends a sum (人民币陆元整) and before 万 that goes on with one (陆万伍仟, 陆万元). 陆九渊,
    陆千帆, 陆元是我的同学 and 陆万年 stay names."""
    if text[start] not in "伍陆万":
        return False
    after, further = text[start + 1:start + 2], text[start + 2:start + 3]
    if after in _CHEQUE_NUMERALS or after in _MEASURE_WORDS:
        return True
    if after in ("元", "圆"):
        return further in ("整", "角", "分") or (start > 0 and text[start - 1] in _BEFORE_A_SUM)
    if after in _TIME_UNITS and further in _BEFORE_OR_AFTER and not _starts_a_word(text, start + 2):
        return True  # 伍年前, 陆天后: a span of time (陆天明 has no 前 or 后; 陆天后来: 后来 is a word)
    return after in ("万", "亿") and (further in _CHEQUE_NUMERALS or further in _MEASURE_WORDS or further in "元圆万亿")


def _nickname_at(text: str, start: int) -> bool:
    """Is text[start:start + 2] 小 or 老 and a surname, used as a name? Not inside a full name
    (王小明: a surname before it, unless that is a nickname too: 小李小王), nor a word far more
    frequent than nicknames are (小时, 老师, 小说; jieba counts 小张 302 times, 小时 8,143)."""
    if start and text[start - 1] in _SURNAME_SET and text[start - 2:start - 1] not in ("小", "老"):
        return False
    return _jieba_tables()[0].get(text[start:start + 2], 0) <= _FAR_COMMON


_AH_OR_DOUBLED = re.compile(r"阿(?=[\u4e00-\u9fff])|([\u4e00-\u9fff])\1")
_KIN = frozenset("姨婆爸妈奶爹妹伯爷叔娘兄弟公哥嫂姐舅婶")  # 阿姨, 阿婆: kin, not names
_RARE_AS_A_NAME = 30  # jieba counts 阿明 24 times, 阿飞 26; 阿斗 61, 阿胶 52, 阿里 726


def _ah_nickname_at(text: str, start: int) -> bool:
    """阿 and a given name's character (阿珍, 阿强), which jieba does not know or tags as a name
    and counts rarely, and that starts no longer word (阿拉伯, 阿联酋, 阿司匹林)."""
    given = text[start + 1]
    if given in _KIN or given not in _given_characters():
        return False
    return _rare(text[start:start + 2], "nr") and not _starts_a_longer_word(text, start)  # not 阿门 (ns)


def _doubled_name_at(text: str, start: int) -> bool:
    """A doubled given name's character (婷婷, 伟伟, 佳佳: what children and friends are called):
    a character common in modern given names (not 看看, 刚刚), a pair jieba does not know or
    counts rarely and as no adverb, verb or adjective, and neither part of a longer word nor of
    a doubled pair after it (明明白白, 亮晶晶, 亭亭玉立)."""
    if text[start] not in _MODERN_GIVEN or text[start + 2:start + 3] == text[start + 3:start + 4] != "":
        return False
    freq, _ = _jieba_tables()
    if start and freq.get(text[start - 1:start + 2], 0) > 0:
        return False  # 亮晶晶, 喜洋洋
    return _rare(text[start:start + 2], "nr", "n", "z", "i") and not _starts_a_longer_word(text, start)


def _rare(pair: str, *tags: str) -> bool:
    """Unknown to jieba, or counted rarely and tagged as one of `tags` (婷婷 z, 佳佳 nz, 军军 n)."""
    freq, tagged = _jieba_tables()
    count = freq.get(pair, 0)
    return count == 0 or (count <= _RARE_AS_A_NAME and tagged.get(pair, "").startswith(tags))


def _starts_a_longer_word(text: str, start: int) -> bool:
    """Do the characters at `start` begin a dictionary word of three or four?"""
    freq, _ = _jieba_tables()
    return any(freq.get(text[start:end], 0) > 0 for end in (start + 3, start + 4) if end <= len(text))


def _zh_name_at(text: str, start: int, strong: bool) -> int:
    """The end of a name starting at `start`, or 0; decided by jieba's tags on a short window."""
    if strong and text[start:start + 2] in _COMPOUND:
        # after a cue, a compound surname takes the one or two Han characters after it:
        # 我叫司马光明 is 司马 光明, though jieba knows 司马光 (the historian) as a word
        given = _ALL_HAN.match(text, start + 2, start + 4)
        return start + 2 + len(given.group()) if given else 0
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


def _inside_a_word(text: str, start: int) -> bool:
    """Is text[start] inside a word of jieba's dictionary that begins before it (庄 of 石家庄, 古 of
    太古汇)? Asked of the dictionary first (is there such a word at all?), then, where there is,
    of jieba's segmenter on the characters around: 天王 is a word, yet 昨天王小明 is 昨天 王小明."""
    freq, _ = _jieba_tables()
    spanning = any(freq.get(text[begin:end], 0) >= _IN_DICTIONARY
                   for begin in range(max(0, start - 3), start)
                   for end in range(start + 1, min(len(text), begin + 4) + 1))
    if not spanning:
        return False
    left = max(0, start - 3)
    return start - left not in _word_starts(text[left:start + 3])


_IN_DICTIONARY = 3  # a word jieba counts fewer times is as likely a name's characters (王老吉 3)


@functools.lru_cache(maxsize=1 << 14)
def _word_starts(window: str) -> frozenset[int]:
    """Where jieba's segmenter (dictionary only) starts each word of a short window."""
    starts, at = set(), 0
    for word in _posseg().tokenizer.cut(window, HMM=False):
        starts.add(at)
        at += len(word)
    return frozenset(starts)


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


def warm_up() -> None:
    """Load jieba and build the tables made from its dictionary now (see pii_names.warm_up)."""
    _surname_bigrams()
    _given_characters()
