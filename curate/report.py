"""`curate report`: one HTML page with PNG plots of a dataset and of what the stages removed.

The page and its images are written to a folder and open from disk, no server needed.

Memory: every record of the input (the plots are drawn from all of them).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions, local_only
from curate.text import word_count
from curate.io import atomic_path, read_records
from curate.records import Example, Record
from curate.stats import drops_by_stage
from curate.summary import Summary


def _counts(records: list[Record]) -> dict[str, Counter]:
    found: dict[str, Counter] = {name: Counter() for name in ("score", "split", "round", "operation")}
    for record in records:
        meta = record.meta
        if isinstance((meta.get("judge") or {}).get("score"), int):
            found["score"][meta["judge"]["score"]] += 1
        if (meta.get("split") or {}).get("name"):
            found["split"][meta["split"]["name"]] += 1
        if meta.get("evol"):
            found["round"][meta["evol"].get("round", 0)] += 1
            if meta["evol"].get("operation"):
                found["operation"][meta["evol"]["operation"]] += 1
    return found


def _split_files(directory: Path | None) -> Counter:
    if directory is None:
        return Counter()
    counts: Counter = Counter()
    for path in sorted(directory.iterdir()):
        if path.suffix in (".jsonl", ".json", ".csv", ".parquet") and path.stat().st_size > 3:
            counts[path.stem] = sum(1 for _ in read_records(path))
    return counts


def _plot(name: str, out: Path, draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.4, 3.2), dpi=100)  # two to a row on the page
    draw(axes)
    figure.tight_layout()
    figure.savefig(out / f"{name}.png")
    plt.close(figure)
    return f"{name}.png"


def _bars(axes: Any, counter: Counter, title: str, horizontal: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    labels = [str(k) if not isinstance(k, tuple) else f"{k[0]}: {k[1]}" for k in counter]
    (axes.barh if horizontal else axes.bar)(labels, list(counter.values()), color="#4c72b0")
    (axes.xaxis if horizontal else axes.yaxis).set_major_locator(MaxNLocator(integer=True))  # counts
    axes.set_title(title)


class ReportConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    bins: int = Field(30, ge=2, le=500, description="Bars in each length histogram.")


def report(data: str | Path, out_dir: str | Path, rejects: Iterable[str | Path] = (),
           splits: str | Path | None = None, config: ReportConfig | None = None) -> Summary:
    """Write index.html and its plots into `out_dir`."""
    config = config or ReportConfig()
    local_only(config, "report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = list(read_records(data))
    summary = Summary("report")
    summary.read = summary.written = len(records)
    lengths = {"instruction": [word_count(r.user_message()) for r in records],
               "output": [word_count(r.output) for r in records if isinstance(r, Example) and r.output]}
    counts = _counts(records)
    drops = drops_by_stage(Path(p) for p in rejects)
    split_counts = _split_files(Path(splits) if splits else None) or counts["split"]
    images: list[tuple[str, str]] = []
    for field, values in lengths.items():
        if values:
            images.append((f"{field.title()} length (words)", _plot(
                f"{field}_lengths", out, lambda ax, v=values, f=field: (ax.hist(v, bins=config.bins, color="#4c72b0"),
                                                                        ax.set_title(f"{f} length, words")))))
    scores = Counter({score: counts["score"][score] for score in range(1, 6)}) if counts["score"] else Counter()
    charts = (("judge_scores", "Judge scores", scores, False),
              ("drops", "Dropped, by stage and reason", drops, True),
              ("splits", "Records per split", split_counts, False),
              ("evol_rounds", "Evolution rounds", Counter(dict(sorted(counts["round"].items()))), False),
              ("evol_operations", "Evolution operations", counts["operation"], True))
    for name, title, counter, horizontal in charts:
        if counter:
            images.append((title, _plot(name, out, lambda ax, c=counter, t=title, h=horizontal: _bars(ax, c, t, h))))
    _write_page(out, Path(data), len(records), images, drops)
    return summary


def _write_page(out: Path, data: Path, total: int, images: list[tuple[str, str]], drops: Counter) -> None:
    rows = "".join(f"<tr><td>{html.escape(stage)}</td><td>{html.escape(reason)}</td><td>{n:,}</td></tr>"
                   for (stage, reason), n in sorted(drops.items()))
    figures = "".join(f'<figure><img src="{src}" alt="{html.escape(title)}"></figure>' for title, src in images)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>curate report: {html.escape(data.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em}} figure{{display:inline-block;margin:.5em}}
figure img{{border:1px solid #eee}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.3em .6em}}</style></head>
<body><h1>{html.escape(data.name)}</h1><p>{total:,} records.</p>{figures}
{"<h2>Dropped</h2><table><tr><th>stage</th><th>reason</th><th>records</th></tr>" + rows + "</table>" if rows else ""}
</body></html>
"""
    with atomic_path(out / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
