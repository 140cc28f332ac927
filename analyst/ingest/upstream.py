"""Pulling events from upstream FDSN event services (SeisComP, USGS, another Seistriage) on a schedule.

Each poll asks only for what changed since the last successful one (`updatedafter`); an upstream whose
application.wadl lacks that parameter, or that answers 400 to it, is asked for a time window instead. The
fetched QuakeML goes through the ordinary importer (matching, updating, scoring on commit), as automatic events.
"""

import datetime as dt
import logging
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNBadRequestException, FDSNException, FDSNNoDataException
from obspy.clients.fdsn.wadl_parser import WADLParser

from analyst.ingest.services import events_ingest_file
from analyst.models import FdsnSource
from fileimport.errors import ImportFileError

logger = logging.getLogger(__name__)


@dataclass
class UpstreamPollReport:
    source: str
    mode: str = ""  # "updatedafter" or "window"
    fetched: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        if self.error:
            return f"{self.source}: FAILED {self.error}"
        return (
            f"{self.source} [{self.mode}]: {self.fetched} fetched, {self.created} created, {self.updated} updated, "
            f"{self.skipped} skipped"
        )


def wadl_supports_updated_after(wadl: bytes) -> bool:
    """Whether an fdsnws-event application.wadl lists the `updatedafter` query parameter."""
    return "updatedafter" in WADLParser(wadl).parameters


def _client(source: FdsnSource) -> tuple[Client, bool]:
    """ObsPy's client for the source's event service, and whether that service takes `updatedafter`.

    An upstream without a readable application.wadl is assumed to take the standard parameters; a 400
    then tells us otherwise (see fdsn_source_poll).
    """
    root = source.base_url.rstrip("/")
    host = root.split("/fdsnws/", 1)[0]
    options: dict[str, Any] = {
        "service_mappings": {"event": root, "station": None, "dataselect": None},
        "timeout": settings.SEISTRIAGE_UPSTREAM_TIMEOUT,
    }
    try:
        client = Client(base_url=host, **options)
    except FDSNException:
        client = Client(base_url=host, _discover_services=False, **options)
        return client, True
    return client, "updatedafter" in client.services.get("event", {})


def _parameters(source: FdsnSource, *, now: dt.datetime, incremental: bool) -> dict[str, Any]:
    parameters: dict[str, Any] = dict(source.query)
    if incremental:
        assert source.last_success_at is not None
        parameters["updatedafter"] = UTCDateTime(source.last_success_at)
    else:
        window_start = UTCDateTime(now - dt.timedelta(seconds=source.window_seconds))
        given = parameters.get("starttime")
        # The source's own starttime bounds the first poll; afterwards the window keeps each poll small.
        if given is None or source.last_success_at is not None:
            parameters["starttime"] = max(window_start, UTCDateTime(given)) if given else window_start
    return parameters


def _fetch(client: Client, parameters: dict[str, Any], target: Path) -> bool:
    """Write the upstream's QuakeML answer to `target`; False when it has no matching events (204/404)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a parameter the upstream ignores must not pass silently
            client.get_events(filename=str(target), **parameters)
    except FDSNNoDataException:
        return False
    return True


def fdsn_source_poll(*, source: FdsnSource) -> UpstreamPollReport:
    """Poll one upstream once, import what it returns and record the outcome on the source; never raises for
    upstream or file errors (they are recorded in `last_error`)."""
    report = UpstreamPollReport(source=source.name)
    started = timezone.now()
    incoming = Path(settings.DATA_DIR) / "upstream"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=incoming, prefix=f"source{source.pk}-", suffix=".xml")
    os.close(handle)
    target = Path(name)
    try:
        client, supports = _client(source)
        incremental = source.use_updated_after and supports and source.last_success_at is not None
        try:
            got = _fetch(client, _parameters(source, now=started, incremental=incremental), target)
        except FDSNBadRequestException as error:
            if not incremental:
                raise
            logger.warning("%s refused updatedafter (%s); asking for a time window from now on", source, error)
            source.use_updated_after = False
            incremental = False
            got = _fetch(client, _parameters(source, now=started, incremental=False), target)
        report.mode = "updatedafter" if incremental else "window"
        if got and target.stat().st_size:
            imported = events_ingest_file(path=target, format="QUAKEML")
            report.created, report.updated = imported.events_created, imported.events_updated
            report.skipped = imported.events_skipped
            report.fetched = report.created + report.updated + report.skipped
    except (FDSNException, ImportFileError, OSError, TypeError, ValueError, Warning) as error:
        # TypeError/ValueError/Warning: ObsPy's answer to a parameter the upstream does not take or a bad value.
        report.error = f"{type(error).__name__}: {error}"[:4000]
    finally:
        target.unlink(missing_ok=True)
    source.last_poll_at = started
    source.last_error = report.error
    fields = ["last_poll_at", "last_error", "use_updated_after"]
    if not report.error:
        source.last_success_at = started
        source.last_event_count = report.fetched
        fields += ["last_success_at", "last_event_count"]
    source.save(update_fields=fields)
    logger.info("%s", report.summary())
    return report


def fdsn_sources_due(*, now: dt.datetime) -> list[FdsnSource]:
    """Enabled sources never polled, or whose interval has elapsed since their last poll."""
    sources = FdsnSource.objects.filter(enabled=True).filter(Q(last_poll_at__isnull=True) | Q(last_poll_at__lte=now))
    return [
        s
        for s in sources.order_by(F("last_poll_at").asc(nulls_first=True), "pk")
        if s.last_poll_at is None or s.last_poll_at + dt.timedelta(seconds=s.poll_interval_seconds) <= now
    ]


def fdsn_sources_poll_due() -> list[UpstreamPollReport]:
    """Poll every source that is due. Each is claimed with a conditional UPDATE first, so two beat ticks or two
    workers never poll one source at once."""
    now = timezone.now()
    reports = []
    for source in fdsn_sources_due(now=now):
        claimed = FdsnSource.objects.filter(pk=source.pk, last_poll_at=source.last_poll_at).update(last_poll_at=now)
        if claimed != 1:
            continue
        reports.append(fdsn_source_poll(source=source))
    return reports
