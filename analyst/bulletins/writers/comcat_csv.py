"""CSV in the ComCat feed's 22-column layout, then Seistriage's provenance columns.

The first 22 columns are exactly ComCat's, so tools that read the feed read this; the extra columns
(reviewer, review time, importance, model versions) follow them. Units as ComCat: depth and errors
in km, `dmin` in degrees, times ISO 8601 UTC with milliseconds.
"""

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import ClassVar

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.writers.base import BulletinWriter
from events.importers.catalog_csv import COMCAT_COLUMNS_22
from events.models import Event, Magnitude, Origin
from events.vocabulary import ReviewState

PROVENANCE_COLUMNS = ["reviewStatus", "reviewedBy", "reviewedAt", "importance", "predictedClass", "modelVersions"]
COLUMNS = [*COMCAT_COLUMNS_22, *PROVENANCE_COLUMNS]


def comcat_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _value(value: float | int | None) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def comcat_status(event: Event) -> str:
    """ComCat's status words: reviewed, automatic, deleted (a rejected event)."""
    if event.review_state == ReviewState.REJECTED:
        return "deleted"
    return "reviewed" if event.review_state == ReviewState.ACCEPTED else "automatic"


def comcat_code(event: Event) -> str:
    """ComCat's `id` column: the part after the last `=` or `/` of the public id."""
    return event.public_id.rsplit("=", 1)[-1].rsplit("/", 1)[-1]


def event_row(item: ExportItem) -> list[str]:
    event = item.event
    origin: Origin | None = next((o for o in event.origins.all() if o.pk == event.preferred_origin_id), None)
    magnitude: Magnitude | None = next(
        (m for m in event.magnitudes.all() if m.pk == event.preferred_magnitude_id), None
    )
    horizontal = None
    if origin is not None and origin.latitude_uncertainty is not None and origin.longitude_uncertainty is not None:
        horizontal = max(origin.latitude_uncertainty, origin.longitude_uncertainty)
    provenance = item.provenance
    event_type = "not existing" if event.review_state == ReviewState.REJECTED else event.event_type
    return [
        comcat_time(event.origin_time),
        _value(event.latitude),
        _value(event.longitude),
        _value(event.depth),
        _value(event.magnitude),
        event.magnitude_type,
        _value(origin.used_station_count if origin else None),
        _value(event.azimuthal_gap),
        _value(origin.minimum_distance if origin else None),
        _value(event.rms),
        event.agency_id.lower(),
        comcat_code(event),
        comcat_time(event.updated_at),
        event.region,
        event_type,
        _value(horizontal),
        _value(origin.depth_uncertainty if origin else None),
        _value(magnitude.uncertainty if magnitude else None),
        _value(magnitude.station_count if magnitude else None),
        comcat_status(event),
        (origin.agency_id if origin else "").lower(),
        (magnitude.agency_id if magnitude else "").lower(),
        event.review_state,
        provenance.reviewer,
        comcat_time(provenance.reviewed_at),
        _value(provenance.importance),
        provenance.predicted_class,
        provenance.model_versions_text(),
    ]


class ComcatCsvWriter(BulletinWriter):
    extension: ClassVar[str] = "csv"
    content_type: ClassVar[str] = "text/csv; charset=utf-8"

    def _rows(self, rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        self.out.write(buffer.getvalue().encode("utf-8"))

    def begin(self) -> None:
        self._rows([COLUMNS])

    def write(self, items: Sequence[ExportItem]) -> None:
        self._rows([event_row(item) for item in items])
        self.count += len(items)

    def end(self) -> None:
        pass
