import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from analyst.bulletins.conversion import ExportItem
from fileimport.text import text_without_controls


@dataclass(frozen=True)
class BulletinHeader:
    """What a bulletin says about itself: id, who made it and when, and what it selected."""

    public_id: str
    title: str
    author: str
    agency: str
    created_at: dt.datetime
    selection: str


class BulletinWriter:
    """Write `begin`, then `write` once per chunk of events, then `end`; nothing is held between chunks."""

    extension: ClassVar[str] = ""
    content_type: ClassVar[str] = "application/octet-stream"

    def __init__(self, out: BinaryIO, header: BulletinHeader) -> None:
        self.out = out
        # The selection quotes the request; XML writers refuse control characters in it as anywhere else.
        self.header = dataclasses.replace(
            header,
            public_id=text_without_controls(header.public_id),
            title=text_without_controls(header.title),
            author=text_without_controls(header.author),
            agency=text_without_controls(header.agency),
            selection=text_without_controls(header.selection),
        )
        self.count = 0

    def begin(self) -> None:
        raise NotImplementedError

    def write(self, items: Sequence[ExportItem]) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


def split_wrapper(document: bytes, tag: bytes) -> tuple[bytes, bytes, bytes]:
    """Split an XML document around the content of its one `<tag ...>` element: (head, inner, tail)."""
    start = document.index(b"<" + tag)
    start_end = document.index(b">", start)
    if document[start_end - 1 : start_end] == b"/":  # an empty element: <tag .../>
        head = document[: start_end - 1].rstrip() + b">"
        return head, b"", b"</" + tag + b">" + document[start_end + 1 :]
    close = document.rindex(b"</" + tag + b">")
    return document[: start_end + 1], document[start_end + 1 : close], document[close:]
