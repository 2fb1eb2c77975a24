"""`curate pii`: find personal data and secrets in every text field and replace them.

Detection lives in `pii_detect.py`; this module decides what a found span becomes and
applies it to whole records. Counts go to `meta.pii` (e.g. {"EMAIL": 2, "PERSON": 1}) on
records where something was found; a record with nothing found passes through unchanged
(no `pii` key is added). A record keeps its id, unless that id was made from its content (the
input had none): a hash of the text would let anyone who guesses the rest of it test candidate
values, so a scrubbed record gets the id made from its scrubbed content. The report uses the
output's ids (where an id was made from the content, the input's differs) and offsets into
the input's texts; its lines are in input order, one per record where something was found,
each with `record`, the record's place in the input from 1 (ids can repeat).
No found value is ever written anywhere: not to the report, meta, logs or errors.

Memory: 2 x workers chunks in flight of a JSON Lines file (4 MB byte ranges), up to 4 x workers
of any other input (CHUNK records each); output, rejects and report stream.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import unicodedata
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from curate.io import ensure_distinct, sink_format
from curate.errors import RecordError
from curate.executors import ExecutorOptions
from curate.pii_detect import TYPES, Span, detect, load_spacy, phone_key, warm_up, with_names
from curate.pii_emails import email_key
from curate.pii_fields import EXTRA, rebuild, secret_kinds, text_fields, with_texts
from curate.pii_name_words import SUFFIXES, TITLES_EN
from curate.pii_secret_names import secret_value
from curate.records import Record
from curate.runner import Noted, Reject, run_map
from curate.summary import Summary

__all__ = ["TYPES", "Found", "PiiConfig", "PiiScrubber", "Span", "find_pii", "scrub", "scrub_records"]

# Records per task sent to a worker process. Each chunk passes through the pool's threads here,
# which wait for the GIL: bench/pii.py ran 10-17% faster with 512 than with 256 (the mean of 4
# interleaved runs each), and no faster with 1024 or 2048, whose last chunk leaves a worker idle longer.
CHUNK = 512


class PiiConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    mode: Literal["placeholder", "numbered", "mask", "hash"] = Field(
        "placeholder", description="placeholder: `<EMAIL>`; numbered: `<PERSON_1>`, the same number wherever the same "
        "value recurs in a record; mask: '*' of the same length; hash: `<EMAIL:3f2a9c1b>` from a salted SHA-256, "
        "equal for equal values across the whole file.")
    # a secret: left out of --summary-json and the report (run_manifest.public_settings skips SecretStr)
    salt: SecretStr | None = Field(None, validate_default=True, description="Secret salt for --mode hash (required "
                                   "there): without it, hashes of phone numbers could be reversed by trying them "
                                   "all. Never written to summaries or reports.")
    types: list[str] | None = Field(None, description="Comma-separated types to find (default: all): "
                                    + ", ".join(TYPES) + ".")
    names: bool = Field(True, description="Find person names (English and Chinese cues, jieba's name tags); "
                        "turn off to keep names, or for speed.")
    spacy_model: str | None = Field(None, description="Also find names with this installed spaCy NER model "
                                    "(e.g. en_core_web_sm); slow, off by default.")
    workers: int = Field(2, ge=1, description="Processes to scrub in; output order is kept.")
    fields: Literal["text", "all"] = Field("text", description="text: every text of the conversation (system, "
                                           "history, instruction, input, output, responses); all: also user_id and "
                                           "every string in meta.extra (columns kept from a foreign file), inside "
                                           "nested objects and lists too; a "
                                           "user_id holding PII then needs --mode hash, which keeps users apart.")
    drop: list[str] | None = Field(None, description="Comma-separated types that remove the whole record instead "
                                   "of being replaced (e.g. `PRIVATE_KEY,API_KEY,PASSWORD`): such records go, "
                                   "scrubbed, to "
                                   "--rejects with reason pii:TYPE.")

    @field_validator("types", "drop", mode="before")
    @classmethod
    def _split_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            value = [str(item).strip().upper().replace("-", "_") for item in value if str(item).strip()]
            unknown = [item for item in value if item not in TYPES]
            if unknown:
                raise ValueError(f"unknown type {', '.join(unknown)}; choose from {', '.join(TYPES)}")
            if not value:
                raise ValueError(f"give at least one of {', '.join(TYPES)}")
        return value

    @field_validator("salt")
    @classmethod
    def _hash_needs_salt(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        mode = info.data.get("mode")
        if mode == "hash" and not value:
            raise ValueError("mode 'hash' needs a salt (a secret string): unsalted hashes of short values such "
                             "as phone numbers can be reversed by hashing every candidate")
        if value is not None and mode is not None and mode != "hash":
            # a salt with any other mode does nothing: say so rather than let the user think values are hashed
            raise ValueError(f"a salt is used by mode 'hash' only, and mode is '{mode}'; add --mode hash or leave "
                             "out --salt")
        return value

    @model_validator(mode="after")
    def _person_needs_names(self) -> PiiConfig:
        asked = [flag for flag, kinds in (("--types", self.types), ("--drop", self.drop)) if "PERSON" in (kinds or ())]
        if asked and not self.names:  # it would find nothing, and say nothing about it
            raise ValueError(f"{asked[0]} asks for PERSON, but names are off (--no-names finds none); leave out "
                             f"--no-names, or PERSON from {asked[0]}")
        return self

    def wanted(self) -> frozenset[str]:
        """The types to detect (those that drop a record included), with PERSON left out when names are off."""
        kinds = frozenset(self.types or TYPES) | frozenset(self.drop or ())
        return kinds if self.names else kinds - {"PERSON"}


class Found(NamedTuple):
    """Where a span was found: field name (e.g. `history[0].user`), type, offsets in the original text."""

    field: str
    type: str
    start: int
    end: int


def find_pii(text: str, config: PiiConfig | None = None) -> list[Span]:
    """Non-overlapping PII spans in one text, sorted by start."""
    config = config or PiiConfig()
    return detect(text, config.wanted(), config.names, config.spacy_model)


class PiiScrubber:
    """One record in, (scrubbed record, what was found where) out."""

    def __init__(self, config: PiiConfig | None = None):
        self.config = config or PiiConfig()
        self.wanted = self.config.wanted()  # once: building the sets per record cost ~1.5 us
        self.salt = self.config.salt.get_secret_value() if self.config.salt is not None else None

    def __call__(self, record: Record) -> tuple[Record, list[Found]]:
        fields = text_fields(record, self.config.fields == "all")
        texts = [text for _, text in fields]
        spans = self.detect(texts, secret_kinds(fields) if self.config.fields == "all" else None)
        found = [Found(name, *span) for (name, _), field_spans in zip(fields, spans) for span in field_spans]
        if not found:
            return record, []
        replaced = self.replaced(texts, spans)
        return self.rebuilt(record, found, {fields[index][0]: text for index, text in replaced}), found

    def detect(self, texts: list[str], kinds: list[str | None] | None = None) -> list[list[Span]]:
        """Spans per text of one record; a name found in one text is a span in all of them.
        `kinds`: per text, the secret its column holds by its name (secret_kinds), if any."""
        wanted, config = self.wanted, self.config
        spans = [detect(text, wanted, config.names, config.spacy_model) if text else [] for text in texts]
        for index, kind in enumerate(kinds or ()):
            if kind in wanted and (whole := secret_value(texts[index])):
                spans[index] = [Span(kind, *whole)]  # all of it: a key found inside would leave the rest
        # detect already added every recurrence of a text's own names, so only names from the
        # record's other texts can add spans (the same ones, found the same way, resolve away)
        if sum(1 for text in texts if text) < 2:
            return spans
        names = {text[s.start:s.end] for text, found in zip(texts, spans) for s in found if s.type == "PERSON"}
        if names:
            spans = [with_names(text, found, names) if text else found for text, found in zip(texts, spans)]
        return spans

    def replaced(self, texts: list[str], spans: list[list[Span]]) -> list[tuple[int, str]]:
        """(index, new text) for each of one record's texts with spans, numbered as one record."""
        replacer = Replacer(self.config.mode, self.salt)
        return [(index, replacer.apply(text, found)) for index, (text, found) in enumerate(zip(texts, spans)) if found]

    def rebuilt(self, record: Record, found: list[Found], texts: dict[str, str]) -> Record:
        """The record with its replaced texts (by field name) and meta.pii."""
        if "user_id" in texts and self.config.mode != "hash":
            kinds = ", ".join(sorted({item.type for item in found if item.field == "user_id"}))
            raise RecordError(record.id, f"user_id holds {kinds}, and --mode {self.config.mode} would give every "
                              "such user one user_id (curate split --by user_id would see them as one user); use "
                              "--mode hash --salt SECRET, which keeps users apart, or --fields text")
        update = rebuild(record, texts)
        meta = {**record.meta, "pii": type_counts(found)}
        if any(name.startswith(EXTRA) for name in texts):
            meta["extra"] = with_texts(record.meta["extra"], EXTRA, texts)
        update["meta"] = meta
        scrubbed = record.model_copy(update=update)
        if record.id_is_derived():
            # an id made from the content is a hash of the values found: with the rest of the
            # text known, a phone number is recovered by hashing every candidate
            scrubbed.__dict__["id"] = scrubbed.derived_id()  # as _fill_derived_id: id_is_derived holds
        return scrubbed


