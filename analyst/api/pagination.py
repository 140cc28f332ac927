"""Opaque keyset cursors: the last row's sort value and id, base64url-encoded JSON."""

import base64
import binascii
import datetime as dt
import json
from typing import Any

from analyst.selectors.queue import QueueCursor, QueueOrderingError, queue_cursor_value_parse
from analyst.web.parameters import ParameterError, integer_parse

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class CursorError(ValueError):
    pass


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def queue_cursor_encode(cursor: QueueCursor) -> str:
    payload = {"o": cursor.ordering, "v": _plain(cursor.value), "i": cursor.id, "n": cursor.in_nulls}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def queue_cursor_decode(token: str, *, ordering: str) -> QueueCursor:
    """Read a cursor back; it must belong to the ordering asked for."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        cursor_ordering = str(payload["o"])
        if cursor_ordering != ordering:
            raise CursorError(f"cursor: it was made for ordering {cursor_ordering!r}, not {ordering!r}")
        return QueueCursor(
            ordering=cursor_ordering,
            value=queue_cursor_value_parse(ordering=cursor_ordering, value=payload["v"]),
            id=int(payload["i"]),
            in_nulls=bool(payload["n"]),
        )
    except CursorError:
        raise
    except (binascii.Error, ValueError, KeyError, TypeError, QueueOrderingError):
        raise CursorError("cursor: not a cursor this API issued (start again from the first page)") from None


def page_size_parse(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        return integer_parse(name="limit", raw=raw, minimum=1, maximum=MAX_PAGE_SIZE)
    except ParameterError as error:
        raise CursorError(str(error)) from None
