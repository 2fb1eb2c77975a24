"""Writes curate/data/world_given_names.txt: given names of other countries than the census
list covers, for `curate pii` to accept after "to", "from" and "by" ("assigned to Priya
Raghunathan", "from Kwame Mensah", "by Björn Lindqvist").

Source: Faker's person providers (MIT licence), every locale but en_US (the census list is
American) and zh_CN/zh_TW (bench/pii.py builds its corpus from Faker en_US and zh_CN, and
names from the same lists would grade the detector on its own data). Kept: names in Latin
letters (accents allowed) that the census list lacks, less those that are also something
else where they would follow "to", "from" or "by":
- an English word: written in lower case two or more times in the T0 prompts (Line, Peace, Mad);
- a surname in any of Faker's locales (Smith, Kennedy: "by Smith Barney");
- a word of a place name in Faker's address providers (countries, states, cities);
- one of REVIEWED: the most frequent capitalised words of the T0 prompts left after those
  rules, read one by one (Atlanta, Phoenix, Nazi, Danish).

Run as:  python curate/data/build_world_given_names.py [T0 prompts file]   (needs Faker)
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = HERE.parent.parent.parent / "shared" / "data" / "t0_prompts.jsonl"
SKIPPED_LOCALES = {"en", "en_US", "zh_CN", "zh_TW"}
REVIEWED = set("Atlanta Nazi Danish Phoenix Brooklyn Manila Baptist Goma Apollo Aston Lavender Maj Pak Baba Maman "
               "Sep Nil Mart Gaiman Halla Diar Cato Saban Oke Ale Wani Kanda Davi".split())
_NAME = re.compile(r"[A-ZÀ-ÖØ-Þ\u0100-\u024f\u1e00-\u1eff][a-zß-öø-ÿ\u0100-\u024f\u1e00-\u1eff'-]+")


def _folded(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _lists(module: str, wanted) -> set[str]:
    """Every string in the Provider's class-level lists (or dict keys) whose attribute name `wanted` accepts."""
    provider = importlib.import_module(module).Provider
    found: set[str] = set()
    for base in provider.__mro__:
        for attribute, value in vars(base).items():
            if wanted(attribute) and isinstance(value, (list, tuple, dict)):
                for item in value:
                    parts = item if isinstance(item, tuple) else (item,)
                    found.update(part for part in parts if isinstance(part, str))
    return found


def _locales(kind: str) -> list[str]:
    import faker

    folder = Path(faker.__file__).parent / "providers" / kind
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))


def main() -> None:
    sys.path.insert(0, str(HERE.parent.parent))
    from curate.pii_name_words import given_names

    census = given_names()
    t0 = Path(sys.argv[1]) if len(sys.argv) > 1 else T0
    lower_case: Counter[str] = Counter()
    for line in t0.open(encoding="utf-8"):
        record = json.loads(line)
        text = " ".join(str(record.get(field) or "") for field in ("instruction", "input", "output"))
        lower_case.update(word for word in re.findall(r"[^\W\d_]+", text) if word.islower())
    names: set[str] = set()
    surnames: set[str] = set()
    for locale in _locales("person"):
        module = f"faker.providers.person.{locale}"
        surnames |= _lists(module, lambda attribute: attribute.startswith("last_"))
        if locale not in SKIPPED_LOCALES:
            names |= {n for n in _lists(module, lambda attribute: attribute.startswith("first_")) if _NAME.fullmatch(n)}
    places: set[str] = set()
    for locale in _locales("address"):
        words = _lists(f"faker.providers.address.{locale}", lambda attribute: any(
            part in attribute for part in ("countr", "state", "cit", "province", "region", "town", "district")))
        places |= {word for phrase in words for word in phrase.split()}

    def something_else(name: str) -> bool:
        forms = {name, _folded(name)}
        return (any(lower_case[form.lower()] >= 2 for form in forms) or bool(forms & surnames)
                or bool(forms & places) or name in REVIEWED)

    kept = sorted(n for n in names if n not in census and _folded(n) not in census and not something_else(n))
    header = (__doc__ or "").split("\n\n")[0].replace("Writes curate/data/world_given_names.txt: g", "G")
    out = HERE / "world_given_names.txt"
    out.write_text("".join(f"# {line}\n" for line in header.splitlines())
                   + "# Made by curate/data/build_world_given_names.py, which says how they were chosen.\n"
                   + "".join(f"{name}\n" for name in kept), encoding="utf-8")
    print(f"{out}: {len(kept):,} names")


if __name__ == "__main__":
    main()
