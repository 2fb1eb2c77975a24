"""curate: turn seed prompts or user logs into clean SFT and preference data."""

from typing import Any

__all__ = ["DataError", "Example", "Preference", "Record", "UsageError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # imported on first use: `curate --help` must not pay for pydantic and the record models
    if name in ("DataError", "UsageError"):
        from curate import errors

        return getattr(errors, name)
    if name in ("Example", "Preference", "Record"):
        from curate import records

        return getattr(records, name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")
