"""Cached figure payloads: keyed on everything that changes the drawing, so changed data invalidate."""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Sum

from waveforms.models import InventorySource, WaveformSource

CACHE_SECONDS = 24 * 3600
KEY_PREFIX = "waveform-figure"


def waveform_data_fingerprint() -> str:
    """Changes whenever a waveform file or SDS root or an inventory is registered, re-read or removed."""
    sources = WaveformSource.objects.aggregate(
        n=Count("id"), last=Max("registered_at"), size=Sum("size_bytes"), modified=Max("modified_at")
    )
    inventories = InventorySource.objects.aggregate(n=Count("id"), last=Max("imported_at"))
    return json.dumps([sources, inventories], default=str, sort_keys=True)


def figure_cache_key(*, parts: dict[str, Any]) -> str:
    """A short cache key from the request parts (event id and version, window, filter, width, fingerprint)."""
    digest = hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()
    return f"{KEY_PREFIX}:{digest}"


def figure_cached(*, key: str, build: Callable[[], bytes]) -> tuple[bytes, bool]:
    """The cached JSON bytes under ``key``, or ``build()`` stored there; the flag says whether it was a hit."""
    payload: bytes | None = cache.get(key)
    if payload is not None:
        return payload, True
    payload = build()
    cache.set(key, payload, CACHE_SECONDS)
    return payload, False
