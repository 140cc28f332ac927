"""Expanding the paths given to an import command into the files to import."""

from collections.abc import Iterable, Iterator
from pathlib import Path


def import_paths_expand(*, paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, folders walked recursively in name order (hidden files and folders skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden:
                    yield child
        else:
            yield path
