"""Short readable names for events in lists (public ids run to 60 characters and say nothing to an analyst)."""

import datetime as dt


def event_short_name(
    *,
    origin_time: dt.datetime | None,
    magnitude: float | None,
    magnitude_type: str = "",
    region: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
) -> str:
    """ "2021-05-18 12:34:56 M2.3 Mount St. Helens": the UTC origin time to the second, the magnitude and the region
    (or the coordinates when there is no region name)."""
    parts = [origin_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if origin_time else "no origin time"]
    if magnitude is not None:
        parts.append(f"M{magnitude:.1f}" + (f" ({magnitude_type})" if magnitude_type else ""))
    if region:
        parts.append(region[:40])
    elif latitude is not None and longitude is not None:
        parts.append(f"{latitude:.2f}, {longitude:.2f}")
    return " ".join(parts)