def type_counts(found: list[Found]) -> dict[str, int]:
    """{type: spans of it}, by type name (a plain dict: a Counter per record costs more than the rest of rebuilt)."""
    counts: dict[str, int] = {}
    for item in found:
        counts[item.type] = counts.get(item.type, 0) + 1
    return dict(sorted(counts.items()))


class Replacer:
    """What each span becomes; holds the numbering of one record."""

    def __init__(self, mode: str, salt: str | None = None):
        self.mode, self.salt = mode, salt
        self.numbers: dict[tuple[str, str], int] = {}
        self.per_type: dict[str, int] = {}

    def apply(self, text: str, spans: list[Span]) -> str:
        parts, last = [], 0
        for span in spans:
            parts += [text[last:span.start], self.replacement(span.type, text[span.start:span.end])]
            last = span.end
        parts.append(text[last:])
        return "".join(parts)

    def replacement(self, kind: str, value: str) -> str:
        if self.mode == "mask":
            return "*" * len(value)
        if self.mode == "placeholder":
            return f"<{kind}>"
        key = canonical(kind, value)
        if self.mode == "hash":
            digest = hmac.new((self.salt or "").encode(), f"{kind}\0{key}".encode(), hashlib.sha256).hexdigest()
            return f"<{kind}:{digest[:8]}>"
        if (kind, key) not in self.numbers:
            self.per_type[kind] = self.per_type.get(kind, 0) + 1
            self.numbers[kind, key] = self.per_type[kind]
        return f"<{kind}_{self.numbers[kind, key]}>"


