"""`curate report`: one self-contained HTML page of a run, and PNG charts for documents.

Give it a run folder (the stages' `--summary-json FOLDER` files, OUTPUT.STAGE.summary.json),
summary files, or record files. The page shows the funnel (every stage's records in and out,
each reason's count and share, with examples), distributions (lengths in characters and
tokens by stage, kept against dropped; judge scores; dedup cluster sizes; PII by type;
language mix; records per split), evolution lineage, preference pairs and run facts. The
data is embedded as JSON and drawn by a little JavaScript of our own (curate/report_assets),
so index.html opens from disk with no server and no network.

Records are untrusted: the JSON is embedded with every `<` escaped, and the page puts record
text in with textContent only.

Memory: see curate/report_data.py (counters and bounded samples; files are streamed).
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from curate.errors import UsageError
from curate.executors import ExecutorOptions, local_only
from curate.io import read_records
from curate.outputs import atomic_path
from curate.summary import Summary


class ReportConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    bins: int = Field(30, ge=2, le=500, description="Bars in each length histogram.")
    tokenizer: str | None = Field(None, description="Also measure lengths in this tokenizer's tokens (a local "
                                  "directory or a Hugging Face id; a sample of each stage's texts).")
    seed: int = Field(0, description="Seed of the examples, search records and lineage trees shown.")


def _inputs(inputs: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(summary files, record files) from folders and files."""
    from curate.report_data import summaries_in

    summaries, records = [], []
    for given in map(Path, inputs):
        if given.is_dir():
            found = summaries_in(given)
            if not found:
                raise UsageError(f"{given}: no *.summary.json in this folder; run each stage with "
                                 f"--summary-json {given} (or give record files)")
            summaries += found
        elif given.name.endswith(".summary.json"):
            summaries.append(given)
        elif given.is_file():
            records.append(given)
        else:
            raise UsageError(f"{given}: no such file or folder")
    return summaries, records


def collect(inputs: Iterable[str | Path], rejects: Iterable[str | Path] = (), splits: str | Path | None = None,
            config: ReportConfig | None = None) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data. Each stage's output and rejects are read
    once, the final file once more, and evol's files once more for the lineage trees."""
    from curate import report_data as rd

    config = config or ReportConfig()
    summary_files, record_files = _inputs(inputs)
    summaries = rd.load_summaries(summary_files)
    tokenizer = None
    if config.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    counters = rd.Counters(config.seed)
    trainers = [s for s in summaries if rd.is_trainer(s)]
    summaries = [s for s in summaries if not rd.is_trainer(s)]
    stages = [rd.stage_details(s, config.seed, tokenizer, counters) for s in summaries]
    funnel = [rd.funnel_row(s) for s in summaries]
    for path in rejects:  # rejects files given on their own: one row per stage they name
        for stage, (dropped, details) in rd.rejects_details(path, config.seed, tokenizer, counters).items():
            funnel.append(rd.funnel_row({"stage": stage, "command": f"{stage} (--rejects {Path(path).name})",
                                         "read": None, "written": 0, "dropped": dict(dropped), "failed": {},
                                         "totals": None}))
            stages.append(details)
    final = record_files[-1] if record_files else _last_output(summaries)
    outputs = {s.get("files", {}).get("output") for s in summaries}
    evol = [s.get("files", {}) for s in summaries if s["stage"] == "evol"]
    return {
        "title": final.name if final else "run", "bins": config.bins, "tokens": tokenizer is not None,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "funnel": funnel, "stages": stages,
        "final": _final(final, config, tokenizer, counters if str(final) not in outputs else None),
        "judge_scores": counters.judge_scores(), "dedup_clusters": counters.dedup_clusters(),
        "pii": _pii_counts(summaries), "splits": _splits(summaries, splits),
        "lineage": rd.lineage(evol[-1].get("output"), evol[-1].get("rejects"), config.seed) if evol else
        rd.lineage(final, None, config.seed),
        "preferences": counters.preferences.items(),
        "facts": [rd.run_facts(s) for s in summaries + trainers],
    }


