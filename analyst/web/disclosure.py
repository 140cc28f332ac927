"""What answers may say about the server: no absolute server paths, no database host or port.

Paths under the data folder (SEISTRIAGE_DATA_DIR), the shared data folder or the watched folder are shown
relative to it (an upload's file as ``uploads/<job>/001-name.xml``); any other absolute path by its file name.
A database error's server address becomes ``[database server]``. Used by the API on import job records and on
the waveform figures' ``problems``; the full text stays in the server's log and job record.
"""

import re
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:  # uploads imports the tasks module, which this module must not load at import
    from analyst.ingest.uploads import ImportFileData, ImportJobData

# An absolute POSIX path: a "/" that follows no word character, ":" or "/" (so no URL and no "a/b"), up to a
# space, quote, bracket, comma, colon or semicolon.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/[^\s'\"()\[\],:;]+")
_DATABASE_ADDRESS = [
    (re.compile(r'\b(server at|host) "[^"]*"(?: \([^)]*\))?(?:, port \d+)?'), r"\1 [database server]"),
    (re.compile(r"\bhost=\S+|\bport=\d+"), "[database server]"),
    (re.compile(r"\b(?:postgres(?:ql)?|pgsql|redis|rediss|amqp)://\S+"), "[server]"),
]


def _roots() -> list[Path]:
    roots = [Path(settings.DATA_DIR), Path(settings.SHARED_DATA_DIR)]
    if settings.SEISTRIAGE_WATCH_DIR:
        roots.append(Path(settings.SEISTRIAGE_WATCH_DIR))
    return sorted({root.resolve() for root in roots} | set(roots), key=lambda root: -len(str(root)))


def path_public(path: str) -> str:
    """A server path as users see it: relative to the data, shared data or watched folder, else its name (a path
    that is already relative, such as an upload's path under the upload folder, is shown as it is)."""
    if not Path(path).is_absolute():
        return path
    for root in _roots():
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            continue
    return Path(path).name


def text_public(text: str) -> str:
    """A message with every absolute server path made public (path_public) and database addresses removed."""
    for pattern, replacement in _DATABASE_ADDRESS:
        text = pattern.sub(replacement, text)
    return _ABSOLUTE_PATH.sub(lambda match: path_public(match.group(0)), text)


def import_job_public(job: "ImportJobData") -> "ImportJobData":
    """An import job record as its API shows it (the record itself is left as it is)."""
    files: list[ImportFileData] = []
    for entry in job["files"]:
        shown = entry.copy()
        shown["path"] = path_public(shown["path"]) if shown["path"] else ""
        shown["summary"] = text_public(shown["summary"])
        shown["error"] = text_public(shown["error"])
        if "skipped_reasons" in shown:
            shown["skipped_reasons"] = [text_public(reason) for reason in shown["skipped_reasons"]]
        files.append(shown)
    return {**job, "files": files}
