"""The two kinds of failure the CLI reports as one line: bad data (exit 1), bad usage (exit 2)."""


class DataError(ValueError):
    """Input data is malformed; the message names the file, line and field."""


class UsageError(ValueError):
    """The command was asked for something it cannot do (unknown format, bad --map)."""


class FieldError(ValueError):
    """A row-level problem in one field; the reader adds the file and line."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class RecordError(DataError):
    """A valid record that a map step cannot take (export's --format preference given an example):
    the runner, which knows where the record is, adds the file and record number."""

    def __init__(self, record_id: str, message: str):
        super().__init__(message)
        self.record_id = record_id

    def at(self, where: str) -> DataError:
        return DataError(f"{where} (id {self.record_id}): {self}")


class EndpointError(Exception):
    """The model endpoint cannot serve this run at all (unreachable, refused key, unknown model):
    the run stops at once with one line that names the URL, the server's words and the flag to
    change. `exit_code` is 2 when a flag is wrong, 1 when a server that worked went away."""

    def __init__(self, message: str, exit_code: int = 2, unreachable: bool = False):
        super().__init__(message)
        self.exit_code = exit_code
        self.unreachable = unreachable  # nothing answered at all (with replicas, the others may)
