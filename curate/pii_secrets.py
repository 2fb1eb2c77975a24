"""Secrets in text: private keys, credentials in URLs, API keys and tokens, passwords.

Keys with a shape of their own (sk-, AKIA, ghp_, hf_, SG., a JWT...) are found anywhere; a token
of no known shape only after the name of one (`api_key: ...`, `GITHUB_TOKEN=...`, `Bearer ...`),
and a password only after the word for one (`password: ...`, `DB_PASSWORD=...`, 密码：...), where
a command line takes one (`mysql -pS3cr3t`, `--password=...`, `sshpass -p ...`, `htpasswd -b`),
or where code or a config holds one in a shape of its own: a (user, password) pair for an HTTP
client, a Go DSN's `user:password@tcp(...)`, a Kubernetes `name: DB_PASSWORD` / `value: ...`
pair (pii_secret_names.py judges the name), Docker's base64 `"auth"` (an API_KEY). A value
after a name must look like a secret, not like prose or code that mentions one: `password:
incorrect`, `password = input(...)`, `token: ./secrets/token.txt`, `api_key: gpt-4o-2024-08-06`
and `密码为6-16位字母和数字组合` stay.

secrets(text, types) returns (type, start, end) triples; pii_detect.py makes them spans.
"""

from __future__ import annotations

import base64
import binascii
import re

from curate.pii_secret_names import HIDDEN, kind_of_name, masked_or_flag

# ---------------------------------------------------------------- shapes of their own

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_BODY = re.compile(r"(?:\s*[A-Za-z0-9+/=]{8,})*")  # a key cut off before its END line
_PEM_MOST = 16384  # characters from BEGIN to END: a 4096-bit RSA key is about 3,300
# (a scheme starts no later than where its run of scheme characters does, and a DSN's user
# is no longer than a user name: either scanned from every character of a long run was quadratic)
_URL_CREDENTIALS = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://([^\s/?#@:]*:[^\s/?#@]+)@")
# Go's database/sql DSN has no scheme: user:password@tcp(host:3306)/db
_DSN_CREDENTIALS = re.compile(r"(?<![\w.:/@-])([^\s/?#@:\"'()]{1,64}:[^\s/?#@\"'()]{1,128})@(?:tcp6?|udp|unix)\(")
_API_KEY = re.compile(r"""(?<![A-Za-z0-9_-])(?:
      sk-(?:proj-|ant-|svcacct-|admin-)?(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{20,}
    | [sr]k_(?:live|test)_[A-Za-z0-9]{16,}
    | AKIA[0-9A-Z]{16}
    | gh[opsur]_[A-Za-z0-9]{30,}
    | github_pat_[A-Za-z0-9_]{30,}
    | xox[abposr]-[A-Za-z0-9-]{10,}
    | AIza[0-9A-Za-z_-]{35}
    | hf_[A-Za-z0-9]{30,}                   # Hugging Face
    | glpat-[A-Za-z0-9_-]{20,}              # GitLab
    | npm_[A-Za-z0-9]{36}
    | pypi-AgE[A-Za-z0-9_-]{50,}
    | SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}  # SendGrid
    | hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{24}  # a Slack webhook's path
    | eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}  # a JWT: header, claims, signature
    )(?![A-Za-z0-9_-])""", re.X)
# one is in every key _API_KEY finds
_KEY_HINTS = ("sk-", "AKIA", "_", "xox", "AIza", "glpat-", "pypi-", "eyJ", "SG.", "hooks.slack")
# a Telegram bot's token: its id, a colon, AA and 33 more (in a URL right after "bot")
_TELEGRAM = re.compile(r"(?:(?<=bot)|(?<![A-Za-z0-9_-]))\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])")
_WANDB = re.compile(r"\bwandb[ \t]+login(?:[ \t]+--?[a-z-]+)*[ \t]+([0-9a-f]{40})\b")  # a W&B key: 40 hex digits
# an AWS secret access key has no prefix of its own: 40 base64 characters, after a word saying so
_AWS_SECRET = re.compile(r"(?i:secret(?:[ _-]?access)?(?:[ _-]?key)?)[\"']?[ \t]*[:=]?[ \t]*[\"']?"
                         r"(?-i:((?=[A-Za-z0-9/+]{0,39}[0-9/+])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
                         r"[A-Za-z0-9/+]{40}))(?![A-Za-z0-9/+=])")

# ---------------------------------------------------------------- after a name