def canonical(kind: str, value: str) -> str:
    """The form two mentions of one value share: case-free emails (spelled out or not), E.164
    phones, bare digits (and a NI number's letters, in capitals)."""
    value = unicodedata.normalize("NFKC", value)  # ａ＠ｂ．ｃｏ is a@b.co
    if kind == "EMAIL":
        return email_key(value)
    if kind == "PHONE":
        return phone_key(value)
    if kind in ("CARD", "CN_ID", "SSN"):  # SSN: 409-91-0019 is 409910019; AB 12 34 56 C (a NI number) AB123456C
        return "".join(c for c in value if c.isalnum()).upper()
    if kind == "PERSON":
        return person_key(value)
    return " ".join(value.split())


def person_key(name: str) -> str:
    """One person however the name is dressed: Mr. John Smith, John Smith and JOHN SMITH, or
    Ann Lee, MD, and Ann Lee, are one (the detector takes a title and a suffix into the span).
    Only where a given name and a surname remain: Mr. Smith and Mrs. Smith are two people, and
    so are John Smith Jr. and John Smith Sr. (a generation suffix is part of the name)."""
    words = [word.strip(".,") for word in name.split()]
    if len(words) > 2 and words[0].title() in TITLES_EN:
        words.pop(0)
    if len(words) > 2 and words[-1] in SUFFIXES and words[-1] not in _GENERATIONS:
        words.pop()
    return " ".join(words).casefold()


_GENERATIONS = frozenset("Jr Sr II III IV".split())


