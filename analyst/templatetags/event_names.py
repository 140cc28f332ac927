"""`{{ event|event_name }}`: an event's short readable name (events.display) in the workbench's lists."""

from django import template

from events.display import event_short_name
from events.models import Event

register = template.Library()


@register.filter
def event_name(event: Event) -> str:
    return event_short_name(
        origin_time=event.origin_time,
        magnitude=event.magnitude,
        magnitude_type=event.magnitude_type,
        region=event.region,
        latitude=event.latitude,
        longitude=event.longitude,
    )
