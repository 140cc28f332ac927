"""``{% event_blast_site event %}``: the event page's line about the event's likely blast site
(templates/analyst/_event_blast_site.html; ranking.blast_sites.event_blast_site)."""

from typing import Any

from django import template

from events.models import Event
from ranking.blast_sites import event_blast_site as likely_site

register = template.Library()


@register.inclusion_tag("analyst/_event_blast_site.html")
def event_blast_site(event: Event) -> dict[str, Any]:
    return {"site": likely_site(event=event)}
