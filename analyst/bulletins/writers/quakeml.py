"""QuakeML 1.2, through ObsPy's own serializer one chunk at a time, spliced into one document."""

from collections.abc import Sequence
from typing import ClassVar

from obspy import UTCDateTime
from obspy.core.event import Catalog, Comment, CreationInfo, ResourceIdentifier
from obspy.io.quakeml.core import Pickler

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.writers.base import BulletinWriter, split_wrapper

EVENT_PARAMETERS = b"eventParameters"


def header_catalog(writer: BulletinWriter) -> Catalog:
    header = writer.header
    return Catalog(
        resource_id=ResourceIdentifier(header.public_id),
        description=header.title,
        comments=[Comment(resource_id=ResourceIdentifier(f"{header.public_id}/selection"), text=header.selection)],
        creation_info=CreationInfo(
            agency_id=header.agency or None, author=header.author or None, creation_time=UTCDateTime(header.created_at)
        ),
    )


def quakeml_chunk(items: Sequence[ExportItem], public_id: str) -> bytes:
    catalog = Catalog(events=[item.obspy_event for item in items], resource_id=ResourceIdentifier(public_id))
    document: bytes = Pickler().dumps(catalog)
    return document


class QuakeMLWriter(BulletinWriter):
    extension: ClassVar[str] = "xml"
    content_type: ClassVar[str] = "application/xml"

    def begin(self) -> None:
        document: bytes = Pickler().dumps(header_catalog(self))
        head, inner, self._tail = split_wrapper(document, EVENT_PARAMETERS)
        self.out.write(head + inner.rstrip(b" "))

    def write(self, items: Sequence[ExportItem]) -> None:
        if not items:
            return
        _, inner, _ = split_wrapper(quakeml_chunk(items, self.header.public_id), EVENT_PARAMETERS)
        self.out.write(inner.lstrip(b"\n").rstrip(b" "))
        self.count += len(items)

    def end(self) -> None:
        self.out.write(b"  " + self._tail)
