"""The one ingest service every entrance uses (the import commands, the upload page, the watched folder and
FDSN polling): import a file with its app's importer, then send what it changed to scoring.

- Events: the imported events are scored once the import commits.
- Waveforms: the unreviewed events the new or changed file covers go back to be measured and scored, so an
  event imported before its waveforms gets waveform features, a CNN prediction and a new score.
- Stations: registered only (their coordinates are read when an event is next measured).

The importers themselves (events.importers, waveforms.importing) schedule nothing.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.conf import settings
from django.db import transaction

from analyst.audit import audit_entry_record
from analyst.models import AuditAction
from events.importers.store import EventImportReport, KeptDecision, events_import_file
from events.models import Event
from events.vocabulary import UNREVIEWED_STATES
from ranking.pipeline import events_enqueue_scoring, events_schedule_scoring
from waveforms.importing.stations import StationImportReport, stations_import_file
from waveforms.importing.waveform_files import WaveformImportReport, waveform_file_import
from waveforms.selectors import waveform_file_span
from waveforms.windows import DEFAULT_AFTER_ORIGIN_S, DEFAULT_BEFORE_ORIGIN_S


def events_ingest_file(*, path: Path, format: str | None = None, reviewed: bool = False) -> EventImportReport:
    """Import an event file (one transaction; ImportFileError and nothing written on bad input), then score.

    Where a reviewed file disagrees with an analyst's decision, the decision stays and the event's audit trail
    records what the file wanted, in the same transaction as the import."""
    with transaction.atomic():
        report = events_import_file(path=path, format=format, reviewed=reviewed)
        import_refusals_record(path=Path(report.path), kept=report.kept_decisions)
    collected = _sent_back.get()
    if collected is not None:  # a burst of files (rescoring_collected): scored together, in full batches
        collected.update(report.event_ids)
        _full_batches_send(collected)
    else:
        events_schedule_scoring(event_ids=report.event_ids)
    return report


def import_refusals_record(*, path: Path, kept: list[KeptDecision]) -> None:
    """One `review_refused` audit entry (no user: the import) per analyst decision a reviewed import kept."""
    events = Event.objects.in_bulk([decision.event_id for decision in kept])
    for decision in kept:
        audit_entry_record(
            event=events[decision.event_id],
            user=None,
            action=AuditAction.REVIEW_REFUSED,
            before=decision.kept,
            after={**decision.wanted, "refused": "an analyst decided this event", "source_file": str(path)},
            comment=f"the reviewed import of {path.name} kept the analyst's decision",
        )


def stations_ingest_file(*, path: Path, format: str | None = None) -> StationImportReport:
    return stations_import_file(path=path, format=format)


def events_covered_between(*, start: dt.datetime, end: dt.datetime) -> list[int]:
    """Unreviewed events whose default display window overlaps [start, end]."""
    return list(
        Event.objects.filter(
            origin_time__gte=start - dt.timedelta(seconds=DEFAULT_AFTER_ORIGIN_S),
            origin_time__lte=end + dt.timedelta(seconds=DEFAULT_BEFORE_ORIGIN_S),
            review_state__in=UNREVIEWED_STATES,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# The events a batch of files sends to scoring (new events, and those new waveform files cover), while it is
# imported (rescoring_collected).
_sent_back: ContextVar[set[int] | None] = ContextVar("sent_back", default=None)


def _full_batches_send(collected: set[int]) -> None:
    """Send the full scoring batches a burst has gathered so far (once committed), so scoring runs beside the rest
    of the import; the remainder waits for the end of the burst."""
    size = settings.SEISTRIAGE_SCORING_BATCH_SIZE
    if len(collected) < size:
        return
    ids = sorted(collected)
    ready = ids[: len(ids) - len(ids) % size]
    collected.difference_update(ready)
    events_schedule_scoring(event_ids=ready)


@contextmanager
def rescoring_collected() -> Iterator[None]:
    """Inside the block, the events that event files bring and that new waveform files cover are collected and sent
    to scoring in full batches (each as soon as it is gathered, the remainder when the block ends): a folder of 40
    records of one event rescores it once, not 40 times, and 762 single-event files become 4 batch chains on the
    cpu queue instead of 762 (one per file before; bench/bench_pipeline.py --files 762)."""
    collected: set[int] = set()
    token = _sent_back.set(collected)
    try:
        yield
    finally:
        _sent_back.reset(token)
        if collected:
            transaction.on_commit(lambda: events_enqueue_scoring(event_ids=sorted(collected)))


def waveforms_ingest_file(*, path: Path, format: str | None = None, force: bool = False) -> WaveformImportReport:
    """Register a waveform file; when it is new or changed, rescore the unreviewed events it covers."""
    report = waveform_file_import(path=path, format=format, force=force)
    if report.status != "unchanged":
        span = waveform_file_span(path=report.path)
        covered = events_covered_between(start=span[0], end=span[1]) if span else []
        collected = _sent_back.get()
        if collected is not None:
            collected.update(covered)
        elif covered:
            transaction.on_commit(lambda: events_enqueue_scoring(event_ids=covered))
    return report