def _last_output(summaries: list[dict[str, Any]]) -> Path | None:
    """The run's last file of records: export's layouts for trainers have no meta, and a split's
    output is its first split (the one others are checked against)."""
    for summary in reversed(summaries):
        if summary["stage"] == "export":
            continue
        files = summary.get("files", {})
        candidates = [files.get("output")] + [path for role, path in files.items() if role.startswith("split:")]
        for path in candidates:
            if path and Path(path).is_file():
                return Path(path)
    return None


def _final(path: Path | None, config: ReportConfig, tokenizer: Any, counters: Any) -> dict[str, Any]:
    """The final file in one pass: lengths, language mix, evolution rounds and operations, and the
    records the search box looks through. `counters`: the run's, when no stage's pass saw this file."""
    from curate import report_data as rd

    if path is None:
        return {"name": "-", "records": 0, "lengths": {}, "language": {}, "search": [], "rounds": {},
                "operations": {}}
    side = rd.Side(config.seed, tokenizer is not None)
    search = rd.Sample(rd.SEARCH_SAMPLE, config.seed)
    rounds: Counter[str] = Counter()
    operations: Counter[str] = Counter()
    language: Counter[str] = Counter()
    count = 0
    for record in read_records(path):
        count += 1
        side.add(record)
        search.offer(record.id, lambda record=record: rd.example_row(record))
        share = rd.cjk_share(rd.prompt_text(record) + rd.answer_text(record))
        language["mostly CJK (> 50%)" if share > 0.5 else "some CJK" if share > 0 else "no CJK"] += 1
        evol = record.meta.get("evol") or {}
        if evol:
            rounds[str(evol.get("round", 0))] += 1
            if evol.get("operation"):
                operations[evol["operation"]] += 1
        if counters is not None:
            counters.add(record, "", kept=True)
    return {"name": path.name, "path": str(path), "records": count, "lengths": side.lengths(tokenizer),
            "language": {name: language[name] for name in ("no CJK", "some CJK", "mostly CJK (> 50%)")
                         if name in language},
            "search": search.items(),
            "rounds": dict(sorted(rounds.items(), key=lambda item: int(item[0]))), "operations": dict(operations)}


