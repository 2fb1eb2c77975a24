"""Email addresses in text: plain ones (bob@example.com) and ones spelled out against scrapers
(jane [at] example [dot] org, bob at example dot com). Offsets only; pii_detect.py makes them
spans and resolves overlaps with the other types."""

from __future__ import annotations

import re

from curate.text import STOP_WORDS, any_of

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")

# An address spelled out to keep it from scrapers: "jane [at] example [dot] org", "bob at
# example dot com". A bracketed at may stand beside real dots, and the address must end in a
# common top-level domain or a country's; a bare " at " only counts with a spelled dot before a
# common top-level domain, and only after a word for mail or with a local part no word has
# (a dot, a digit, an underscore): "I work at google dot com" and "sign up at example.com" stay
# prose. A real @ with a spelled dot (alice@example [dot] com) needs no more; one with a blank
# before it (alice @ example.com, alice @ example dot com) a word for mail first, and a mailbox
# that is no function word ("Contact us @home dot com", "x = a @ b dot com" stay). An @ in
# brackets is an at in brackets, in square or round ones (in braces, code: $arr{@}list). Every pattern
# starts at a bracket, an @ or "at", never at a run of blanks, which a scan would otherwise
# re-read from each of its positions (quadratic on a long blank run).
_SPELLED_EMAIL_MARKERS = any_of(" dot ", " Dot ", " DOT ", "at]", "at)", "at}", "At]", "At)", "At}", "AT]", "AT)", "AT}",
                                "t ]", "t )", "t）", "T）", "dot]", "dot)", "@]", "@)", "@）", "@ ]", "@ )", " @")
_OPEN, _CLOSE = r"[\[({（]", r"[\])}）]"
_DOT = rf"(?:[ \t]*{_OPEN}[ \t]*dot[ \t]*{_CLOSE}[ \t]*|[ \t]+dot[ \t]+)"
_TLD = r"(?:com|org|net|edu|gov|info|biz|io|co|me|ai|app|dev|cn|uk|de|fr|jp|ru|in|au|ca|us|nl|es|it|br|kr)"
_SPELLED_AT = re.compile(rf"""(?ix)
    (?P<bracketed> (?:{_OPEN}[ \t]*at[ \t]*{_CLOSE}|[\[(（][ \t]*@[ \t]*[\])）])[ \t]* [A-Za-z0-9-]+ (?:(?:{_DOT}|\.)[A-Za-z0-9-]+)*
                   (?:{_DOT}|\.)(?:{_TLD}|[A-Za-z]{{2}}) (?:\.[A-Za-z]{{2}})? (?![A-Za-z0-9-]) )
  | (?P<real_at> @[ \t]* (?P<domain>[A-Za-z][A-Za-z0-9-]*) (?:(?:{_DOT}|\.)[A-Za-z0-9-]+)* (?:{_DOT}|\.){_TLD}
                 (?:\.[A-Za-z]{{2}})? (?![A-Za-z0-9-]) )
  | (?<=[ \t]) at[ \t]+ [A-Za-z0-9-]+ (?:(?:{_DOT}|\.)[A-Za-z0-9-]+)* {_DOT}{_TLD} (?:\.[A-Za-z]{{2}})?
    (?![A-Za-z0-9-])""")
_LOCAL_PART = re.compile(rf"(?i)(?<![A-Za-z0-9._%+-])[A-Za-z0-9_%+-]+(?:(?:{_DOT}|\.)[A-Za-z0-9_%+-]+)*[ \t]*$")
_MAIL_CUE = re.compile(r"(?i)e-?mail|\bmail|contact|write|reach|send|address|邮箱|邮件|联系")
_NO_WORD = re.compile(rf"(?i)[._0-9]|{_DOT}")  # in a local part: no word of prose has it
_MAIL_HOSTS = frozenset("gmail googlemail outlook hotmail live msn yahoo icloud me aol proton protonmail gmx mail "
                        "qq 163 126 sina sohu foxmail yeah".split())  # Bob@Gmail dot com is no brand
_NOT_A_MAILBOX = STOP_WORDS | {"us"}  # the word before a spaced @ or at in "find us @ github dot com"
_AT = re.compile(rf"(?i)[ \t]*{_OPEN}[ \t]*(?:at|@)[ \t]*{_CLOSE}[ \t]*|[ \t]+at[ \t]+|[ \t]+@[ \t]*")


def email_key(value: str) -> str:
    """The address itself, so `bob at example dot com` and bob@example.com are one."""
    value = value.lower()
    if "@" not in value or _AT.search(value):  # [at], (@), " @ " are all @
        value = _AT.sub("@", value, count=1)
    return re.sub(_DOT, ".", value)  # alice@example [dot] com too


_SPELLED_HEAD = re.compile(rf"(?i)(?<![A-Za-z0-9._%+-])[A-Za-z0-9_%+-]+(?:(?:{_DOT}|\.)[A-Za-z0-9_%+-]+)*{_DOT}$")


def _with_spelled_head(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """An address whose local part starts spelled out (alice dot smith@example.com), whole: the
    pattern for plain addresses takes it from smith, which left "alice dot" in the text."""
    head = _SPELLED_HEAD.search(text, max(0, span[0] - 64), span[0])
    if head is None or head.group().split(None, 1)[0].strip("[({（").lower() in STOP_WORDS:
        return span  # "connect the dot smith@example.com": the address starts at smith
    return head.start(), span[1]


def spelled_emails(text: str) -> list[tuple[int, int]]:
    """Addresses written with at and dot spelled out (see _SPELLED_AT), local part included."""
    spans = []
    for match in _SPELLED_AT.finditer(text):
        local = _LOCAL_PART.search(text, max(0, match.start() - 64), match.start())
        if local is None:
            continue
        spaced = text[match.start() - 1].isspace()  # "us @home", "us at home": is "us" a mailbox?
        if spaced and not match.group("bracketed") and local.group().strip().lower() in _NOT_A_MAILBOX:
            continue
        if match.group("real_at"):
            # not "see @home dot com" (a mention) nor "Pets@Home dot com" (a brand, where the
            # domain is a capitalised word), unless a word for mail comes first
            domain = match.group("domain")
            brand = domain[0].isupper() and domain.lower() not in _MAIL_HOSTS and not _NO_WORD.search(local.group())
            # a blank before the @ ("alice @ example dot com") makes a mention unless a word
            # for mail comes first, as it must for a brand
            cue = _MAIL_CUE.search(text, max(0, local.start() - 40), local.start()) is not None
            if cue or not (spaced or brand):
                spans.append((local.start(), match.end()))
        elif match.group("bracketed") or _NO_WORD.search(local.group().rstrip()) or \
                _MAIL_CUE.search(text, max(0, local.start() - 40), local.start()):
            spans.append((local.start(), match.end()))
    return spans


def emails(text: str) -> list[tuple[int, int]]:
    """(start, end) of every address, plain or spelled out (they may overlap)."""
    found: list[tuple[int, int]] = []
    if "@" in text:
        # git@github.com:team/repo.git is a repository's address, the same for everyone
        found = [m.span() for m in _EMAIL.finditer(text)
                 if not (m.group().startswith("git@") and text.startswith(":", m.end()))]
    if _SPELLED_EMAIL_MARKERS.search(text) or "@" in text and (
            "dot" in text or "Dot" in text or "DOT" in text):  # alice@example [dot] com
        found = [_with_spelled_head(text, span) for span in found] + spelled_emails(text)
    return found
