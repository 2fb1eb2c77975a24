"""Small text tests the generators share: word counts, refusals, stop-word-only replies."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W\d_]+|\d+")  # letters or digits; punctuation is not a word
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


def word_count(text: str) -> int:
    """Words of spaced scripts, plus one per CJK character (which has no spaces to split on)."""
    return len(_WORD.findall(_CJK.sub(" ", text))) + len(_CJK.findall(text))


def is_refusal(response: str, max_words: int = 80) -> bool:
    """Evol-Instruct rule 2: says sorry, and is short."""
    lowered = response.lower()
    return any(word in lowered for word in REFUSAL_WORDS) and word_count(response) < max_words


def only_stop_words(response: str) -> bool:
    """Evol-Instruct rule 3: nothing but punctuation and stop words (an empty reply included)."""
    words = [w.lower() for w in _WORD.findall(_CJK.sub(lambda m: f" {m.group()} ", response))]
    return all(word in STOP_WORDS for word in words)
