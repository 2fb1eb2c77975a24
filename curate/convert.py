"""`curate convert`: any supported file into records, with their content-hash ids.

With `skip_invalid`, a row that is not a record (no instruction, a field of the wrong type,
not an object) goes to the rejects file as it was, with meta.rejected = {stage, reason,
where, problem}, instead of stopping the run: real logs are messy, and one bad row should not
cost the other million. Rows that are not JSON at all still stop it, with file and line.

Memory: one record at a time (with --workers, 2 x workers chunks of the input).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions
from curate.io import InvalidRow
from curate.records import Record
from curate.runner import Reject, each, run_map
from curate.summary import Summary


class ConvertConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    keep_extra: bool = Field(True, description="Keep columns that map to no field in meta.extra; "
                             "--no-keep-extra drops them.")
    skip_invalid: bool = Field(False, description="Write rows that are not valid records to --rejects (reason "
                               "invalid, with the line and the problem) and go on, instead of stopping.")
    workers: int = Field(1, ge=1, description="Processes (or Ray tasks) that read and check a large JSON Lines "
                         "file in parallel (output order is input order).")


def convert(input: str | Path, output: str | Path, config: ConvertConfig | None = None,
            rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    config = config or ConvertConfig()
    keep_extra = config.keep_extra

    def step(item: Record | InvalidRow) -> Record | Reject:
        if isinstance(item, InvalidRow):
            return Reject(item, "invalid")  # type: ignore[arg-type]
        if not keep_extra and "extra" in item.meta:
            return item.model_copy(update={"meta": {k: v for k, v in item.meta.items() if k != "extra"}})
        return item

    return run_map("convert", input, output, each(step), rejects=rejects, mapping=mapping, step=step,
                   workers=config.workers, executor=config.executor, ray_address=config.ray_address,
                   invalid_ok=config.skip_invalid)
