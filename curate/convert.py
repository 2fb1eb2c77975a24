"""`curate convert`: any supported file into records, with their content-hash ids.

With `skip_invalid`, a row that is not a record (no instruction, a field of the wrong type,
not an object) goes to the rejects file as it was, with meta.rejected = {stage, reason,
where, problem}, instead of stopping the run: real logs are messy, and one bad row should not
cost the other million. Rows that are not JSON at all still stop it, with file and line.

Memory: one record at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ConfigDict, Field

from curate.executors import ExecutorOptions, local_only
from curate.io import InvalidRow, iter_values, records_of
from curate.records import Record
from curate.runner import Reject, run_map
from curate.summary import Summary


class ConvertConfig(ExecutorOptions):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at start-up

    keep_extra: bool = Field(True, description="Keep columns that map to no field in meta.extra; "
                             "--no-keep-extra drops them.")
    skip_invalid: bool = Field(False, description="Write rows that are not valid records to --rejects (reason "
                               "invalid, with the line and the problem) and go on, instead of stopping.")


def convert(input: str | Path, output: str | Path, config: ConvertConfig | None = None,
            rejects: str | Path | None = None, mapping: dict[str, str] | None = None) -> Summary:
    config = config or ConvertConfig()
    local_only(config, "convert")

    def converted(items: Iterable[Record | InvalidRow]) -> Iterator[Record | Reject]:
        for item in items:
            if isinstance(item, InvalidRow):
                yield Reject(item, "invalid")  # type: ignore[arg-type]
            elif not config.keep_extra and "extra" in item.meta:
                yield item.model_copy(update={"meta": {k: v for k, v in item.meta.items() if k != "extra"}})
            else:
                yield item

    records = records_of(iter_values(input), mapping, invalid_ok=config.skip_invalid)
    return run_map("convert", input, output, converted, rejects=rejects, records=records)

