"""curate: turn seed prompts or user logs into clean SFT and preference data."""

from curate.errors import DataError, UsageError
from curate.records import Example, Preference, Record

__all__ = ["DataError", "Example", "Preference", "Record", "UsageError"]
__version__ = "0.1.0"
