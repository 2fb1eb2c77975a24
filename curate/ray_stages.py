"""The LLM stages on Ray: the input cut into shards, each shard run by the stage itself in a Ray task.

respond, judge, revise and backtranslate work record by record, and evol seed by seed (a
lineage never looks at another), so a stage's work splits into independent shards. With
`--executor ray` the input is cut once into `--ray-shards` pieces (kept in OUT.shards/ with the
plan), and each piece is one Ray task that runs the very same stage function, locally, with
its own client and concurrency window, on one endpoint of --base-url (shard i talks to replica
i mod n). Each shard journals into its own OUT.shards/part-NNNNN.jsonl and .rejects.jsonl, so a
re-run resumes every shard where it stopped and asks nothing twice; when every shard is done,
the parts are joined, in shard order, into OUT and the rejects file.

The shard files must be on a file system every node sees (as the input must); on a local Ray
started for the run they are.

Lines are dealt to shards by a hash of the line, so copies of a line share a shard, which drops
them (duplicate_id) as a local run does. Two lines that differ but are one record (the same id
after normalisation) may land in two shards: both are asked, and the join keeps the copy of the
lower shard, which may not be the first in the file.

Memory: on the driver, the plan and, while joining, the ids written (as a local journal keeps
its keys); on each worker, what the stage keeps for one shard (the records in flight and the
keys of finished ones).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import xxhash

from curate.errors import DataError, UsageError
from curate.io import shard_files
from curate.sinks import dump_row
from curate.outputs import atomic_path, part_name
from curate.summary import Summary

PLAN = "plan.json"


def shard_folder(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".shards")


def shards_of(config: Any) -> int:
    """--ray-shards, or one per replica of --base-url, at least two."""
    if getattr(config, "ray_shards", None):
        return config.ray_shards
    from curate.llm_config import split_urls

    return max(2, len(split_urls(config.base_url or "")))


def plan(input: str | Path, folder: Path, count: int, seeds: bool) -> list[Path]:
    """The shard inputs: cut on the first run, reused by every re-run of the same input."""
    from curate.run_manifest import fingerprint

    wanted = {"input": fingerprint(input), "shards": count}
    saved = folder / PLAN
    if saved.exists():
        found = json.loads(saved.read_text(encoding="utf-8"))
        if found["input"] != wanted["input"]:
            raise UsageError(f"{folder}: these shards were cut from another input ({found['input']['path']}, "
                             f"{found['input']['size']:,} bytes); start over with --restart")
        return [folder / name for name in found["parts"]]
    folder.mkdir(parents=True, exist_ok=True)
    parts = _cut_seeds(input, folder, count) if seeds else _cut_lines(input, folder, count)
    with atomic_path(saved) as tmp:
        tmp.write_text(json.dumps({**wanted, "parts": [p.name for p in parts]}, indent=2) + "\n", encoding="utf-8")
    return parts


def _cut_lines(input: str | Path, folder: Path, count: int) -> list[Path]:
    """The input's lines dealt to `count` pieces by a hash of each line: copies of a line land in
    one shard, which drops all but the first (duplicate_id) as a local run does."""
    parts = [folder / f"input-{number:05d}.jsonl" for number in range(count)]
    with ExitStack() as files:
        targets = [open(files.enter_context(atomic_path(part)), "wb") for part in parts]
        for target in targets:
            files.callback(target.close)
        for file in shard_files(input):
            with open(file, "rb") as source:
                for line in source:  # a file's last line may lack its newline: the next file's would join it
                    targets[_shard_of(line, count)].write(line if line.endswith(b"\n") else line + b"\n")
    return parts


def _shard_of(line: bytes, count: int) -> int:
    return xxhash.xxh64_intdigest(line.strip()) % count


def input_line(input: str | Path, count: int, shard: int, line: int) -> str:
    """Where in the input a shard's `line`-th line is: `file:line` (for error messages)."""
    seen = 0
    for file in shard_files(input):
        with open(file, "rb") as source:
            for number, text in enumerate(source, 1):
                if _shard_of(text, count) == shard:
                    seen += 1
                    if seen == line:
                        return f"{file}:{number}"
    return ""


