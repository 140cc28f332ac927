"""Real events for the export tests: ObsPy's bundled bulletins imported, a few reviewed by analysts."""

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from analyst.bulletins.services import bulletin_criteria, bulletin_write
from analyst.ingest.services import events_ingest_file
from analyst.review import event_review
from events.models import Event

WINDOW = (dt.datetime(1990, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))


def import_bundled(obspy_data: Path) -> None:
    """The Nordic catalogue (picks, arrivals, amplitudes) as automatic events; the IPEC IMS1.0
    bulletin and the SeisComP and ComCat QuakeML events as reviewed ones."""
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    for name in (
        "io/iaspei/tests/data/ipe202409sel_ims.txt",
        "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml",
        "io/quakeml/tests/data/usgs_event.xml",
    ):
        events_ingest_file(path=obspy_data / name, reviewed=True)


def review_some(analyst: User) -> tuple[Event, Event]:
    """An analyst accepts the first Nordic event as a suspected quarry blast and rejects the second."""
    first, second = Event.objects.filter(source_format="NORDIC").order_by("origin_time", "id")[:2]
    event_review(
        event_id=first.pk,
        user=analyst,
        version=first.version,
        decision="accept",
        event_type="quarry blast",
        certainty="suspected",
    )
    event_review(event_id=second.pk, user=analyst, version=second.version, decision="reject")
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


def export(format: str, status: str = "all", chunk_size: int = 200) -> bytes:
    out = io.BytesIO()
    bulletin_write(
        out=out,
        format=format,
        criteria=bulletin_criteria(start=WINDOW[0], end=WINDOW[1], status=status),
        status=status,
        author="test",
        public_id="smi:seistriage.local/bulletin/test",
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        chunk_size=chunk_size,
    )
    return out.getvalue()


@contextmanager
def catalogue_for_module(django_db_blocker: Any, obspy_data: Path) -> Iterator[tuple[User, Event, Event]]:
    """Import and review once for a whole test module (a module-scoped fixture wraps this); everything is
    rolled back at the end. Each test still runs in its own savepoint, so tests cannot see each other's writes.

    Yields the reviewing analyst ("reviewer") and the accepted and rejected Nordic events."""
    from analyst.roles import roles_ensure

    with django_db_blocker.unblock(), transaction.atomic():
        reviewer = User.objects.create_user("reviewer", password="reviewer-password-1")
        reviewer.groups.add(roles_ensure()["analyst"])
        import_bundled(obspy_data)
        accepted, rejected = review_some(reviewer)
        yield reviewer, accepted, rejected
        transaction.set_rollback(True)
