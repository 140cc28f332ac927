"""The loop every import command runs: each file in turn, one line of progress each, failures reported and
the rest imported (each file is its own transaction, so a failure writes nothing from that file)."""

from collections.abc import Callable, Sequence
from pathlib import Path

from fileimport.errors import ImportFileError


def files_import_each(
    *,
    paths: Sequence[Path],
    import_one: Callable[[Path], Sequence[str]],
    write: Callable[[str], object],
    write_error: Callable[[str], object],
) -> list[ImportFileError]:
    """Import `paths` with `import_one` (which returns the lines to print: a summary, then details) and return
    the failures; progress goes to `write` as ``[n/N] summary``, failures to `write_error`."""
    failures: list[ImportFileError] = []
    for number, path in enumerate(paths, start=1):
        try:
            summary, *details = import_one(path)
        except ImportFileError as error:
            failures.append(error)
            write_error(f"[{number}/{len(paths)}] FAILED {error}")
            continue
        write(f"[{number}/{len(paths)}] {summary}")
        for line in details:
            write(f"    {line}")
    return failures