def scrub_records(records: Iterable[Record], config: PiiConfig | None = None) -> Iterator[tuple[Record, list[Found]]]:
    """PiiScrubber over a stream, detecting in `config.workers` processes (or Ray tasks) when
    more than one. Output order is input order.

    Workers get texts and return spans and the replaced texts (plain tuples pickle ~8x faster
    than records); this process rebuilds the records and scrubs nothing itself. It used to
    scrub a chunk whenever the workers had two queued (workers - 1 processes, and this one):
    busy with a chunk, it left the pool's threads waiting for the GIL, so the worker's results
    were seen and its next chunk sent late, and the worker idled a third of the time. With two
    workers beside this process (3 processes on 2 cores) bench/pii.py ran 13% faster (the mean
    of 5 runs each, interleaved).
    """
    config = config or PiiConfig()
    scrubber = PiiScrubber(config)
    if config.spacy_model and "PERSON" in config.wanted():
        load_spacy(config.spacy_model)  # a missing model fails now, not in a worker mid-file
    if config.workers == 1 and config.executor == "local":
        yield from map(scrubber, records)
        return
    if config.executor == "local":
        warm_up(config.wanted())  # load once, here, for the forked workers to share
    from curate.parallel import process_pool

    with process_pool(config.workers, _start_worker, (config,), config.executor, config.ray_address) as pool:
        pending: deque[tuple[list[Record], list[list[tuple[str, str]]], Future[Any]]] = deque()
        iterator = iter(records)
        while chunk := list(islice(iterator, CHUNK)):
            fields = [text_fields(record, config.fields == "all") for record in chunk]
            texts = [[text for _, text in record_fields] for record_fields in fields]
            kinds = [secret_kinds(record_fields) for record_fields in fields] if config.fields == "all" else None
            pending.append((chunk, fields, _submit(pool, texts, kinds, first=not pending)))
            # bounded read-ahead: memory stays flat on big files
            while pending and (len(pending) > 4 * config.workers or pending[0][2].done()):
                yield from _applied(scrubber, *pending.popleft())
        while pending:
            yield from _applied(scrubber, *pending.popleft())


def _submit(pool: Any, texts: list[list[str]], kinds: list[list[str | None]] | None, first: bool) -> Future[Any]:
    if not first or not isinstance(pool, ProcessPoolExecutor):
        return pool.submit(_detect_chunk, texts, kinds)
    # The first submit forks every worker. Frozen objects are skipped by the workers'
    # garbage collector, which would otherwise touch, and so copy, every page they share.
    gc.freeze()
    try:
        return pool.submit(_detect_chunk, texts, kinds)
    finally:
        gc.unfreeze()


def _applied(scrubber: PiiScrubber, chunk: list[Record], fields: list[list[tuple[str, str]]], result: Future[Any]
             ) -> Iterator[tuple[Record, list[Found]]]:
    flat, replaced = result.result()
    found = _unpacked(flat, fields)
    texts: dict[int, dict[str, str]] = {}  # a record has replaced texts exactly when it has spans
    for row, field, text in replaced:
        texts.setdefault(row, {})[fields[row][field][0]] = text
    for index, record in enumerate(chunk):
        record_found = found.get(index)
        yield (scrubber.rebuilt(record, record_found, texts[index]), record_found) if record_found else (record, [])


def _packed(spans: list[list[list[Span]]]) -> array[int]:
    """A chunk's spans as one flat array of (record, field, type, start, end): pickling it is
    a copy of bytes, where lists of Span tuples cost a worker and this process ~18 µs a record."""
    flat = array("q")
    for record, fields in enumerate(spans):
        for field, found in enumerate(fields):
            for span in found:
                flat.extend((record, field, _TYPE_CODES[span.type], span.start, span.end))
    return flat


def _unpacked(flat: array[int], fields: list[list[tuple[str, str]]]) -> dict[int, list[Found]]:
    """What each record of a chunk with spans has found, in field order (records without spans
    get no entry: this process's garbage collector pays for every object made here)."""
    found: dict[int, list[Found]] = {}
    values = iter(flat.tolist())
    for record, field, code, start, end in zip(values, values, values, values, values):  # fives
        found.setdefault(record, []).append(Found(fields[record][field][0], TYPES[code], start, end))
    return found


_TYPE_CODES = {kind: code for code, kind in enumerate(TYPES)}