# A name starts a word, follows the _ of a variable's name (DB_PASSWORD, OPENAI_API_KEY) or is
# the capitalised end of a camelCase one (postgresPassword, jwtSecret); one more part may
# follow it (password_confirmation, api_key_v2), and the quote and bracket of a key
# (os.environ["DB_PASSWORD"] = ...). No run of name characters is scanned back over: that
# made long runs of them quadratic.
_BEFORE_NAME = r"(?:(?<![A-Za-z0-9_])|(?<=_)|(?<=[a-z0-9])(?=[A-Z][a-z]))"
_AFTER_NAME = r"(?:_[A-Za-z0-9]+)?[\"']?\]?"
_ASSIGNED = r"[ \t]*(?::=|[:=：]|=>)[ \t]*[\"'“]?"  # := is Go's
# a token: 16 or more characters, letters and digits both (a word of prose has no digit)
_TOKEN_VALUE = (r"((?=[A-Za-z0-9_\-.~+/]{0,255}\d)(?=[A-Za-z0-9_\-.~+/]{0,255}[A-Za-z])[A-Za-z0-9_\-.~+/]{16,}=*)"
                r"(?![A-Za-z0-9_\-.~+/=])")
# (Azure's AccountKey, and .npmrc's _auth and _authToken, among them)
_TOKEN_NAMES = (r"(?i:api[_ -]?key|apikey|(?:access|auth|refresh|private|session|bearer)[_ -]?token|token|"
                r"secret[_ -]?key|client[_ -]?secret|secret|account[_ -]?key|shared[_ -]?access[_ -]?key|_auth(?:token)?)")
_BEARER = re.compile(r"(?i:\b(?:bearer|basic)|authorization[\"']?[ \t]*[:=][ \t]*[\"']?token)[ \t]+"
                     + _TOKEN_VALUE)  # an Authorization header's credentials
_TOKEN_AFTER_NAME = re.compile(_BEFORE_NAME + _TOKEN_NAMES + _AFTER_NAME + "(?:" + _ASSIGNED + r"|[ \t]+is[ \t]+)"
                               + _TOKEN_VALUE
                               + r"|(?:密钥|秘钥|令牌)[ \t]*(?:[:=：]|[是为][ \t]*[:：]?)?[ \t]*[\"'“]?" + _TOKEN_VALUE)
# in quotes, a token may hold any sign: SECRET_KEY = 'django-insecure-8h#2k!x9@qz$w7e3r5t1y0u'
_QUOTED_TOKEN_AFTER_NAME = re.compile(_BEFORE_NAME + _TOKEN_NAMES + _AFTER_NAME + r"[ \t]*(?::=|[:=]|=>)[ \t]*"
                                      r"([\"'])((?=[^\"'\s]{0,127}\d)[^\"'\s]{12,128})\1")

# without quotes a secret may hold signs too, after a name: SECRET=Xy7#pQ2! (not past a URL
# query's &, nor an equation: secret: a^2+b^2=c^2)
_SIGNED_TOKEN_AFTER_NAME = re.compile(_BEFORE_NAME + _TOKEN_NAMES + _AFTER_NAME + _ASSIGNED + r"([^\s\"'`,;&]{8,64})")
_SIGN = re.compile(r"[!#$%*@^~?]")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# PASS as a variable's name or its last part (DB_PASS, ansible_ssh_pass): never the word "pass"
_PASS = r"(?<=_)(?i:pass)|(?<![A-Za-z0-9_])PASS"
_PASSWORD_VALUE = r"([^\s\"'”，。；;,<>\u3000-\u9fff\uff01-\uff0f\uff1a-\uff20]{4,64})"  # ends where Chinese text resumes
_PASSWORD_AFTER_NAME = re.compile(
    _BEFORE_NAME + r"(?:(?i:(?:pg)?password|passwd|pwd|passcode|passphrase)|" + _PASS + r")(?![A-Za-z])" + _AFTER_NAME
    + r"(?:" + _ASSIGNED + r"|[ \t]+(?i:(is|to))([ \t]*:)?[ \t]+[\"'“]?)" + _PASSWORD_VALUE
    # a Chinese word needs no boundary (WiFi密码), nor a mark after it (用户名admin密码admin123)
    + r"|(?:密码|密碼|口令)[ \t]*(?:[:=：]|[是为][ \t]*[:：]?)?[ \t]*[\"'“]?" + _PASSWORD_VALUE)
