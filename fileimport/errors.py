from pathlib import Path


class ImportFileError(Exception):
    """A file that cannot be imported; the message names the file and, where known, line or field."""

    def __init__(self, path: Path | str, reason: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")
