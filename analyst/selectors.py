from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from analyst.models import Arrival, Event, Origin


def event_list_page(*, page_number: str, per_page: int = 100) -> Page[Event]:
    events = Event.objects.order_by("-origin_time", "-id").only(
        "id", "public_id", "origin_time", "latitude", "longitude", "depth", "magnitude", "magnitude_type",
        "event_type", "review_state", "region",
    )  # fmt: skip
    return Paginator(events, per_page).get_page(page_number)


def event_detail_get(*, event_id: int) -> dict[str, Any]:
    event = get_object_or_404(Event.objects.select_related("preferred_origin", "preferred_magnitude"), pk=event_id)
    origins = Origin.objects.filter(event=event).prefetch_related(
        Prefetch("arrivals", queryset=Arrival.objects.select_related("pick").order_by("distance"))
    )
    return {
        "event": event,
        "origins": origins,
        "magnitudes": event.magnitudes.select_related("origin").all(),
        "picks": event.picks.order_by("time"),
        "amplitudes": event.amplitudes.all(),
        "labels": event.labels.select_related("analyst").order_by("-created_at"),
    }