# a command line's password: mysql's -pSECRET after its other options, --password=SECRET,
# sshpass -p SECRET, redis-cli -a SECRET (a bounded run of options: no scan to the line's end)
_OPTIONS = r"(?:[ \t]+-{1,2}[A-Za-oq-z][^\s]*(?:[ \t]+[^\s-][^\s]*)?){0,12}"
# in quotes after the name, all of it, spaces too: password="p@ss word"; and SQL's forms
# (a comma after the name's closing quote: os.environ.setdefault("DB_PASSWORD", "..."))
_QUOTED_PASSWORD = re.compile(_BEFORE_NAME + r"(?:(?i:(?:pg)?password|passwd|pwd)|" + _PASS + ")" + _AFTER_NAME
                              + r"(?:[ \t]*(?::=|[:=]|=>)[ \t]*|[ \t]+|(?<=[\"'])[ \t]*,[ \t]*)"
                              r"([\"'])([^\"'\n]{4,64})\1"
                              r"|(?i:\bidentified[ \t]+by|\bwith[ \t]+(?:encrypted[ \t]+)?password)[ \t]+'([^'\n]{3,64})'")
_PASSWORD_ON_A_COMMAND_LINE = re.compile(
    r"\bmysql(?:dump|admin)?" + _OPTIONS + r"[ \t]+-p(?:\"([^\"\n]{3,64})\"|'([^'\n]{3,64})'|([^\s\-\"'][^\s\"']{2,63}))"
    r"|(?<![\w-])--requirepass[ \t]+[\"']?([^\s\-\"'][^\s\"']{2,63})"  # redis-server
    r"|\bmongo(?:sh)?\b(?:[ \t]+[^\s-]\S*)?" + _OPTIONS + r"[ \t]+(?:-p|--password)[ \t]+[\"']?([^\s\-\"'][^\s\"']{2,63})"
    r"|\bsqlcmd\b" + _OPTIONS.replace("A-Za-oq-z", "A-OQ-Za-z") + r"[ \t]+-P[ \t]+[\"']?([^\s\-\"'][^\s\"']{2,63})"
    r"|\bldap[a-z]+\b" + _OPTIONS.replace("A-Za-oq-z", "A-Za-vx-z") + r"[ \t]+-w[ \t]+[\"']?([^\s\-\"'][^\s\"']{2,63})"
    r"|(?<![\w-])-pass(?:in|out)?[ \t]+[\"']?pass:([^\s\"']{3,64})"  # openssl
    r"|(?<![\w-])--password=[\"']?([^\s\-\"'<][^\s\"']{2,63})"
    r"|\bsshpass[ \t]+-p[ \t]*[\"']?([^\s\"']{3,64})"
    r"|\bredis-cli" + _OPTIONS.replace("A-Za-oq-z", "A-Zb-z") + r"[ \t]+-a[ \t]+[\"']?([^\s\"']{3,64})"
    r"|\bcurl\b" + _OPTIONS.replace("A-Za-oq-z", "A-Za-tv-z") + r"[ \t]+(?:-u|--user)[ \t]+[\"']?[^\s:\"']+:([^\s\"']{3,64})"
    r"|\bdocker[ \t]+login" + _OPTIONS.replace("A-Za-oq-z", "A-Za-oq-z") + r"[ \t]+(?:-p|--password)[ \t]+[\"']?([^\s\"']{3,64})")
# htpasswd -b FILE USER PASSWORD, or -nb USER PASSWORD (no file): the options are read in code
_HTPASSWD = re.compile(r"\bhtpasswd((?:[ \t]+-[A-Za-z]+)+)[ \t]+([^\s-]\S*)[ \t]+[\"']?([^\s\"']+)[\"']?"
                       r"(?:[ \t]+[\"']?([^\s\"']{3,64}))?")
# a client's (user, password): requests' auth=("ann", "pw"), HTTPBasicAuth('ann', 'pw'),
# smtplib's and ftplib's login("ann", "pw"), pika's PlainCredentials('ann', 'pw')
_AUTH_PAIR = re.compile(r"(?:\bauth[ \t]*=[ \t]*\(|\b(?:HTTPBasicAuth|HTTPDigestAuth|BasicAuth|PlainCredentials|login)\()[ \t]*"
                        r"([\"'])[^\"'\n]*\1[ \t]*,[ \t]*([\"'])([^\"'\n]{3,64})\2")

# ---------------------------------------------------------------- in a config's structure

