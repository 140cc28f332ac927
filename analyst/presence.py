"""Presence: who is looking at an event right now, kept in the Django cache (no table, no migration).

The event page sends a heartbeat every PRESENCE_HEARTBEAT_SECONDS; an analyst counts as present until
SEISTRIAGE_PRESENCE_SECONDS after their last one. One cache entry per event maps usernames to their
last heartbeat. Two heartbeats at the same instant may overwrite each other (get then set): the loser
reappears at its next heartbeat, a fair price for needing no lock and no migration. The cache must be
shared by every web process (the file cache under the data directory, or Redis in production).
"""

import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

PRESENCE_KEY = "seistriage:presence:event:{event_id}"


def presence_seconds() -> int:
    return int(getattr(settings, "SEISTRIAGE_PRESENCE_SECONDS", 45))


def presence_heartbeat_seconds() -> int:
    return max(5, presence_seconds() // 3)


def _key(event_id: int) -> str:
    return PRESENCE_KEY.format(event_id=event_id)


def _live(seen: dict[str, float], now: float) -> dict[str, float]:
    return {name: at for name, at in seen.items() if now - at < presence_seconds()}


def event_presence_record(*, event_id: int, username: str, now: float | None = None) -> list[str]:
    """Note that `username` is looking at the event; return everyone else looking at it."""
    now = time.time() if now is None else now
    seen = _live(cache.get(_key(event_id)) or {}, now)
    seen[username] = now
    cache.set(_key(event_id), seen, timeout=presence_seconds())
    return sorted(name for name in seen if name != username)


def event_presence_leave(*, event_id: int, username: str) -> None:
    seen = cache.get(_key(event_id)) or {}
    if seen.pop(username, None) is not None:
        cache.set(_key(event_id), seen, timeout=presence_seconds())


def events_presence_get(*, event_ids: Iterable[int], now: float | None = None) -> dict[int, list[str]]:
    """Who is looking at each of these events (only events someone is looking at)."""
    now = time.time() if now is None else now
    ids = list(event_ids)
    found = cache.get_many([_key(event_id) for event_id in ids])
    answer: dict[int, list[str]] = {}
    for event_id in ids:
        names = sorted(_live(found.get(_key(event_id)) or {}, now))
        if names:
            answer[event_id] = names
    return answer
