"""GeoJSON FeatureCollection in the shape of the USGS event feed: [lon, lat, depth km], times in ms."""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.writers.base import BulletinWriter
from analyst.bulletins.writers.comcat_csv import comcat_code, comcat_status
from events.vocabulary import ReviewState


def _milliseconds(value: dt.datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def feature(item: ExportItem) -> dict[str, Any]:
    event = item.event
    provenance = item.provenance
    return {
        "type": "Feature",
        "id": comcat_code(event),
        "properties": {
            "publicID": event.public_id,
            "mag": event.magnitude,
            "magType": event.magnitude_type or None,
            "place": event.region or None,
            "time": _milliseconds(event.origin_time),
            "updated": _milliseconds(event.updated_at),
            "type": "not existing" if event.review_state == ReviewState.REJECTED else event.event_type or None,
            "typeCertainty": event.event_type_certainty or None,
            "status": comcat_status(event),
            "net": event.agency_id.lower() or None,
            "nst": event.phase_count,
            "gap": event.azimuthal_gap,
            "rms": event.rms,
            "reviewStatus": event.review_state,
            "reviewedBy": provenance.reviewer or None,
            "reviewedAt": _milliseconds(provenance.reviewed_at),
            "importance": provenance.importance,
            "predictedClass": provenance.predicted_class or None,
            "modelVersions": dict(sorted(provenance.model_versions.items())),
            "rankerVersion": provenance.ranker_version or None,
        },
        "geometry": {"type": "Point", "coordinates": [event.longitude, event.latitude, event.depth]},
    }


class GeoJsonWriter(BulletinWriter):
    extension: ClassVar[str] = "geojson"
    content_type: ClassVar[str] = "application/geo+json"

    def begin(self) -> None:
        metadata = {
            "id": self.header.public_id,
            "title": self.header.title,
            "generated": _milliseconds(self.header.created_at),
            "author": self.header.author,
            "selection": self.header.selection,
        }
        self.out.write(b'{"type":"FeatureCollection","metadata":' + json.dumps(metadata).encode() + b',"features":[')

    def write(self, items: Sequence[ExportItem]) -> None:
        for item in items:
            separator = b",\n" if self.count else b"\n"
            self.out.write(separator + json.dumps(feature(item), separators=(",", ":")).encode())
            self.count += 1

    def end(self) -> None:
        self.out.write(b"\n]}\n")
