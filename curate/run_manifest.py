"""The run manifest beside a journal: what its records were made from.

`OUT.jsonl.run.json` holds the stage, the input's fingerprint (path, size, SHA-256 of its first
and last MiB), the rejects file, the settings that shape records (not the endpoint, the key or
the concurrency) and the totals of both journals. A re-run that would mix records of another
input or of other settings into the journal is refused, with what changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from curate.outputs import atomic_path

MIB = 1 << 20
# Settings that change how a run talks to the model, not which records it makes: a re-run may
# change them freely (another replica, more concurrency, a new key).
OPERATIONAL = frozenset({"backend", "base_url", "teacher_base_url", "api_key", "teacher_api_key", "concurrency",
                         "timeout", "max_retries", "max_connection_failures", "cache", "no_cache", "restart",
                         "allow_failures", "price", "batch", "batch_poll", "batch_file", "batch_results",
                         "executor", "ray_address", "ray_shards"})
# Settings that only say how much work to do: a journal made with fewer rounds or a smaller pool
# is the first part of the larger job, so changing them continues it.
EXTENT = frozenset({"rounds", "num_instructions"})


def manifest_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".run.json")


def fingerprint(path: str | Path | None) -> dict[str, Any] | None:
    """Size and hashes of the first and last MiB: cheap for any size, and it changes when rows
    are added, removed or edited at either end (a full hash of a 100 GB input would not be)."""
    if path is not None and str(path) != "-" and Path(path).is_dir():  # a directory of shards: each file's
        from curate.io import shard_files

        files = [fingerprint(file) for file in shard_files(path)]
        return {"path": str(Path(path).resolve()), "size": sum(f["size"] for f in files if f), "files": files}
    if path is None or str(path) == "-" or not Path(path).is_file():
        return None
    file = Path(path)
    size = file.stat().st_size
    with open(file, "rb") as stream:
        head = hashlib.sha256(stream.read(MIB)).hexdigest()
        stream.seek(max(0, size - MIB))
        tail = hashlib.sha256(stream.read(MIB)).hexdigest()
    return {"path": str(file.resolve()), "size": size, "head": head, "tail": tail}


def public_settings(config: BaseModel | None) -> dict[str, Any]:
    """Every setting, as JSON, for a report: secrets left out, credentials cut from URLs."""
    if config is None:
        return {}
    secret = {name for name, field in type(config).model_fields.items() if "Secret" in str(field.annotation)}
    values = config.model_dump(mode="json", exclude=secret)
    return {name: _without_credentials(value) for name, value in values.items()}


def _without_credentials(value: Any) -> Any:
    """URLs without user:password or a query string (either may hold a key), comma-separated
    lists of them (--base-url replicas) included."""
    if isinstance(value, str) and "://" in value:
        return ",".join(redact_url(url.strip()) if "://" in url else url for url in value.split(","))
    if isinstance(value, list):
        return [_without_credentials(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_credentials(item) for key, item in value.items()}
    return value


def redact_url(url: str) -> str:
    """The URL without user:password or a query string (either may hold a key), for messages,
    cache keys and summaries."""
    parts = urlsplit(url)._replace(query="", fragment="")
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def settings_of(config: BaseModel | None) -> dict[str, Any]:
    return {} if config is None else config.model_dump(mode="json", exclude=set(OPERATIONAL))


@dataclass
class Manifest:
    stage: str
    input: dict[str, Any] | None
    rejects: str | None
    settings: dict[str, Any]
    totals: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, output: str | Path) -> Manifest | None:
        path = manifest_path(output)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["stage"], data.get("input"), data.get("rejects"), data.get("settings", {}),
                       data.get("totals", {}))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated like a journal from before manifests existed

    def text(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self, output: str | Path) -> None:
        """Written atomically, and only when it changed: a re-run of a finished job touches nothing."""
        path = manifest_path(output)
        text = self.text()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")


def differences(old: Manifest, new: Manifest) -> list[str]:
    """What would make a journal written under `old` the wrong one to continue under `new`."""
    problems = []
    if old.stage != new.stage:
        problems.append(f"it was written by curate {old.stage}")
    if old.input and new.input and _content(old.input) != _content(new.input):
        same_path = old.input["path"] == new.input["path"]
        now = "it has changed" if same_path else f"now {new.input['path']}"
        problems.append(f"its input was {old.input['path']} ({old.input['size']:,} bytes); {now} "
                        f"({new.input['size']:,} bytes)")
    if old.rejects != new.rejects:
        hint = f" (pass --rejects {old.rejects})" if old.rejects else ""
        problems.append(f"its rejects journal is {old.rejects or '(none)'}, this run's is "
                        f"{new.rejects or '(none)'}{hint}")
    for name in sorted(set(old.settings) | set(new.settings)):
        if name == "model" or name in EXTENT:  # the model is compared once resolved (Journal.model_resolved)
            continue
        before, after = old.settings.get(name), new.settings.get(name)
        if before != after:
            problems.append(f"--{name.replace('_', '-')} was {_shown(before)}, now {_shown(after)}")
    return problems


def _content(info: dict[str, Any]) -> tuple[Any, ...]:
    return info.get("size"), info.get("head"), info.get("tail")


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value, ensure_ascii=False)
