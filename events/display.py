"""Short readable names for events in lists (public ids run to 60 characters and say nothing to an analyst)."""

import datetime as dt

# A list name stays under this many characters: a long region is cut with an ellipsis (lists show it whole on hover).
NAME_MAX = 59


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
    (or the coordinates when there is no region name), at most NAME_MAX characters unless the region has less than
    12 left."""
    parts = [origin_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if origin_time else "no origin time"]
    if magnitude is not None:
        parts.append(f"M{magnitude:.1f}" + (f" ({magnitude_type})" if magnitude_type else ""))
    if region:
        room = max(NAME_MAX - len(" ".join(parts)) - 1, 12)
        parts.append(region if len(region) <= room else region[: room - 1].rstrip() + "…")
    elif latitude is not None and longitude is not None:
        parts.append(f"{latitude:.2f}, {longitude:.2f}")
    return " ".join(parts)
