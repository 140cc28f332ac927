"""Blast sites in the database: learning them from reviewed explosions, the ranker's ``blast_site`` features,
and an event's likely site for the event page (what ranking.ml.sites computes, on stored events).

``blast_sites_learn`` replaces the ``BlastSite`` rows with the sites of the reviewed (accepted) explosion-like
events, named from the operator gazetteer when one is configured; ``learn_blast_sites`` and every ranker
training run it. ``event_blast_site`` gives an event's likely site with the earlier blasts within its radius,
their usual hours, and the waveform similarity (ranking.ml.similarity's cross-correlation around P) to the
most recent of them at each shared station.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone
from obspy.geodetics import gps2dist_azimuth, kilometers2degrees

from events.filters import event_filter_around, events_filter
from events.models import Event
from events.vocabulary import ReviewState
from ranking.inputs import class_of_review, gazetteer_current
from ranking.ml.classes import EXPLOSION_LIKE
from ranking.ml.similarity import channel_similarity
from ranking.ml.sites import SITE_FEATURES, Site, SiteMatch, site_feature_rows, sites_attribute, sites_learn
from ranking.models import BlastSite
from ranking.waveform_features import (
    NO_WAVEFORMS,
    events_waveform_features_refresh,
    similarity_windows_of,
    waveform_fingerprints,
)

SIMILARITY_BLASTS = 5  # the most recent earlier blasts of the site compared with an event's waveforms


def _explosions(*, until: dt.datetime | None = None) -> list[tuple[float, float, float]]:
    rows = Event.objects.filter(
        review_state=ReviewState.ACCEPTED, origin_time__isnull=False, latitude__isnull=False, longitude__isnull=False
    )
    if until is not None:
        rows = rows.filter(origin_time__lt=until)
    found: list[tuple[float, float, float]] = []
    for origin_time, latitude, longitude, state, event_type in rows.values_list(
        "origin_time", "latitude", "longitude", "review_state", "event_type"
    ):
        if origin_time is None or latitude is None or longitude is None:
            continue
        if class_of_review(review_state=state, event_type=event_type) == EXPLOSION_LIKE:
            found.append((origin_time.timestamp(), float(latitude), float(longitude)))
    return found


def blast_sites_learn(*, until: dt.datetime | None = None) -> int:
    """Relearn the blast sites from the accepted explosion-like events (before ``until`` when given); returns
    how many sites there are now. The rows are replaced in one transaction."""
    blasts = _explosions(until=until)
    sites = sites_learn(
        [b[0] for b in blasts], [b[1] for b in blasts], [b[2] for b in blasts], gazetteer=gazetteer_current()
    )
    now = timezone.now()
    with transaction.atomic():
        BlastSite.objects.all().delete()
        BlastSite.objects.bulk_create(
            [
                BlastSite(
                    number=site.number,
                    latitude=site.latitude,
                    longitude=site.longitude,
                    spread_km=site.spread_km,
                    radius_km=site.radius_km,
                    blast_count=site.count,
                    hour_counts=list(site.hour_counts),
                    first_blast=dt.datetime.fromtimestamp(site.first_blast, tz=dt.UTC),
                    last_blast=dt.datetime.fromtimestamp(site.last_blast, tz=dt.UTC),
                    name=site.name,
                    learned_at=now,
                )
                for site in sites
            ]
        )
    return len(sites)


def blast_sites_current() -> list[Site]:
    """The stored sites as ranking.ml.sites.Site values (number order)."""
    return [
        Site(
            number=row.number,
            latitude=row.latitude,
            longitude=row.longitude,
            spread_km=row.spread_km,
            radius_km=row.radius_km,
            count=row.blast_count,
            hour_counts=tuple(int(v) for v in row.hour_counts),
            first_blast=row.first_blast.timestamp(),
            last_blast=row.last_blast.timestamp(),
            name=row.name,
        )
        for row in BlastSite.objects.order_by("number")
    ]


def _uncertainty_km(event: Event) -> float | None:
    origin = event.preferred_origin
    if origin is None:
        return None
    known = [u for u in (origin.latitude_uncertainty, origin.longitude_uncertainty) if u is not None]
    return max(known) if known else None


def events_site_matches(events: Sequence[Event], sites: Sequence[Site] | None = None) -> list[SiteMatch | None]:
    """Each located event's likely site (None for unlocated events or where no site is stored)."""
    sites = blast_sites_current() if sites is None else sites
    located: list[tuple[Event, float, float, float]] = [
        (e, e.origin_time.timestamp(), e.latitude, e.longitude)
        for e in events
        if e.origin_time is not None and e.latitude is not None and e.longitude is not None
    ]
    matches = sites_attribute(
        sites,
        [row[1] for row in located],
        [row[2] for row in located],
        [row[3] for row in located],
        [_uncertainty_km(row[0]) for row in located],
    )
    by_pk = {row[0].pk: m for row, m in zip(located, matches, strict=True)}
    return [by_pk.get(e.pk) for e in events]


