"""Person names in English text, found by their context, never by a model (Chinese names are
in pii_names_zh.py; the word lists it works with in pii_name_words.py).

Runs of capitalised words, then a cue in the few characters before one of their words
("Hi, I'm", "Customer", "Patient:", "Ask", "copy", "in the name of") or a speech verb after
them ("... wrote"). After the weakest cues ("to", "from", "by") the name must start with a
given name of the US census list (curate/data/given_names.txt) or an office ("Governor"); with
no cue at all, a common given name and a surname ("Sure, Maria Lopez can help") make a name;
no run after an article is one. Offices before a full name and a clause's first word are left
out of it ("District Attorney <PERSON>", "But <PERSON> said"); names in capitals count only
after a cue. The speaker's own name is found in lower case too ("my name is sarah connor"),
after a form's label ("Customer name - O'Brien, Patrick") and after the same cue in German,
French, Spanish and Italian ("Ich bin Lukas Schneider"). Optional: a spaCy NER model. Each
finder returns (start, end) pairs; pii_detect.py makes them spans and resolves overlaps with
the other types.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from curate import pii_names_zh
from curate.errors import UsageError
from curate.pii_name_words import (
    CLAUSE_STARTS, LABEL_ENDS, NEVER_IN_NAMES, NOT_NAMES, NOT_NAME_ENDS, OFFICES, OFFICE_WORDS,
    ORGANISATION_ENDS, OWN_CUE_ENDS, PARTICLES, PLACE_STARTS, ROLE_CUE_ENDS, SUFFIXES, TITLED_THINGS,
    TITLES_EN, WEAK_CUE_ENDS, WORK_NOUNS, cueless_given_names, given_names, weak_cue_given_names,
    world_given_names)
from curate.text import STOP_WORDS

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
_PARTICLE = "(?:" + "|".join(sorted(PARTICLES, key=len, reverse=True)) + ")"
_CAPITALISED_RUN = re.compile(rf"(?=[{_UPPER}])(?<![A-Za-z{_LOWER}{_UPPER}'-])(?<![A-Za-z]\.)"
                              rf"(?:(?:{_TITLE_WORD}|{_CAPITALISED}|[A-Z]\.)[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}})*"
                              rf"{_CAPITALISED}(?![^\W\d_]){_SUFFIX}")
_WORD_START = re.compile(r"(?<!\S)\S")
_AFTER_ARTICLE = re.compile(r"\b(?:[Tt]he|[Aa]n?)[ \t]+$")
# A form's label: "Name:", "Name -", "Customer name:", "FULL NAME:" (a word before "name" makes
# it some other thing's, "File name:", unless it is a person's role)
_NAME_LABEL = (r"(?<![A-Za-z][ _-])\b(?:(?:[Ff]ull|[Ff]irst|[Ll]ast) )?[Nn]ame[ \t]*(?:[:：]|[-–—](?=[ \t]))"
               r"|\b(?:[Cc]ustomer|[Cc]lient|[Pp]atient|[Cc]ontact|[Ee]mployee|[Pp]assenger|[Aa]pplicant|[Ss]tudent"
               r"|[Rr]ecipient|[Tt]enant|[Bb]eneficiary)[ _](?:(?:[Ff]ull|[Ff]irst|[Ll]ast) )?[Nn]ame[ \t]*"
               r"(?:[:：]|[-–—](?=[ \t]))"
               r"|\b(?:(?:FULL|FIRST|LAST) )?NAME[ \t]*[:：]")
# the speaker's own name, a greeting or a sign-off: one word is enough ("Hi, Ann"); and the
# opening of a statement ("I, Anil Kumar Sharma, agree"), and the speaker's name in German,
# French, Spanish and Italian, where two words are needed (_SELF_CUE)
_OWN_CUE = re.compile(
    rf"(?:\b[Mm]y name(?: is|'s)|{_NAME_LABEL}"
    r"|\b(?:Dear|Hi|Hello|Hey|Thanks|Thank you|Cheers|Congratulations|Welcome),?"
    r"|\b[Cc]all me|\bI(?:'m| am) called|\b(?:I'm|I am|[Tt]his is|[Ii]t's)"
    r"|(?:^|(?<=[.!?:\n] ))I,|\b(?:[Ii]ch bin|[Ii]ch heiße|[Mm]ein Name ist|[Jj]e m'appelle|[Jj]e suis|[Mm]e llamo"
    r"|[Mm]i nombre es|[Ss]oy|[Mm]i chiamo|[Ss]ono)"
    r"|\b(?:[Bb]est |[Kk]ind |[Ww]arm )?[Rr]egards,|\b[Ss]incerely,)[ \t]*\n?[ \t]*$")
_SELF_CUE = re.compile(r"(?:\b(?:I'm|I am|[Tt]his is|[Ii]t's|[Ii]ch bin|[Jj]e suis|[Ss]oy|[Ss]ono)|(?:^|(?<=[.!?:\n] ))I,)"
                       r"[ \t]*$")
# a role or a verb that takes a person: two or three words ("Ask Maria Lopez", not "Ask Google")
_ROLE_CUE = re.compile(
    r"(?:\b(?:[Cc]ustomer|[Cc]lient|[Pp]atient|[Cc]ontact|[Ee]mployee|[Cc]andidate|[Aa]pplicant|[Tt]enant|[Gg]uest"
    r"|[Pp]assenger|[Rr]ecipient|[Ss]ender|[Oo]wner|[Aa]uthor|[Ss]ubscriber|[Mm]ember|[Ss]tudent|[Aa]gent"
    # a CRM's or a form's fields, and the people a message mentions by their role
    r"|[Hh]older|[Rr]equester|[Rr]equestor|[Aa]ssignee|[Ss]igned|[Ss]ignatory|[Bb]eneficiary|[Pp]ayee|[Aa]ttn"
    r"|[Cc]olleague|[Cc]oworker|[Mm]anager|[Ss]upervisor|[Dd]river|[Tt]echnician|[Ll]andlord|[Bb]oss"
    r"|[Hh]usband|[Ww]ife|[Ss]pouse|[Gg]uardian|[Nn]urse|[Pp]hysician"
    r"|[Cc]c|CC|[Tt]o|[Ff]rom|[Bb]y|BY)"  # and a letter's header ("From: Ann Lee", "CC: Ann Lee") or a byline
    r"(?:[ \t]*[:：][ \t]*|,?[ \t]+)"  # a colon may be glued to the name: "Customer:Maria Lopez"
    r"|(?:\b(?:[Aa]sk|[Tt]ell|[Ee]mail|[Cc]all|[Cc]ontact|[Pp]ing|[Mm]essage|[Tt]ext|[Cc]opy|[Ii]nvite|[Mm]eet"
    r"|[Tt]hank|[Rr]emind|[Pp]ay|[Vv]isit)"
    r"|\bin the name of|\b(?:signed|written|reported|approved|sent|requested) by)[ \t]+)$")
# a full name as the subject of a speech or report verb: "Maria Lopez wrote", "that Ann Lee reported"
_SPEECH_VERB = re.compile(r"[ \t]+(?:wrote|said|says|asked|asks|reported|called|mentioned|replied|commented|emailed|"
                          r"texted|told|explained|added|noted|confirmed|complained)\b")


def english_names(text: str, taken: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Names in `text`; `taken`: (start, end) of values other detectors found, where a run of
    capitalised words wholly inside one ("93328 Davis Island, ...") is not looked at: any name
    in it would overlap that value, and go."""
    spans = _capital_letter_names(text) if _CAPS_PAIR.search(text) else []
    if "name" in text or "i'm" in text or "i am" in text or "call me" in text:
        spans += _lower_case_names(text)
    if "," in text:
        spans += _surname_first_names(text)
    if not (_ASCII_CAPITAL_PAIR.search(text) if text.isascii() else
            _UPPER_LOWER.search(text) and _CAPITAL_PAIR.search(text)):  # no word can start a name
        return spans
    for run in _CAPITALISED_RUN.finditer(text):
        if taken and any(start <= run.start() and run.end() <= end for start, end in taken):
            continue
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
        if not speech and not run.group().endswith("'s") and _THING_AFTER.match(text, run.end()):
            continue  # "their Johnnie Walker brand", "Harry Potter star Daniel Radcliffe": a named thing
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
        cue = (last_word in OWN_CUE_ENDS and _OWN_CUE.search(before)) or \
            (last_word in ROLE_CUE_ENDS and _ROLE_CUE.search(before))
        if cue and _starts_after_a_weak_cue(words[0]) and not any(w in NEVER_IN_NAMES for w in words):
            spans.append((run.start(), run.end()))
    return spans


