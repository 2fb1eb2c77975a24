"""Text facts, defined once for every stage: what counts as CJK, words, normalisation for ids,
refusals, stop words and the Self-Instruct keyword blacklist.

CJK here means the scripts written without spaces between words: Han (Chinese, and kanji) and
Japanese kana. Hangul is not in it: Korean puts spaces between words, so it is counted and
shingled by words like English.
"""

from __future__ import annotations

import re
import unicodedata

CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# English stop words (the usual NLTK-style list) and common Chinese function characters
# (Chinese is checked character by character).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves yes ok okay
的 了 和 是 在 就 都 而 及 与 着 或 一 个 们 我 你 他 她 它 这 那 吗 呢 吧 啊 嗯 哦 也 又 有 没 不 好
""".split())
REFUSAL_WORDS = ("sorry", "抱歉", "对不起")


# one pass: a CJK character, or a run of other letters, or a run of digits
_COUNTED = re.compile(f"[{CJK_RANGES}]|[^\\W\\d_{CJK_RANGES}]+|\\d+")
_ASCII_WORD = re.compile(r"[A-Za-z]+|[0-9]+")  # the same, for ASCII text, several times faster


def any_of(*words: str) -> re.Pattern[str]:
    """A pattern found in a text exactly when one of `words` is in it: one scan in C, where
    `any(word in text for word in words)` ran a generator step and a search per word (1-2 us
    a text for ten words)."""
    return re.compile("|".join(map(re.escape, words)))


def words_of(text: str) -> list[str]:
    """The words of spaced scripts, and each CJK character as a word of its own."""
    return (_ASCII_WORD if text.isascii() else _COUNTED).findall(text)


# ASCII letters become "a", digits "0", everything else a space: then a word is a run of one kind
_RUNS = bytes.maketrans(bytes(range(128)), bytes(
    ord("a") if chr(b).isascii() and chr(b).isalpha() else ord("0") if chr(b).isdigit() else ord(" ")
    for b in range(128)))


def word_count(text: str) -> int:
    """Words of spaced scripts, plus one per CJK character (which has no spaces to split on)."""
    if text.isascii():  # the same count as words_of, in C: tokens plus letter/digit boundaries inside them
        runs = text.encode().translate(_RUNS)
        return len(runs.split()) + runs.count(b"a0") + runs.count(b"0a")
    return len(words_of(text))


def is_refusal(response: str, max_words: int = 80) -> bool:
    """Evol-Instruct rule 2: says sorry, and is short."""
    lowered = response.lower()
    return any(word in lowered for word in REFUSAL_WORDS) and word_count(response) < max_words


def only_stop_words(response: str) -> bool:
    """Evol-Instruct rule 3: nothing but punctuation and stop words (an empty reply included)."""
    return all(word.lower() in STOP_WORDS for word in words_of(response))


def normalize_text(text: str) -> str:
    """NFKC with whitespace runs collapsed (`" ".join(text.split())`), so cosmetic variants
    share an id. ASCII text is done on bytes, in C: twice as fast as the split, the same text."""
    if not text.isascii():
        return " ".join(unicodedata.normalize("NFKC", text).split())
    return collapsed(text.encode()).decode()


def collapsed(ascii: bytes) -> bytes:
    """ASCII text with each run of whitespace made one space and none at either end: what
    `" ".join(text.split())` makes of it. (On other text, str.split is as fast.)"""
    spaced = ascii.translate(ASCII_SPACES)
    while b"  " in spaced:
        spaced = spaced.replace(b"  ", b" ")
    return spaced.strip(b" ")


# every ASCII character str.split() splits on, as a space
ASCII_SPACES = bytes.maketrans(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f", b" " * 9)


def duplicate_key(text: str) -> str:
    """What two texts share when dedup calls them exact copies: normalize_text, lower-cased."""
    return normalize_text(text).lower()


# Self-Instruct's keyword blacklist (tasks a text-only model cannot do), with Chinese equivalents.
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
             "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram")
BLACKLIST_ZH = ("图片", "图像", "照片", "画图", "绘制", "视频", "音频", "音乐", "文件", "地图", "流程图", "图表")
_BLACKLIST = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b|" + "|".join(BLACKLIST_ZH))


def has_blacklisted_word(text: str) -> bool:
    return _BLACKLIST.search(text.lower()) is not None