def _cut_seeds(input: str | Path, folder: Path, count: int) -> list[Path]:
    """Seeds (any layout load_seeds reads) dealt round-robin into JSON Lines pieces."""
    from curate.generate.seeds import load_seeds
    from curate.sinks import write_records

    seeds = load_seeds(input)
    parts = []
    for number in range(min(count, len(seeds))):
        part = folder / f"input-{number:05d}.jsonl"
        write_records(part, seeds[number::count])
        parts.append(part)
    return parts


def run_sharded(stage: str, function: Callable[..., Summary], input: str | Path, output: str | Path,
                config: Any, rejects: str | Path | None, client: Any = None, **keywords: Any) -> Summary:
    """Run `function(part, part_output, shard_config, part_rejects, **keywords)` as one Ray task per
    shard, then join the parts into `output` and `rejects`. `client`: a caller's own client,
    which cannot travel to another process."""
    if client is not None:
        raise UsageError(f"curate {stage} on Ray makes a client per shard from the settings; pass none")
    from curate.executors import ray_session
    from curate.journal import default_rejects
    from curate.llm_config import split_urls
    from curate.parallel import ray_ready
    from curate.runner import check_journals

    check_journals(output, rejects or default_rejects(output))
    seeds = stage == "evol"
    if not seeds:
        ray_ready(input, output, rejects)
    folder = shard_folder(output)
    if getattr(config, "restart", False):  # start over: the shards and their plan go too
        shutil.rmtree(folder, ignore_errors=True)
        for path in (Path(output), Path(rejects or default_rejects(output))):
            path.unlink(missing_ok=True)
    if Path(output).exists() and not (folder / PLAN).exists():
        raise UsageError(f"{output}: written by a run with --executor local; continue it with --executor local, "
                         "or give another -o")
    parts = plan(input, folder, shards_of(config), seeds)
    urls = split_urls(config.base_url or "") or [None]
    total = Summary(stage)  # its clock starts now: the run's time is the shards' wall time
    outputs = [folder / part_name(n, ".jsonl") for n in range(len(parts))]
    part_rejects = [folder / part_name(n, ".rejects.jsonl") for n in range(len(parts))]
    before = [path.stat().st_size if path.exists() else 0 for path in outputs]  # what earlier runs wrote
    with ray_session("ray", len(parts), config.ray_address) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(_run_shard)  # a retry would re-ask; a re-run resumes
        pending = []
        for number, part in enumerate(parts):
            shard_config = config.model_copy(update=_shard_settings(config, urls[number % len(urls)], folder, number))
            pending.append(task.remote(function, str(part), str(outputs[number]), shard_config,
                                       str(part_rejects[number]), keywords))
        summaries = _results(ray, pending, None if seeds else lambda message: _in_input_terms(message, input,
                                                                                              len(parts)))
    rejects = Path(rejects or default_rejects(output))
    repeated, repeated_now = _join(outputs, before, Path(output), stage, part_rejects, rejects)
    summary = _summed(total, summaries, Path(output), rejects)
    # one record id in two shards (lines that differ but mean the same): the first shard's copy stays
    if repeated:
        summary.totals["written"] -= repeated
        summary.totals["duplicate_id"] += repeated
    if repeated_now:
        summary.written -= repeated_now
        summary.dropped["duplicate_id"] += repeated_now
    return summary


