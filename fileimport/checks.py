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


_DOCTYPE_REFUSED = "XML with a DOCTYPE or entity declarations is refused (QuakeML and StationXML need none)"
# Byte order marks a reader honours before the first "<": UTF-8, UTF-32 and UTF-16 (lxml and ObsPy read them all).
_BYTE_ORDER_MARKS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _looks_like_xml(head: bytes) -> bool:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return head[len(mark) :].decode(encoding, errors="ignore").lstrip().startswith("<")
    return head.lstrip().startswith(b"<")


def xml_syntax_error(path: Path) -> str | None:
    """The first XML syntax error with its line, for files that look like XML (a byte order mark first too);
    None otherwise.

    A DOCTYPE is refused outright: QuakeML, SC3ML and StationXML need none, and its entities can expand without
    bound (billion laughs) or name local files and URLs (external entities). The refusal looks at the parsed
    document, not only at the first bytes, so a byte order mark, another encoding or a long comment before the
    DOCTYPE does not hide it; the parse itself resolves no entity and loads no DTD."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not _looks_like_xml(head):
        return None
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        return _DOCTYPE_REFUSED
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        document = etree.parse(str(path), parser)
    except etree.XMLSyntaxError as error:
        return f"XML syntax error at line {error.lineno}, column {error.offset}: {error.msg}"
    if document.docinfo.doctype or document.docinfo.internalDTD is not None:
        return _DOCTYPE_REFUSED
    return None
