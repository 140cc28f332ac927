"""The stored event rows of the whole database as plain, comparable values: for checking that two routes of
an import (the QuakeML stream and ObsPy's reader) store the same thing, field by field."""

import math
from typing import Any

from django.db.models import Model

from events.models import Amplitude, Arrival, Event, Magnitude, Origin, Pick

# Row ids and times of writing differ between two imports of the same file; a reference to another row is
# compared through that row's public id.
_LEFT_OUT = {"id", "created_at", "updated_at", "scoring_requested_at"}
_TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "events": (Event, ("preferred_origin", "preferred_magnitude")),
    "origins": (Origin, ("event",)),
    "picks": (Pick, ("event",)),
    "arrivals": (Arrival, ("origin", "pick")),
    "magnitudes": (Magnitude, ("event", "origin")),
    "amplitudes": (Amplitude, ("event", "pick")),
}


def _plain(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def _row(obj: Model) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in _LEFT_OUT:
            continue
        if field.is_relation:
            related = getattr(obj, field.name)
            row[field.name] = None if related is None else related.public_id
        else:
            row[field.name] = _plain(getattr(obj, field.attname))
    return row


def event_store_rows() -> dict[str, list[dict[str, Any]]]:
    """Every event, origin, pick, arrival, magnitude and amplitude row; each table in an order that depends on
    the values only (rows may share a public id)."""
    return {
        name: sorted((_row(obj) for obj in model._default_manager.select_related(*related)), key=repr)
        for name, (model, related) in _TABLES.items()
    }