# a Kubernetes or Compose environment: a variable's name that says secret, then its value
# (- name: DB_PASSWORD / value: "..."; {"name": "API_TOKEN", "value": "..."}); not valueFrom
# (any name, bounded, and judged by kind_of_name: a pattern for the names a secret's word could
# end, repeated, was quadratic in a name made of that word again and again)
_NAMED_VALUE = re.compile(r"\bname[\"']?[ \t]*:[ \t]*[\"']?([A-Za-z0-9_.-]{1,64})[\"']?[ \t]*(?:,[ \t]*|\r?\n[ \t]*)"
                          r"[\"']?value[\"']?[ \t]*:[ \t]*(?:([\"'])([^\"'\n]{1,256})\2|([^\s\"',}\]]{1,256}))", re.I)
# Docker's config.json: "auth" is base64 of user:password
_DOCKER_AUTH = re.compile(r"\"auth\"[ \t]*:[ \t]*\"([A-Za-z0-9+/]{8,}={0,2})\"")

# what no value after a name is: letters (and _) alone, prose or a variable's name
_PLAIN_WORD = re.compile(r"[^\W\d]+")
_WORDS = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)+")  # see-above, well-known
_WORDS_WITH_DIGITS = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")  # case-sensitive, SHA-256, 2FA-protected
# code or a template, where the value is an expression: input("..."), os.environ["X"],
# self.password, $PASS, ${{ secrets.X }}, :password (SQL), !vault, 'required|string|min:8'
_CODE = re.compile(r"[=(\[{$%@:!|]|.*[()\[\]{}|]|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
# where a value is yet to be filled in: <password>, YOUR_API_KEY, YOUR_TOKEN_HERE_123, sk-..., changeme
_PLACEHOLDER = re.compile(r"<[^<>]*>|(?i:your[_ -]?\w*|\w*_here(?:_\w*)?|changeme|xxx+)|.*(?:\.\.\.|…)")
# the words docs put where credentials go: postgres://user:password@host, USER:PASSWORD
_CREDENTIAL_WORDS = frozenset("password pass passwd pwd secret pswd".split())
_RULE = re.compile(r"\d+[-~～]\d+.*|.*[\u3000-\u9fff\uff00-\uffef].*")  # 8-16; 6~20位, 至少8位: a rule, not a value
# a path or a name of a thing after `token:` or `api_key:`: ./secrets/token.txt, meta-llama/Llama-2-7b-hf,
# model.layers.0.q_proj, the_quick_brown_fox_2, gpt-4o-2024-08-06 (base64 keeps // and +, and ends in =)
_PATH = re.compile(r"(?:\.{0,2}/|~/)\S*|[\w.-]+(?:/[\w.-]+)+")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.\w+)+")
_SNAKE_OR_SLUG = re.compile(r"[a-z]+(?:[_-][a-z0-9.]+)+")
_LETTER_RUN = re.compile(r"[a-z]{3,}")