def _results(ray: Any, pending: list[Any], where: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Every shard's summary. A shard's own error is raised as itself (one line, its exit code),
    and the shards still running are asked to stop, so that none goes on writing a journal the
    next run will want; on Ctrl-C or SIGTERM they are killed. Only unfinished shards are
    cancelled: cancelling one that is finishing at that moment trips a check in Ray 2.60's core
    worker that aborts the whole driver process."""
    from ray.exceptions import RayTaskError

    try:
        return ray.get(pending)
    except RayTaskError as error:
        _stop(ray, pending, force=False)  # a stopped stage checkpoints its journal, as on Ctrl-C
        cause = getattr(error, "cause", None)
        if isinstance(cause, DataError) and where is not None:
            cause = DataError(where(str(cause)))
        raise (cause if isinstance(cause, Exception) else error) from None
    except BaseException:
        _stop(ray, pending, force=True)
        raise


def _stop(ray: Any, pending: list[Any], force: bool) -> None:
    _, running = ray.wait(pending, num_returns=len(pending), timeout=0)
    for ref in running:
        ray.cancel(ref, force=force)


def _in_input_terms(message: str, input: str | Path, count: int) -> str:
    """A shard's `.../input-00003.jsonl:17: ...` as the input's own file and line."""
    found = re.match(r"^(\S*input-(\d{5})\.jsonl):(\d+)(.*)$", message, re.DOTALL)
    if not found:
        return message
    where = input_line(input, count, int(found.group(2)), int(found.group(3)))
    return f"{where}{found.group(4)}" if where else message


def _shard_settings(config: Any, url: str | None, folder: Path, number: int) -> dict[str, Any]:
    # --restart was carried out above, once, for every shard
    settings: dict[str, Any] = {"executor": "local", "base_url": url, "restart": False}
    if hasattr(config, "teacher_base_url") and config.teacher_base_url:
        from curate.llm_config import split_urls

        teachers = split_urls(config.teacher_base_url)
        settings["teacher_base_url"] = teachers[number % len(teachers)]
    if not config.no_cache and config.cache is None:  # one SQLite file per shard: no writer waits for another
        settings["cache"] = folder / f"cache-{number:05d}.sqlite"
    return settings


def _run_shard(function: Callable[..., Summary], part: str, output: str, config: Any, rejects: str,
               keywords: dict[str, Any]) -> dict[str, Any]:
    return function(part, output, config, rejects, **keywords).as_dict()


def _join(parts: list[Path], before: list[int], target: Path, stage: str, rejects: list[Path],
          rejects_target: Path) -> tuple[int, int]:
    """The parts' lines, in shard order, as one file, and their rejects as another, each written
    whole; a record id an earlier shard wrote goes to the rejects as duplicate_id instead.
    Returns how many did, and how many of those this run wrote (past `before`, each part's size
    when it started). Memory: the ids written (as a local run keeps its journal's keys)."""
    seen: set[str] = set()
    repeated = repeated_now = 0
    with atomic_path(target) as kept_path, atomic_path(rejects_target) as removed_path, \
            open(kept_path, "wb") as kept, open(removed_path, "wb") as removed:
        for part in rejects:
            if part.exists():
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, removed)
        for part, size in zip(parts, before):
            if not part.exists():
                continue
            with open(part, "rb") as source:
                offset = 0
                for line in source:
                    row = json.loads(line)
                    if row.get("id") in seen:
                        repeated += 1
                        repeated_now += offset >= size
                        row.setdefault("meta", {})["rejected"] = {"stage": stage, "reason": "duplicate_id",
                                                                  "key": row["id"]}
                        removed.write((dump_row(row) + "\n").encode("utf-8"))
                    else:
                        seen.add(row.get("id"))
                        kept.write(line)
                    offset += len(line)
    return repeated, repeated_now


def _summed(total: Summary, summaries: list[dict[str, Any]], output: Path, rejects: Path) -> Summary:
    totals: Counter[str] = Counter()
    for part in summaries:
        total.read += part["read"]
        total.written += part["written"]
        total.resumed += part["resumed"]
        total.dropped.update(part["dropped"])
        total.failed.update(part["failed"])
        totals.update(part["totals"] or {})
        for name, value in part["counts"].items():
            if isinstance(value, (int, float)):  # concurrency too: the shards' windows together
                total.count(name, value)
        total.facts |= {k: v for k, v in part["facts"].items() if k != "cost_usd"}
        if part["facts"].get("cost_usd") is not None:
            total.facts["cost_usd"] = round(total.facts.get("cost_usd", 0) + part["facts"]["cost_usd"], 6)
    total.totals = totals
    total.files |= {"output": str(output.resolve()), "rejects": str(rejects.resolve())}
    return total