_worker_scrubber: PiiScrubber | None = None


def _start_worker(config: PiiConfig) -> None:
    global _worker_scrubber
    _worker_scrubber = PiiScrubber(config)


def _detect_chunk(texts: list[list[str]], kinds: list[list[str | None]] | None
                  ) -> tuple[array[int], list[tuple[int, int, str]]]:
    """A chunk's spans (packed) and its replaced texts as (record, text index, new text)."""
    assert _worker_scrubber is not None, "worker used before _start_worker"
    spans = [_worker_scrubber.detect(record_texts, kinds[record] if kinds else None)
             for record, record_texts in enumerate(texts)]
    replaced: list[tuple[int, int, str]] = []
    for record, (record_texts, found) in enumerate(zip(texts, spans)):
        if any(found):
            replaced += [(record, *change) for change in _worker_scrubber.replaced(record_texts, found)]
    return _packed(spans), replaced


def scrub(input: str | Path, output: str | Path, config: PiiConfig | None = None, report: str | Path | None = None,
          mapping: dict[str, str] | None = None, rejects: str | Path | None = None) -> Summary:
    """Scrub every record of `input` into `output`.

    `report` gets one line per record where something was found: its place in the input
    (`record`, from 1), its id, counts by type,
    and each span's field, type and offsets in the original text. A record with a type of
    `config.drop` goes, scrubbed like every other, to `rejects` instead of the output.

    A JSON Lines file of several chunks is cut into byte ranges, each read, validated,
    scrubbed and written out as lines by one of `config.workers` processes (or Ray tasks);
    any other input is read here, with detection in the workers or Ray tasks (scrub_records).
    Both run the same PiiScrubber and `noted`, so they write the same files.
    """
    config = config or PiiConfig()
    sink_format(output)
    if report is not None:
        sink_format(report)
    ensure_distinct({"INPUT": input, "--output": output, "--report": report, "--rejects": rejects})
    step = ScrubStep(config, report is not None)
    if config.workers > 1 and config.executor == "local":
        warm_up(config.wanted())  # load once, here, for the forked workers to share
    from curate.parallel import splittable

    # Ray tasks take byte ranges of JSON Lines in and out; any other input or output is read and
    # written here, with detection in Ray tasks (step.over, through scrub_records)
    ranges = config.executor == "ray" and splittable(input, output, rejects, report)
    summary = run_map("pii", input, output, step.over, mapping=mapping, rejects=rejects, step=step,
                      workers=config.workers, executor="ray" if ranges else "local", ray_address=config.ray_address,
                      report=report)
    counts = summary.counts
    summary.counts = {"records_with_pii": counts.get("records_with_pii", 0)} | {
        f"replaced:{kind}": counts[f"replaced:{kind}"] for kind in TYPES if counts.get(f"replaced:{kind}")}
    return summary


class ScrubStep:
    """One record in, its scrubbed record (or Reject) out, with its report row and counts; the
    step of `curate pii`, picklable for worker processes and Ray tasks."""

    def __init__(self, config: PiiConfig, reporting: bool):
        self.scrubber, self.reporting = PiiScrubber(config), reporting
        self.dropping = [kind for kind in TYPES if kind in (config.drop or ())]

    def __call__(self, record: Record) -> Noted:
        return self.noted(*self.scrubber(record))

    def over(self, records: Iterable[Record]) -> Iterator[Noted]:
        """The same for a stream read in this process, with detection in worker processes."""
        for record, found in scrub_records(records, self.scrubber.config):
            yield self.noted(record, found)

    def noted(self, record: Record, found: list[Found]) -> Noted:
        if not found:
            return Noted(record)
        kinds = {item.type for item in found}
        removing = next((kind for kind in self.dropping if kind in kinds), None)
        result: Record | Reject = Reject(record, f"pii:{removing}") if removing is not None else record
        report = report_row(record.id, found) if self.reporting else None
        return Noted(result, report, ("records_with_pii", *(f"replaced:{item.type}" for item in found)))


def report_row(record_id: str, found: list[Found]) -> dict[str, Any]:
    """One report line: counts and positions, never the values."""
    return {"id": record_id, "pii": type_counts(found),
            "spans": [item._asdict() for item in found]}