def secrets(text: str, types: frozenset[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) of every secret of the wanted types in `text`."""
    found: list[tuple[str, int, int]] = []
    if "PRIVATE_KEY" in types and "PRIVATE KEY-----" in text:
        found += _private_keys(text)
    if "URL_CREDENTIALS" in types and "://" in text:
        found += [("URL_CREDENTIALS", *m.span(1)) for m in _URL_CREDENTIALS.finditer(text) if _credentials(m.group(1))]
    if "URL_CREDENTIALS" in types and "@" in text and "(" in text:
        found += [("URL_CREDENTIALS", *m.span(1)) for m in _DSN_CREDENTIALS.finditer(text) if _credentials(m.group(1))]
    if "API_KEY" in types or "PASSWORD" in types:
        lowered = text.lower()  # once, for every gate
        if "API_KEY" in types:
            found += _api_keys(text, lowered)
        if "PASSWORD" in types:
            found += _passwords(text, lowered)
        if "value" in lowered and "name" in lowered:
            found += [value for value in _named_values(text) if value[0] in types]
    return found


def _credentials(pair: str) -> bool:
    """Is a URL's or a DSN's user:password given, not a template's or the docs' (${DB_PASS},
    {password}, %s, <password>, user:password)?"""
    password = pair.partition(":")[2]
    return not (_CODE.match(password) or _PLACEHOLDER.fullmatch(password) or password.lower() in _CREDENTIAL_WORDS)


def _named_values(text: str) -> list[tuple[str, int, int]]:
    """The values of environment variables whose names say secret (kind_of_name): a structure,
    not prose, so any value is one (changeme, 123456) but a flag, a mask, a placeholder, a
    reference ($(DB_PASS)), a path or an address."""
    found = []
    for match in _NAMED_VALUE.finditer(text):
        kind = kind_of_name(match.group(1))
        group = 3 if match.group(3) is not None else 4
        value = match.group(group)
        if kind is not None and not (masked_or_flag(value) or _CODE.match(value)
                                     or _PLACEHOLDER.fullmatch(value) or _PATH.fullmatch(value) or "://" in value):
            found.append((kind, *match.span(group)))
    return found


def _private_keys(text: str) -> list[tuple[str, int, int]]:
    """PEM private keys, from BEGIN to END, or to the end of the base64 lines after BEGIN where
    END is missing. Each END is looked for only so far: a text of many BEGIN lines and no END
    took seconds when every BEGIN searched the rest of it."""
    found: list[tuple[str, int, int]] = []
    for begin in _PEM_BEGIN.finditer(text):
        if found and begin.start() < found[-1][2]:
            continue  # inside the key before
        end = _PEM_END.search(text, begin.end(), begin.end() + _PEM_MOST)
        stop = end.end() if end is not None else _PEM_BODY.match(text, begin.end()).end()  # type: ignore[union-attr]
        found.append(("PRIVATE_KEY", begin.start(), stop))
    return found


def _api_keys(text: str, lowered: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    if any(hint in text for hint in _KEY_HINTS):
        found += [("API_KEY", *m.span()) for m in _API_KEY.finditer(text)]
    if ":AA" in text:
        found += [("API_KEY", *m.span()) for m in _TELEGRAM.finditer(text)]
    if "wandb" in lowered:
        found += [("API_KEY", *m.span(1)) for m in _WANDB.finditer(text)]
    if "ecret" in text or "ECRET" in text:
        found += [("API_KEY", *m.span(1)) for m in _AWS_SECRET.finditer(text)]
    if "bearer" in lowered or "basic" in lowered or "authorization" in lowered:
        found += [("API_KEY", *m.span(1)) for m in _BEARER.finditer(text)]
    if ("key" in lowered or "token" in lowered or "secret" in lowered or "_auth" in lowered or "密钥" in text
            or "秘钥" in text or "令牌" in text) and ("=" in text or ":" in text
                                                                            or "：" in text or " is " in text):
        found += [("API_KEY", *m.span(m.lastindex or 0)) for m in _TOKEN_AFTER_NAME.finditer(text)
                  if _a_token(m.group(m.lastindex or 0))]  # the English or the Chinese name's value
        found += [("API_KEY", *m.span(2)) for m in _QUOTED_TOKEN_AFTER_NAME.finditer(text)
                  if _a_token(m.group(2)) and not _CODE.match(m.group(2))]
        found += [("API_KEY", *_without_stop(text, *m.span(1))) for m in _SIGNED_TOKEN_AFTER_NAME.finditer(text)
                  if _a_signed_token(m.group(1))]
    if '"auth"' in text:
        found += [("API_KEY", *m.span(1)) for m in _DOCKER_AUTH.finditer(text) if _user_and_password(m.group(1))]
    return found


def _a_signed_token(value: str) -> bool:
    """A value with a letter, a digit and a sign (Xy7#pQ2!), not code, an equation, an
    address, a path, a heading's number (#1-priority) or a placeholder."""
    return bool(_SIGN.search(value) and _DIGIT.search(value) and _LETTER.search(value)) and not (
        _CODE.match(value) or "=" in value.rstrip("=") or value.startswith("#") or _EMAIL_SHAPE.fullmatch(value)
        or "://" in value or _PATH.fullmatch(value) or _PLACEHOLDER.fullmatch(value))


_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")


def _user_and_password(encoded: str) -> bool:
    """Is this base64 of "user:password", as Docker stores a registry's login?"""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, colon, password = decoded.partition(":")
    return bool(user and colon and password) and decoded.isprintable()


def _a_token(value: str) -> bool:
    """Does a value after `token:` or `api_key=` look like a token, not a path, an address, a
    name or a placeholder?"""
    if "://" in value or _PLACEHOLDER.fullmatch(value):
        return False  # token_url = "https://oauth2.googleapis.com/token"; YOUR_TOKEN_HERE_123
    if "//" in value or "+" in value or value.endswith("="):
        return True  # base64: AWS session tokens are full of //
    if _PATH.fullmatch(value) or _DOTTED_NAME.fullmatch(value):
        return False
    # a slug with a word in it (gpt, llama: three letters, not all of them hex digits) names a
    # thing; one of hex groups (a UUID: 9f8e7d6c-...) is a secret
    words = _LETTER_RUN.findall(value) if _SNAKE_OR_SLUG.fullmatch(value) else []
    return not any(set(word) - set("abcdef") for word in words)


def _passwords(text: str, lowered: str) -> list[tuple[str, int, int]]:
    if not ("pass" in lowered or "pwd" in lowered or "密码" in text or "密碼" in text or "口令" in text
            or "-p" in text or "-a " in text or "-P" in text or "-w" in text or "identified" in lowered
            or "curl" in lowered or "auth" in lowered or "login" in lowered or "credentials" in lowered):
        return []
    found = []
    for match in _PASSWORD_AFTER_NAME.finditer(text):
        group = 3 if match.group(3) is not None else 4
        start, end = _without_stop(text, *match.span(group))
        # "password is case-sensitive" is prose; "password is: kitten-Paw-77" gives one
        if _a_password(text[start:end], prose=match.group(1) is not None and match.group(2) is None):
            found.append(("PASSWORD", start, end))
    for match in _QUOTED_PASSWORD.finditer(text):
        group = 2 if match.group(2) is not None else 3
        value = match.group(group)
        if _APP_PASSWORD.fullmatch(value) or not (_no_secret(value) or " " in value.strip() and _a_sentence(value)):
            found.append(("PASSWORD", *match.span(group)))
    for match in _PASSWORD_ON_A_COMMAND_LINE.finditer(text):
        group = match.lastindex or 0
        if not _CODE.match(match.group(group)):  # -p$PASS, --password="${DB_PASS}": a variable
            found.append(("PASSWORD", *match.span(group)))
    if "htpasswd" in lowered:
        for match in _HTPASSWD.finditer(text):
            options = match.group(1)
            group = 3 if "n" in options else 4  # -n prints the line: no file before the user
            if "b" in options and match.group(group) and not _no_secret(match.group(group)):
                found.append(("PASSWORD", *match.span(group)))
    if "auth" in lowered or "login" in lowered or "credentials" in lowered:
        found += [("PASSWORD", *m.span(3)) for m in _AUTH_PAIR.finditer(text) if not _no_secret(m.group(3))]
    if "machine" in lowered:
        found += [("PASSWORD", *m.span(1)) for m in _NETRC.finditer(text) if not HIDDEN.fullmatch(m.group(1))]
    return found


# a .netrc entry: machine HOST login USER password PASSWORD
_NETRC = re.compile(r"\bmachine[ \t]+\S+\s+login[ \t]+\S+\s+password[ \t]+(\S{3,64})")

# Google's app passwords: four groups of four letters, which read as words in quotes
_APP_PASSWORD = re.compile(r"[a-z]{4}(?: [a-z]{4}){3}")


def _without_stop(text: str, start: int, end: int) -> tuple[int, int]:
    """A value's span without the sentence's end after it (a full stop, a bracket), unless the
    value is in quotes: then all of it is the secret."""
    if text[end:end + 1] not in ("\"", "'", "”"):
        while end > start and text[end - 1] in ".?)）":
            end -= 1
    return start, end


def _a_sentence(value: str) -> bool:
    """Words of prose in quotes ("Enter your password"), not a password with a space in it."""
    return all(_PLAIN_WORD.fullmatch(word) for word in value.split())


def _a_password(value: str, prose: bool = False) -> bool:
    """Does a value after `password:` look like a password: a digit or a sign in it, and not
    prose, code, a mask or a rule for passwords? After "password is" (`prose`), a word joined
    by hyphens is prose too (case-sensitive, SHA-256, auto-generated); after `password:` only
    one of letters alone (see-above, well-known)."""
    compound = _WORDS_WITH_DIGITS if prose else _WORDS
    return len(value) >= 4 and not (_no_secret(value) or compound.fullmatch(value.rstrip(":"))
                                    or value.startswith(("/", "~/", "./")) or ":/" in value)  # pwd: /home/ann


def _no_secret(value: str) -> bool:
    """A value after a password's name that is none: prose, a mask, code, a rule or a placeholder."""
    return bool(_PLAIN_WORD.fullmatch(value) or HIDDEN.fullmatch(value) or _CODE.match(value)
                or _RULE.fullmatch(value) or _PLACEHOLDER.fullmatch(value))