def _pii_counts(summaries: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for summary in summaries:
        if summary["stage"] == "pii":
            for name, n in (summary.get("counts") or {}).items():
                if name.startswith("replaced:"):
                    counts[name.removeprefix("replaced:")] += n
    return dict(counts.most_common())


def _splits(summaries: list[dict[str, Any]], folder: str | Path | None) -> dict[str, int]:
    """Records per split in split order, empty splits included."""
    for summary in summaries:
        if summary["stage"] == "split":
            return {name.removeprefix("split:"): n for name, n in (summary.get("counts") or {}).items()
                    if name.startswith("split:")}
    if folder is None:
        return {}
    counts = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix in (".jsonl", ".json", ".csv", ".parquet") and not path.name.endswith(".summary.json"):
            counts[path.stem] = sum(1 for _ in read_records(path)) if path.stat().st_size > 3 else 0
    return counts


def report(inputs: Iterable[str | Path] | str | Path, out_dir: str | Path, rejects: Iterable[str | Path] = (),
           splits: str | Path | None = None, config: ReportConfig | None = None) -> Summary:
    """Write index.html and its PNG charts into `out_dir`."""
    config = config or ReportConfig()
    local_only(config, "report")
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    summary = Summary("report")  # its clock starts here
    data = collect(inputs, rejects, splits, config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data["images"] = _charts(data, out, config.bins)
    data["summary"] = _summary_line(data)
    with atomic_path(out / "index.html") as tmp:
        tmp.write_text(page(data), encoding="utf-8")
    summary.read = summary.written = data["final"]["records"]
    summary.counts = {"stages": len(data["facts"]), "examples": sum(len(s["kept_examples"]) + sum(map(
        len, s["examples"].values())) for s in data["stages"])}
    return summary


def _summary_line(data: dict[str, Any]) -> str:
    stages = " → ".join(row["command"] for row in data["funnel"] if row["in"] is not None)
    line = f"{data['final']['records']:,} records in {data['final']['name']}"
    return f"{line}; stages: {stages}" if stages else line


def embedded_json(data: Any) -> str:
    """JSON that cannot end its <script> element: every < becomes \\u003c (and the two line
    separators JavaScript once rejected are escaped too), with no NaN that JSON.parse refuses."""
    text = json.dumps(_finite(data), ensure_ascii=False, default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _finite(value: Any) -> Any:
    """NaN and the infinities as strings: JSON.parse refuses them, and one would blank the page."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def page(data: dict[str, Any]) -> str:
    assets = resources.files("curate") / "report_assets"
    style = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    title = html.escape(f"curate report: {data['title']}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body><h1>{title}</h1><p id="summary-line"></p><p class="note">Made {html.escape(data['generated_at'])}.</p>
<main id="report"></main>
<script type="application/json" id="report-data">{embedded_json(data)}</script>
<script>{script}</script>
</body></html>
"""


def _charts(data: dict[str, Any], out: Path, bins: int) -> list[tuple[str, str]]:
    """PNG versions of the page's charts, for documents: (title, file name)."""
    images = []
    lengths = data["final"]["lengths"]
    for part, name in (("prompt", "instruction_lengths"), ("answer", "output_lengths")):
        values = (lengths.get(part) or {}).get("chars") or []
        if values:
            images.append((f"{part.title()} length (characters), {data['final']['name']}", _plot(
                name, out, lambda ax, v=values, p=part: _histogram(ax, v, bins, f"{p} length", "characters"))))
    drops = Counter({(row["command"], reason["reason"]): reason["count"] for row in data["funnel"]
                     for reason in row["reasons"]})
    charts = (("funnel", "Records out of each stage", Counter({row["command"]: row["out"] for row in data["funnel"]
                                                                if row["out"] is not None}), False),
              ("drops", "Dropped, by stage and reason", drops, True),
              ("judge_scores", "Judge scores", Counter(data["judge_scores"]), False),
              ("dedup_clusters", "Dedup clusters by size", Counter(data["dedup_clusters"]), False),
              ("pii", "PII found, by type", Counter(data["pii"]), True),
              ("splits", "Records per split", Counter(data["splits"]), False),
              ("evol_rounds", "Evolution rounds", Counter(data["final"]["rounds"]), False),
              ("evol_operations", "Evolution operations", Counter(data["final"]["operations"]), True))
    for name, title, counter, horizontal in charts:
        if counter:
            images.append((title, _plot(name, out, lambda ax, c=counter, t=title, h=horizontal: _bars(ax, c, t, h))))
    return images


def _plot(name: str, out: Path, draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    draw(axes)
    figure.tight_layout()
    with atomic_path(out / f"{name}.png") as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return f"{name}.png"


def _histogram(axes: Any, values: list[int], bins: int, title: str, unit: str) -> None:
    axes.hist(values, bins=bins, color="#4c72b0")
    axes.set_title(title)
    axes.set_xlabel(unit)
    axes.set_ylabel("records")


def _bars(axes: Any, counter: Counter, title: str, horizontal: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    labels = [str(k) if not isinstance(k, tuple) else f"{k[0]}: {k[1]}" for k in counter]
    values = list(counter.values())
    (axes.barh if horizontal else axes.bar)(labels, values, color="#4c72b0")
    (axes.xaxis if horizontal else axes.yaxis).set_major_locator(MaxNLocator(integer=True))  # counts
    (axes.set_xlabel if horizontal else axes.set_ylabel)("records")
    axes.set_title(title)
