"""Checks every importer runs before a reader sees a file: a regular, non-empty file, and XML that parses safely."""

from pathlib import Path

from lxml import etree

from fileimport.errors import ImportFileError


def file_check_regular_nonempty(path: Path) -> None:
    """Refuse a missing path, a folder or an empty file with a message naming it."""
    if not path.exists():
        raise ImportFileError(path, "no such file")
    if not path.is_file():
        raise ImportFileError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise ImportFileError(path, "the file is empty")


def xml_syntax_error(path: Path) -> str | None:
    """The first XML syntax error with its line, for files that look like XML; None otherwise.

    A DOCTYPE is refused outright: QuakeML, SC3ML and StationXML need none, and its entities can expand without
    bound (billion laughs) or name local files and URLs (external entities)."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.lstrip().startswith(b"<"):
        return None
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        return "XML with a DOCTYPE or entity declarations is refused (QuakeML and StationXML need none)"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        etree.parse(str(path), parser)
    except etree.XMLSyntaxError as error:
        return f"XML syntax error at line {error.lineno}, column {error.offset}: {error.msg}"
    return None