def events_site_features(events: Sequence[Event]) -> np.ndarray:
    """The ``blast_site`` feature group (ranking.ml.sites.SITE_FEATURES) per event, NaN without sites."""
    return site_feature_rows(events_site_matches(events))


@dataclass(frozen=True)
class StationSimilarity:
    seed_id: str
    correlation: float
    blasts: int  # earlier blasts of the site compared at this station


@dataclass(frozen=True)
class EventBlastSite:
    """What the event page shows about an event's likely blast site."""

    match: SiteMatch
    earlier_blasts: int  # accepted explosion-like events before the event within the site's radius of its centroid
    active_hours: tuple[int, int]
    similarity: list[StationSimilarity]  # best first

    @property
    def best(self) -> StationSimilarity | None:
        return self.similarity[0] if self.similarity else None


def _earlier_site_blasts(site: Site, before: dt.datetime) -> list[Event]:
    box = event_filter_around(points=[(site.latitude, site.longitude)], radius=kilometers2degrees(site.radius_km))
    rows = events_filter(
        queryset=Event.objects.filter(review_state=ReviewState.ACCEPTED, origin_time__lt=before), where=box
    ).order_by("-origin_time")
    found = []
    for other in rows.only("pk", "latitude", "longitude", "origin_time", "review_state", "event_type"):
        if class_of_review(review_state=other.review_state, event_type=other.event_type) != EXPLOSION_LIKE:
            continue
        assert other.latitude is not None and other.longitude is not None
        if gps2dist_azimuth(site.latitude, site.longitude, other.latitude, other.longitude)[0] <= site.radius_km * 1e3:
            found.append(other)
    return found


def _station_similarity(event: Event, blasts: Sequence[Event]) -> list[StationSimilarity]:
    covered = waveform_fingerprints(events=[event, *blasts])
    with_waveforms = [b for b in blasts if covered.get(b.pk, NO_WAVEFORMS) != NO_WAVEFORMS][:SIMILARITY_BLASTS]
    if covered.get(event.pk, NO_WAVEFORMS) == NO_WAVEFORMS or not with_waveforms:
        return []
    rows = events_waveform_features_refresh(events=[event, *with_waveforms])
    own_row = rows.get(event.pk)
    if own_row is None:
        return []
    own_ids = {c["seed_id"] for c in own_row.channels}
    best: dict[str, list[float]] = {}
    own_windows = similarity_windows_of(own_row, own_ids)
    for blast in with_waveforms:
        row = rows.get(blast.pk)
        if row is None:
            continue
        shared = own_ids & {c["seed_id"] for c in row.channels}
        theirs = similarity_windows_of(row, shared)
        for seed_id in sorted(set(theirs) & set(own_windows)):
            value = channel_similarity(own_windows[seed_id], theirs[seed_id])
            if value is not None:
                best.setdefault(seed_id, []).append(value)
    result = [StationSimilarity(seed_id, round(max(v), 3), len(v)) for seed_id, v in best.items()]
    return sorted(result, key=lambda s: (-s.correlation, s.seed_id))


def event_blast_site(*, event: Event) -> EventBlastSite | None:
    """The event's likely blast site (None when it lies in none of the stored sites or is not located)."""
    match = events_site_matches([event])[0]
    if match is None or not match.inside or event.origin_time is None:
        return None
    blasts = [b for b in _earlier_site_blasts(match.site, event.origin_time) if b.pk != event.pk]
    return EventBlastSite(
        match=match,
        earlier_blasts=len(blasts),
        active_hours=match.site.active_hours(),
        similarity=_station_similarity(event, blasts),
    )


__all__ = ["SITE_FEATURES", "blast_sites_learn", "event_blast_site", "events_site_features"]
