"""KML 2.2: one placemark per event, its facts in ExtendedData (for Google Earth and GIS tools)."""

import datetime as dt
from collections.abc import Sequence
from typing import ClassVar
from xml.sax.saxutils import escape, quoteattr

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.writers.base import BulletinWriter
from events.vocabulary import ReviewState


def _data(name: str, value: object) -> str:
    text = "" if value is None else str(value)
    return f"<Data name={quoteattr(name)}><value>{escape(text)}</value></Data>"


class KmlWriter(BulletinWriter):
    extension: ClassVar[str] = "kml"
    content_type: ClassVar[str] = "application/vnd.google-earth.kml+xml"

    def begin(self) -> None:
        self.out.write(
            (
                '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n'
                f"<name>{escape(self.header.title)}</name>\n<description>{escape(self.header.selection)}</description>\n"
            ).encode()
        )

    def write(self, items: Sequence[ExportItem]) -> None:
        parts = []
        for item in items:
            event = item.event
            provenance = item.provenance
            event_type = "not existing" if event.review_state == ReviewState.REJECTED else event.event_type
            time = event.origin_time.astimezone(dt.UTC).isoformat() if event.origin_time else ""
            name = f"{event.magnitude_type} {event.magnitude:.1f}" if event.magnitude is not None else "event"
            parts.append(
                f"<Placemark id={quoteattr(str(event.pk))}><name>{escape(name)} {escape(event.region)}</name>"
                f"<TimeStamp><when>{time}</when></TimeStamp><ExtendedData>"
                + _data("publicID", event.public_id)
                + _data("type", event_type)
                + _data("typeCertainty", event.event_type_certainty)
                + _data("reviewStatus", event.review_state)
                + _data("reviewedBy", provenance.reviewer)
                + _data("reviewedAt", provenance.reviewed_at.isoformat() if provenance.reviewed_at else "")
                + _data("importance", provenance.importance)
                + _data("modelVersions", provenance.model_versions_text())
                + _data("depthKm", event.depth)
                + _data("magnitude", event.magnitude)
                + _data("magnitudeType", event.magnitude_type)
                + f"</ExtendedData><Point><coordinates>{event.longitude},{event.latitude},0</coordinates></Point>"
                "</Placemark>\n"
            )
            self.count += 1
        self.out.write("".join(parts).encode())

    def end(self) -> None:
        self.out.write(b"</Document>\n</kml>\n")
