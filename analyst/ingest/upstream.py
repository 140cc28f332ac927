"""Pulling events from upstream FDSN event services (SeisComP, USGS, another Seistriage) on a schedule.

Each poll asks only for what changed since the last successful one (`updatedafter`); an upstream whose
application.wadl lacks that parameter, or that answers 400 to it, is asked for a time window instead. The
fetched QuakeML goes through the ordinary importer (matching, updating, scoring on commit), as automatic events.

An upstream is a peer we do not control, so every poll talks to it through a guarded opener: the whole
conversation (WADL, query, redirects) must end within SEISTRIAGE_UPSTREAM_DEADLINE seconds, an answer may hold at
most SEISTRIAGE_UPSTREAM_MAX_BYTES bytes (and may not come compressed: decompression could exceed that), and a
redirect may not leave the source's scheme, host and port. Whatever goes wrong with one source is recorded on
its `last_error` and the next source is polled.
"""

import datetime as dt
import logging
import os
import tempfile
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.client import CustomRedirectHandler
from obspy.clients.fdsn.header import FDSNBadRequestException, FDSNNoDataException
from obspy.clients.fdsn.wadl_parser import WADLParser

from analyst.ingest.services import events_ingest_file
from analyst.models import FdsnSource

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


class UpstreamRefusedError(Exception):
    """An upstream answer we do not take: past the deadline, over the byte cap, compressed, or redirected away."""


@dataclass(frozen=True)
class _Guard:
    origin: tuple[str, str]  # (scheme, host:port) of the configured source
    deadline: float  # time.monotonic() by which the conversation must end
    max_bytes: int

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise UpstreamRefusedError(
                f"no complete answer within the poll deadline of {settings.SEISTRIAGE_UPSTREAM_DEADLINE:g} s"
            )
        return left


class _GuardedResponse:
    """An HTTP response read in pieces as they arrive, checking the deadline and the byte cap after each."""

    def __init__(self, response: Any, guard: _Guard) -> None:
        self._response, self._guard = response, guard

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def read(self, amount: int | None = -1) -> bytes:
        pieces, total = [], 0
        while amount is None or amount < 0 or total < amount:
            self._guard.remaining()
            want = 65536 if amount is None or amount < 0 else min(65536, amount - total)
            piece = self._response.read1(want) if hasattr(self._response, "read1") else self._response.read(want)
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
            if total > self._guard.max_bytes:
                raise UpstreamRefusedError(f"the answer is over the cap of {self._guard.max_bytes:,} bytes")
        return b"".join(pieces)


class _GuardHandler(urllib.request.BaseHandler):
    handler_order = 2000  # after the redirect and error handling: only final answers are read

    def __init__(self, guard: _Guard) -> None:
        self.guard = guard

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        if isinstance(response, _GuardedResponse):
            return response
        declared = str(response.headers.get("Content-Length") or "").strip()
        if declared.isdecimal() and int(declared) > self.guard.max_bytes:
            raise UpstreamRefusedError(
                f"{request.full_url}: {int(declared):,} bytes is over the cap of {self.guard.max_bytes:,} bytes"
            )
        if str(response.headers.get("Content-Encoding") or "identity").lower() != "identity":
            raise UpstreamRefusedError(f"{request.full_url}: a compressed answer was not asked for")
        return _GuardedResponse(response, self.guard)

    https_response = http_response


class _SameOriginRedirectHandler(CustomRedirectHandler):  # type: ignore[misc]
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        target = urlsplit(urljoin(req.full_url, newurl))
        if (target.scheme.lower(), target.netloc.lower()) != self.guard.origin:
            origin = "://".join(self.guard.origin)
            raise UpstreamRefusedError(f"a redirect from {req.full_url} to {newurl} leaves {origin}")
        self.guard.remaining()
        result: urllib.request.Request | None = super().redirect_request(req, fp, code, msg, headers, newurl)
        return result


class _GuardedClient(Client):  # type: ignore[misc]
    """ObsPy's FDSN client with the guarded opener (also for its service discovery) and no gzip."""

    def __init__(self, *, guard: _Guard, **options: Any) -> None:
        self._guard = guard
        super().__init__(use_gzip=False, **options)

    def _set_opener(self, user: str | None, password: str | None) -> None:
        self._url_opener = urllib.request.build_opener(
            _SameOriginRedirectHandler(self._guard), _GuardHandler(self._guard)
        )

    def _download(self, url: str, *args: Any, **options: Any) -> Any:
        self.timeout = min(settings.SEISTRIAGE_UPSTREAM_TIMEOUT, self._guard.remaining())
        return super()._download(url, *args, **options)


def _guard(source: FdsnSource) -> _Guard:
    parts = urlsplit(source.base_url)
    return _Guard(
        origin=(parts.scheme.lower(), parts.netloc.lower()),
        deadline=time.monotonic() + settings.SEISTRIAGE_UPSTREAM_DEADLINE,
        max_bytes=settings.SEISTRIAGE_UPSTREAM_MAX_BYTES,
    )


def _client(source: FdsnSource, guard: _Guard) -> tuple[Client, bool]:
    """ObsPy's client for the source's event service, and whether that service takes `updatedafter`.

    An upstream without a readable application.wadl (missing, or an HTML error page: XMLSyntaxError, IndexError
    in ObsPy's parser) is assumed to take the standard parameters; a 400 then tells us otherwise (see fdsn_source_poll).
    """
    root = source.base_url.rstrip("/")
    host = root.split("/fdsnws/", 1)[0]
    options: dict[str, Any] = {
        "service_mappings": {"event": root, "station": None, "dataselect": None},
        "timeout": min(settings.SEISTRIAGE_UPSTREAM_TIMEOUT, guard.remaining()),
    }
    try:
        client = _GuardedClient(base_url=host, guard=guard, **options)
    except UpstreamRefusedError:
        raise
    except Exception as error:  # FDSNException, and what a WADL that is not one makes lxml or ObsPy's parser raise
        logger.info("%s: no usable application.wadl (%s); assuming the standard parameters", source, error)
        client = _GuardedClient(base_url=host, guard=guard, _discover_services=False, **options)
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
        client, supports = _client(source, _guard(source))
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
    except Exception as error:
        # Anything: a peer we do not control can make ObsPy or lxml raise what they like (TypeError/ValueError/
        # Warning are ObsPy's answer to a parameter the upstream does not take); one source's failure is recorded
        # and never stops the tick.
        logger.warning("%s: poll failed: %s: %s", source, type(error).__name__, error)
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