def _lower_case_names(text: str) -> list[tuple[int, int]]:
    """The speaker's own name typed in lower case ("my name is sarah connor", "hi, i'm john"):
    a common given name (no word-like one: "i'm grace..."), and the word after it unless that
    is a function word or a verb's -ing form ("sarah and I", "john looking for")."""
    spans = []
    for match in _LOWER_OWN_NAME.finditer(text):
        given, surname = match.group(1), match.group(2)
        if given in STOP_WORDS or not _known(given.title(), cueless_given_names()):
            continue
        if surname and surname not in STOP_WORDS and not surname.endswith("ing"):
            spans.append((match.start(1), match.end(2)))
        else:
            spans.append(match.span(1))
    return spans


_LOWER_OWN_NAME = re.compile(r"(?:\b[Mm]y name(?: is|'s)|\b[Mm]y name[ \t]*:|\bcall me|\bi'm|\bi am)"
                             r"[ \t]+([a-z][a-z'-]+)(?:[ \t]+([a-z][a-z'-]+))?(?![\w-])")


def _surname_first_names(text: str) -> list[tuple[int, int]]:
    """"Surname, Given" after a cue, as lists and headers write names ('From: "Brennan, Siobhan"',
    "Name: Smith, John"): the given name must be a known one."""
    spans = []
    for match in _SURNAME_FIRST.finditer(text):
        start = match.start()
        cue_end = start - 1 if start and text[start - 1] in "\"“'" else start  # a quoted name
        before, last_word = _before(text, cue_end)
        # only a label: after a greeting or a verb the comma ends a clause ("Hi Ann, Bob here")
        labelled = last_word in LABEL_ENDS and (last_word not in WEAK_CUE_ENDS or before.rstrip().endswith(":"))
        cue = labelled and ((last_word == "name" and _OWN_CUE.search(before)) or _ROLE_CUE.search(before))
        surname = match.group(1)
        if cue and _starts_after_a_weak_cue(match.group(2)) and surname not in NOT_NAMES and surname not in TITLES_EN:
            spans.append((start, match.end()))
    return spans


