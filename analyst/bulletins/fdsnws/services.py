"""Answering an FDSN event query: the QuakeML document or the text table, written whole into a spooled file
(memory, then disk past ANSWER_IN_MEMORY_BYTES) before the first byte is sent."""

import tempfile
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.utils import timezone

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.fdsnws.params import FdsnQuery
from analyst.bulletins.selection import events_page, export_chunks
from analyst.bulletins.writers.base import BulletinHeader
from analyst.bulletins.writers.quakeml import QuakeMLWriter
from fileimport.text import text_without_controls

TEXT_HEADER = (
    "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|"
    "MagAuthor|EventLocationName|EventType\n"
)


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts = []
        return data


def _trim(item: ExportItem, query: FdsnQuery) -> ExportItem:
    """Keep only what the query asked for: the preferred origin and magnitude unless includeall*, no
    picks or arrivals unless includearrivals."""
    event = item.obspy_event
    if not query.include_all_origins:
        preferred = event.preferred_origin()
        event.origins = [preferred] if preferred is not None else event.origins[:1]
    if not query.include_all_magnitudes:
        preferred_magnitude = event.preferred_magnitude()
        event.magnitudes = [preferred_magnitude] if preferred_magnitude is not None else event.magnitudes[:1]
    if not query.include_arrivals:
        event.picks = []
        event.amplitudes = []
        for origin in event.origins:
            origin.arrivals = []
    return item


ANSWER_IN_MEMORY_BYTES = 16 * 1024 * 1024


def _spooled(parts: Iterator[bytes]) -> IO[bytes]:
    answer = tempfile.SpooledTemporaryFile(max_size=ANSWER_IN_MEMORY_BYTES)  # noqa: SIM115 (the response closes it)
    try:
        for part in parts:
            answer.write(part)
    except BaseException:
        answer.close()
        raise
    answer.seek(0)
    return answer


def fdsn_quakeml_answer(*, query: FdsnQuery, request_url: str) -> IO[bytes]:
    """The whole QuakeML answer, rewound; a writer error raises here, before anything is sent."""
    return _spooled(fdsn_quakeml_stream(query=query, request_url=request_url))


def fdsn_text_answer(*, query: FdsnQuery) -> IO[bytes]:
    """The whole text answer, rewound."""
    return _spooled(fdsn_text_stream(query=query))


def fdsn_quakeml_stream(*, query: FdsnQuery, request_url: str) -> Iterator[bytes]:
    buffer = _Buffer()
    header = BulletinHeader(
        public_id=f"smi:seistriage.local/fdsnws/event/{timezone.now():%Y%m%dT%H%M%S%f}",
        title="Seistriage FDSN event service",
        author="",
        agency=settings.SEISTRIAGE_AGENCY_ID,
        created_at=timezone.now(),
        selection=request_url,
    )
    writer = QuakeMLWriter(buffer, header)  # type: ignore[arg-type]
    writer.begin()
    yield buffer.take()
    for chunk in export_chunks(events_page(criteria=query.criteria)):
        writer.write([_trim(item, query) for item in chunk])
        yield buffer.take()
    writer.end()
    yield buffer.take()


def _text_field(value: str) -> str:
    # One event per line, fields split by "|": a stored line break or separator would shift every later column.
    return text_without_controls(value).translate(_LINE_BREAKS_AND_SEPARATOR)


_LINE_BREAKS_AND_SEPARATOR = str.maketrans({"|": " ", "\n": " ", "\r": " "})


def fdsn_text_stream(*, query: FdsnQuery) -> Iterator[bytes]:
    yield TEXT_HEADER.encode()
    catalog = settings.SEISTRIAGE_AGENCY_ID
    for event in events_page(criteria=query.criteria).iterator(chunk_size=1000):
        time = event.origin_time.strftime("%Y-%m-%dT%H:%M:%S.%f") if event.origin_time else ""
        fields = [
            str(event.pk),
            time,
            f"{event.latitude}",
            f"{event.longitude}",
            "" if event.depth is None else f"{event.depth}",
            event.author,
            catalog,
            event.agency_id,
            event.public_id,
            event.magnitude_type,
            "" if event.magnitude is None else f"{event.magnitude}",
            event.agency_id,
            event.region,
            event.event_type,
        ]
        yield ("|".join(_text_field(f) for f in fields) + "\n").encode()
