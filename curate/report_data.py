"""What `curate report` shows, gathered from a run: its stages' summaries and the files they name.

A run is a set of `--summary-json` files (one per stage; `--summary-json FOLDER` names them
OUTPUT.STAGE.summary.json). Each names the stage's input, output and rejects, so the funnel,
the examples and the distributions come from the files themselves, never from guesses.
Stages are put in data-flow order: a stage whose input is another's output comes after it.

Memory: counters, and bounded samples: a few examples per stage and reason, up to
LENGTH_SAMPLE lengths per stage and side, SEARCH_SAMPLE instructions for the search box, and
the records of LINEAGE_ROOTS evolution trees. Samples are "bottom-k" by a seeded hash of the
record id, so they are streamed, the same on every run, and the same record is picked in
every file it appears in.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import UsageError
from curate.io import iter_rows, read_records
from curate.sinks import record_row
from curate.records import Example, Preference, Record

EXAMPLES = 5  # per stage and reject reason, and of each stage's kept records
LENGTH_SAMPLE = 20_000
SEARCH_SAMPLE = 5_000
LINEAGE_ROOTS = 30
PREFERENCE_SAMPLE = 20
TOKEN_SAMPLE = 2_000  # texts per stage and side measured in tokens (a tokenizer is slow)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")


def _rank(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest(), "big")


class Sample:
    """The k items of smallest seeded hash seen so far (a deterministic, streamed sample)."""

    def __init__(self, k: int, seed: int):
        self.k, self.seed = k, seed
        self._items: dict[str, tuple[int, Any]] = {}
        self._heap: list[tuple[int, str]] = []  # (-rank, key): the largest kept rank on top

    def offer(self, key: str, item: Any) -> None:
        """Keep `item` if its key ranks among the k smallest; a callable item is called only then
        (building a record's row for every record of a large file would cost more than reading it)."""
        if key in self._items:
            return
        rank = _rank(self.seed, key)
        if len(self._items) < self.k:
            heapq.heappush(self._heap, (-rank, key))
        elif rank < -self._heap[0][0]:
            _, dropped = heapq.heapreplace(self._heap, (-rank, key))
            del self._items[dropped]
        else:
            return
        self._items[key] = (rank, item() if callable(item) else item)

    def items(self) -> list[Any]:
        return [item for _, item in sorted(self._items.values(), key=lambda pair: pair[0])]


def load_summaries(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The summaries, in data-flow order (then by start time)."""
    found = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageError(f"{path}: not a stage summary ({error})") from None
        if not isinstance(data, dict) or "stage" not in data:
            raise UsageError(f"{path}: not a stage summary (no 'stage'); write one with --summary-json")
        data["_path"] = str(path)
        found.append(data)
    return _in_flow_order(found)


def _in_flow_order(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_output = {path: i for i, s in enumerate(summaries) for role, path in s.get("files", {}).items()
                 if role == "output" or role.startswith("split:")}
    placed: list[int] = []

    def place(i: int, seen: frozenset[int] = frozenset()) -> None:
        if i in placed or i in seen:
            return
        source = summaries[i].get("files", {}).get("input")
        before = by_output.get(source)
        if before is not None and before != i:
            place(before, seen | {i})
        placed.append(i)

    for i in sorted(range(len(summaries)), key=lambda i: summaries[i].get("started_at") or ""):
        place(i)
    return [summaries[i] for i in placed]


def summaries_in(target: Path) -> list[Path]:
    return sorted(target.glob("*.summary.json")) + sorted(target.glob("*/*.summary.json"))


def funnel_row(summary: dict[str, Any]) -> dict[str, Any]:
    """Records in and out of one stage, and each reason's count and share of what it handled.

    A resumable stage counts what is in its files over all its runs (totals); others this run."""
    totals = summary.get("totals")
    if totals:
        kept = totals.get("written", 0)
        dropped = {reason: n for reason, n in totals.items() if reason != "written" and n}
    else:
        kept = summary.get("written", 0)
        dropped = {**summary.get("dropped", {}), **{f"failed:{r}": n for r, n in summary.get("failed", {}).items()}}
    handled = kept + sum(dropped.values())
    return {"stage": summary["stage"], "command": summary.get("command", summary["stage"]),
            "in": None if summary.get("read", 0) is None else  # a rejects file alone: nothing is known
            summary.get("read") or (summary.get("counts") or {}).get("seeds", 0), "out": kept, "dropped": sum(dropped.values()),
            "share_dropped": sum(dropped.values()) / handled if handled else 0.0,
            "reasons": [{"reason": r, "count": n, "share": n / handled if handled else 0.0}
                        for r, n in sorted(dropped.items(), key=lambda item: -item[1])]}


def _records(path: str | Path | None) -> Iterator[Record]:
    if not path or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return iter(())
    return iter(read_records(path))


def prompt_text(record: Record) -> str:
    return record.user_message()


def answer_text(record: Record) -> str:
    if isinstance(record, Example):
        return record.output
    responses = record.ranked_responses()
    return responses[0] if responses else ""


def cjk_share(text: str) -> float:
    letters = len(_LETTER.findall(text))
    return len(_CJK.findall(text)) / letters if letters else 0.0


@dataclass
class Side:
    """One side (kept or dropped) of one stage: a sample of its prompt and answer lengths, and of
    the texts themselves for measuring in tokens."""

    seed: int
    tokens: bool
    chars: dict[str, Sample] = field(default_factory=dict)
    texts: dict[str, Sample] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        for part, text in (("prompt", prompt_text(record)), ("answer", answer_text(record))):
            if part == "answer" and not text:
                continue
            self.chars.setdefault(part, Sample(LENGTH_SAMPLE, self.seed)).offer(record.id, len(text))
            if self.tokens:
                self.texts.setdefault(part, Sample(TOKEN_SAMPLE, self.seed)).offer(record.id, text)

    def lengths(self, tokenizer: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part, sample in self.chars.items():
            out[part] = {"chars": sample.items()}
            texts = self.texts[part].items() if part in self.texts else []
            if tokenizer is not None and texts:
                out[part]["tokens"] = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        return out


def example_row(record: Record) -> dict[str, Any]:
    return record_row(record)


@dataclass
class Counters:
    """What the whole run's records add up to, gathered while each file is read once."""

    seed: int
    judge: Counter[int] = field(default_factory=Counter)
    cluster_sizes: Counter[int] = field(default_factory=Counter)
    preferences: Sample | None = None

    def __post_init__(self) -> None:
        self.preferences = Sample(PREFERENCE_SAMPLE, self.seed)

    def add(self, record: Record, stage: str, kept: bool) -> None:
        meta = record.meta
        if stage == "judge":  # everything judged: the kept and the dropped
            judge = meta.get("judge") or {}
            scores = [judge.get("score"), *(judge.get("candidates") or [])]
            self.judge.update(score for score in scores if isinstance(score, int))
        if stage == "dedup" and kept and isinstance((meta.get("dedup") or {}).get("size"), int):
            self.cluster_sizes[meta["dedup"]["size"]] += 1  # a kept record stands for its cluster
        if kept and isinstance(record, Preference):
            self.preferences.offer(record.id, lambda: preference_row(record))

    def judge_scores(self) -> dict[str, int]:
        return {str(s): self.judge[s] for s in range(1, 6)} if self.judge else {}

    def dedup_clusters(self) -> dict[str, int]:
        return {str(size): self.cluster_sizes[size] for size in sorted(self.cluster_sizes)}


def preference_row(record: Preference) -> dict[str, Any]:
    """Chosen and rejected side by side, with the scores that decided them."""
    responses = record.ranked_responses()
    meta = record.meta
    scores = (meta.get("revise") or {}).get("scores") or (meta.get("rank") or {}).get("scores")
    return {"id": record.id, "prompt": prompt_text(record), "chosen": responses[0], "rejected": responses[-1],
            "responses": len(responses), "margin": record.margin, "scores": scores}


@dataclass
class Dropped:
    """What a stage rejected: how many for each reason, examples of each, and their lengths."""

    seed: int
    tokens: bool
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Sample] = field(default_factory=dict)
    side: Side | None = None

    def __post_init__(self) -> None:
        self.side = Side(self.seed, self.tokens)

    def add(self, record: Record) -> None:
        reason = (record.meta.get("rejected") or {}).get("reason", "?")
        self.reasons[reason] += 1
        self.examples.setdefault(reason, Sample(EXAMPLES, self.seed)).offer(record.id, lambda: example_row(record))
        self.side.add(record)


def stage_details(summary: dict[str, Any], seed: int, tokenizer: Any, counters: Counters) -> dict[str, Any]:
    """One pass over a stage's output and one over its rejects: examples of the kept records and
    of each reject reason, lengths on both sides, and the run's counters."""
    files = summary.get("files", {})
    stage = summary.get("stage", "")
    kept, kept_side = Sample(EXAMPLES, seed), Side(seed, tokenizer is not None)
    for record in _records(files.get("output")):
        kept.offer(record.id, lambda record=record: example_row(record))
        kept_side.add(record)
        counters.add(record, stage, kept=True)
    dropped = Dropped(seed, tokenizer is not None)
    for record in _records(files.get("rejects")):
        dropped.add(record)
        counters.add(record, stage, kept=False)
    return _details(kept.items(), kept_side, dropped, tokenizer)


def rejects_details(path: str | Path, seed: int, tokenizer: Any,
                    counters: Counters) -> dict[str, tuple[Counter[str], dict[str, Any]]]:
    """A rejects file given on its own, in one pass: for each stage it names, the count of each
    reason and that stage's details (examples and lengths of what it dropped)."""
    by_stage: dict[str, Dropped] = {}
    for record in _records(path):
        stage = (record.meta.get("rejected") or {}).get("stage", "?")
        by_stage.setdefault(stage, Dropped(seed, tokenizer is not None)).add(record)
        counters.add(record, stage, kept=False)
    return {stage: (dropped.reasons, _details([], Side(seed, False), dropped, tokenizer))
            for stage, dropped in by_stage.items()}


def _details(kept: list[Any], kept_side: Side, dropped: Dropped, tokenizer: Any) -> dict[str, Any]:
    return {"kept_examples": kept, "examples": {r: s.items() for r, s in dropped.examples.items()},
            "lengths": {"kept": kept_side.lengths(tokenizer), "dropped": dropped.side.lengths(tokenizer)}}


def lineage(evol_output: str | Path | None, evol_rejects: str | Path | None, seed: int) -> list[dict[str, Any]]:
    """Trees of LINEAGE_ROOTS seeds: each round's evolution with its operation, and the attempts
    that were eliminated, with their rule. Two passes: pick roots, then gather their records."""
    roots = Sample(LINEAGE_ROOTS, seed)
    for path in (evol_output, evol_rejects):
        for where, row in _rows(path):
            root = (row.get("meta", {}).get("evol") or {}).get("root")
            if root:
                roots.offer(root, root)
    chosen = set(roots.items())
    nodes: dict[str, list[dict[str, Any]]] = {root: [] for root in roots.items()}
    for path, eliminated in ((evol_output, False), (evol_rejects, True)):
        for _, row in _rows(path):
            info = row.get("meta", {}).get("evol") or {}
            if info.get("root") in chosen:
                rule = (row.get("meta", {}).get("rejected") or {}).get("reason") if eliminated else None
                nodes[info["root"]].append({"id": row.get("id"), "parent": info.get("parent"),
                                            "round": info.get("round", 0), "operation": info.get("operation"),
                                            "instruction": row.get("instruction", ""), "eliminated": rule})
    return [{"root": root, "nodes": sorted(nodes[root], key=lambda n: (n["round"], n["eliminated"] or ""))}
            for root in roots.items()]


def _rows(path: str | Path | None) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return iter(())
    return iter_rows(path)


def run_facts(summary: dict[str, Any]) -> dict[str, Any]:
    config = summary.get("config") or {}
    endpoints = [config[key] for key in ("base_url", "teacher_base_url") if config.get(key)]
    return {"stage": summary["stage"], "model": (summary.get("facts") or {}).get("model") or config.get("model"),
            "endpoints": endpoints, "started_at": summary.get("started_at"), "ended_at": summary.get("ended_at"),
            "seconds": summary.get("seconds"), "counts": summary.get("counts") or {},
            "cost_usd": (summary.get("facts") or {}).get("cost_usd"), "config": config,
            "files": summary.get("files") or {}, "facts": summary.get("facts") or {}}


TRAINERS = frozenset({"sft", "rm", "dpo", "rl"})  # they write a model, not records: facts, no funnel row


def is_trainer(summary: dict[str, Any]) -> bool:
    return summary.get("stage") in TRAINERS and summary.get("command") in TRAINERS