_SURNAME_FIRST = re.compile(rf"(?=[{_UPPER}])(?<![^\W\d_])({_CAPITALISED}),[ \t]+({_CAPITALISED})(?![^\W\d_])")
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
    return word is not None and (_known(word.group(), cueless_given_names()) or word.group() in OFFICES)


_WORD_AT = re.compile(r"[^\s.,]+")


def _name_from(text: str, start: int, end: int, speech: bool, several: bool = True) -> tuple[int, int] | None:
    """(start, end) if the capitalised words text[start:end] are a name: by a cue before them, a
    speech verb after them (`speech`: False when none follows text[:end]), or, with neither, by
    a common given name starting them (`several`: False when text[start:end] is one word, which
    makes no name without a cue)."""
    before, last_word = _before(text, start)
    titled = _TITLED.match(text, start) is not None  # Mr., Dr.: only people take them
    if not speech and not titled and last_word not in OWN_CUE_ENDS and last_word not in ROLE_CUE_ENDS \
            and not (several and _may_start_a_cueless_name(text, start, end)):
        return None  # most capitalised words start a sentence or a title: decided before the word checks
    if text[start].islower():
        return None  # a particle inside the run ("van" of Vincent van Gogh) starts no name
    if last_word in WORK_NOUNS:
        return None  # "the movie Forrest Gump", "the novel Harry Potter": a title, not a person
    words = text[start:end].split()
    if after_article(text, start):  # "The Johnnie Walker": a thing
        return None
    if _inside_a_name(text, start):
        return None
    if words[-1] in ORGANISATION_ENDS:
        return None
    while len(words) > 1 and words[-1] in NOT_NAME_ENDS:  # "Contact Sales Team": no person
        end = len(text[:text.rindex(words.pop(), start, end)].rstrip())
    if words[-1].endswith("'s"):  # "Leonardo DiCaprio's agent": the name, not its possessive
        words[-1], end = words[-1][:-2], end - 2
    names = [w for w in words if _is_name_word(w) and w.rstrip(".,") not in SUFFIXES and w not in PARTICLES]
    # four with a particle (Mohammed bin Salman Al Saud) or after the speaker's own cue (Name:
    # Nguyen Thi Minh Khai)
    most = 4 if last_word in OWN_CUE_ENDS or any(w in PARTICLES for w in words) else 3
    if not names or len(names) > most or words[-1] in NOT_NAME_ENDS or names[0] in NOT_NAMES \
            or any(n.rstrip(".,") in NEVER_IN_NAMES for n in names):
        return None
    # the regexes only where the word before could end a cue: most capitalised words start a sentence
    if last_word in OWN_CUE_ENDS and _OWN_CUE.search(before) and (len(names) >= 2 or not _SELF_CUE.search(before)):
        return _after_offices(text, start, end)  # "I'm Canadian", "it's Monday": after those, one word is not a name
    if len(names) >= 2 and _SPEECH_VERB.match(text, end):
        return _after_offices(text, start, end)
    if len(names) == 1 and len(words) == 1 and _SPEECH_VERB.match(text, end) \
            and _previous_word(text, start) in CLAUSE_STARTS:
        return start, end  # "But Cox said": the surname alone, as the subject of a clause
    if titled and names[0] not in TITLED_THINGS:
        return start, end  # "Mr. Wojciech Kowalski", "Prof. Okafor": the title with the name
    if len(names) >= 2 and last_word in ROLE_CUE_ENDS and _ROLE_CUE.search(before):
        # after "to", "from" or "by" come places and organisations as often as people (in T0's
        # news prompts, "from Eagle Liquors", "by Huffington Post"): there the name must start
        # with a known given name, or an office that only a person holds ("to Governor Palin")
        # ("Assigned to:", "Ship to:" are a form's fields: the colon makes them strong)
        if last_word not in WEAK_CUE_ENDS or before.rstrip().endswith((":", "：")) \
                or _starts_after_a_weak_cue(names[0]) or names[0].rstrip(".") in OFFICES:
            return _after_offices(text, start, end)
    # no cue: a common given name and a surname ("Sure, Maria Lopez can help", "Heath Ledger
    # plays"); three words only with a given name in the middle (Sarah Jessica Parker, not
    # "Sue Ryder Care" or "George Washington Bridge")
    if 2 <= len(names) and _known(names[0], cueless_given_names()) \
            and (len(names) == 2 or _known(names[1], given_names())):
        return start, end
    return None


