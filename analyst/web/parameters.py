"""Parsing query parameters (integers, numbers, times) for every page, API endpoint and the FDSN service.

One place, because each endpoint's own `raw.isdigit()` / `int()` / `float()` / `UTCDateTime()` let through
input that then failed deep inside: `'²'.isdigit()` is true but `int('²')` raises, an id past PostgreSQL's
bigint fails the query, `1e300` seconds overflows a time, `5e-324` Hz breaks the filter design. A bad value
raises ParameterError, whose message starts with the parameter's name: the caller answers 400 with it.
"""

import datetime as dt
import math
import sys

from obspy import UTCDateTime

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint, the type of every id and offset we compare with


class ParameterError(ValueError):
    """A query parameter that cannot be used; ``str()`` is the message for the client, naming the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def integer_parse(*, name: str, raw: str, minimum: int = 0, maximum: int = BIGINT_MAX) -> int:
    """A whole number written in ASCII digits (no sign, no spaces, no superscripts) in [minimum, maximum]."""
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > len(str(BIGINT_MAX)):
        raise ParameterError(name, f"a whole number from {minimum} to {maximum}, got {raw!r}")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ParameterError(name, f"a whole number from {minimum} to {maximum}, got {raw!r}")
    return value


def integers_parse(*, name: str, raw: str, most: int, maximum: int = BIGINT_MAX) -> list[int]:
    """Comma-separated whole numbers (as ``integer_parse``), at most ``most`` of them; blanks are skipped."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) > most:
        raise ParameterError(name, f"at most {most} values separated by commas, got {len(parts)}")
    return [integer_parse(name=name, raw=part, minimum=0, maximum=maximum) for part in parts]


def number_parse(*, name: str, raw: str, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    """A finite, non-denormal decimal number in [minimum, maximum] (NaN, inf and 5e-324 are refused)."""
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(name, f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(name, f"a finite number, got {raw!r}")
    if value != 0.0 and abs(value) < sys.float_info.min:
        raise ParameterError(name, f"{raw!r} is too close to zero to compute with")
    if not minimum <= value <= maximum:
        raise ParameterError(name, f"a number from {minimum:g} to {maximum:g}, got {raw!r}")
    return value


def time_parse(*, name: str, raw: str) -> dt.datetime:
    """An ISO 8601 time (UTC unless it says otherwise) as an aware datetime, years 1..9999."""
    if "\x00" in raw:
        raise ParameterError(name, "NUL characters are not allowed")
    try:
        return UTCDateTime(raw).datetime.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    except (ValueError, TypeError, OverflowError):
        raise ParameterError(name, f"{raw!r} is not a time (YYYY-MM-DDThh:mm:ss)") from None