def _starts_after_a_weak_cue(word: str) -> bool:
    """Can `word` start a name after "to", "from" or "by"? A given name of the census list or of
    other countries' ("to Priya Raghunathan")."""
    return _known(word, weak_cue_given_names()) or _known(word, world_given_names())


def _before(text: str, start: int) -> tuple[str, str]:
    """The 32 characters before text[start], where a cue would be, and the last word among
    them, lower-cased ("name" of "Name: ", "hi" of "Hi, ")."""
    before = text[max(0, start - 32):start]
    last = before.rstrip(" \t\n,:：-–—").rsplit(None, 1)[-1:] or [""]
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
    return bool(previous) and (previous in PLACE_STARTS or _known(previous, weak_cue_given_names()))


def _after_offices(text: str, start: int, end: int) -> tuple[int, int]:
    """The name without the offices before it, when two or more words follow them: "District
    Attorney John Smith" and "Foreign Minister Wang Yi" are John Smith and Wang Yi, while
    "Senator Warren" stays whole (one word alone would not be found again)."""
    words = list(_NON_SPACE.finditer(text, start, end))
    last_office = max((i for i, word in enumerate(words) if word.group().rstrip(".") in OFFICE_WORDS), default=-1)
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
    return word.rstrip(".,") not in TITLES_EN and not _INITIAL.fullmatch(word)


def _may_start_a_cueless_name(text: str, start: int, end: int) -> bool:
    """Is the first name word of text[start:end] (after any titles and initials: Ann, of "Dr. J.
    Ann Lee") a common given name? Looked at without splitting the run, for most runs start
    with neither."""
    first = _WORD_AT.match(text, start)
    if first is None:
        return False
    if _known(first.group(), cueless_given_names()):
        return True
    if first.group() not in TITLES_EN and not (len(first.group()) == 1 and text.startswith(".", first.end())):
        return False
    return _known(next((word for word in text[start:end].split() if _is_name_word(word)), ""), cueless_given_names())


_TITLED = re.compile(rf"{_TITLE_WORD}[ \t]+[{_UPPER}]")
# (not book, show or play: "show Maria Lopez the door" is a person)
# the kind of thing a name names when it comes right after it: a brand, a franchise, a title
_THING_AFTER = re.compile(r"[ \t]+(?:brand|brands|franchise|series|star|stars|books|novels|films|movies|shoes|magazine"
                          r"|edition|whisky|whiskey|products)\b")


_INITIAL = re.compile(r"[A-Z]\.")


# A capitalised word after another word: after a space, tab or line break ("Thanks,\nPeter",
# "Name： Bob"), or glued to the comma or colon that ends a cue ("Hi,Ann", "Name:Bob"). Every
# way _name_from accepts a run needs one: a cue ends in a letter or one of those marks, and a
# run of two or more words has a letter and a space before its second. (A capital, then a
# lower-case letter or an apostrophe: O'Brien.)
_CAPITAL_PAIR = re.compile(rf"(?:[^\W\d_]|[,.!?:：;'])[ \t\n]+[{_UPPER}][{_LOWER}']|[,:：][{_UPPER}][{_LOWER}']")
_ASCII_CAPITAL_PAIR = re.compile(r"[A-Za-z,.!?:;'][ \t\n]+[A-Z][a-z']|[,:][A-Z][a-z']")  # the same, 2x faster
# what every _CAPITAL_PAIR holds: a scan from capital to capital, where _CAPITAL_PAIR tries each
# letter of a Chinese text (0.5 us, not 3.8, on Chinese texts of tests/pii_corpus.py)
_UPPER_LOWER = re.compile(f"[{_UPPER}][{_LOWER}']")


def warm_up() -> None:
    """Build the name tables now (the given-name sets here, jieba's in pii_names_zh.py): before
    forking workers, so they share one copy instead of each building its own in its first chunk
    (~0.2 s)."""
    pii_names_zh.warm_up()
    cueless_given_names()
    weak_cue_given_names()
    world_given_names()


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
