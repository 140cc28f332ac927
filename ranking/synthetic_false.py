"""Training material for the false class, built from real recordings (provenance ``synthetic_false``).

A new deployment holds no "not existing" label, so the ranker could never predict the class. This module turns
quiet intervals of real records into automatic events that do not exist ("noise-placed origins"):

- ``pnw``, ``pnw_2002_2017``: the first 45 s of each station's record (the records start 50 s before the
  origin; the last 5 s before the origin are left out), one false event per record directory, placed at the
  real event's epicentre with its depth, magnitude and pick count (so the origin's own numbers say nothing
  about being false: only the waveforms can);
- ``esec``: each station's record up to 20 s before the catalogue start time, at the catalogue location;
- ``phasenet``: the first 27 s of each window (P is at 30 s), one false event per window; the windows carry no
  event location, so the origin is placed at a nominal Northern California point (PHASENET_PLACE);
- ``obspy``: 45 s intervals of ObsPy's 4-station BW.UH* records, starting >= 30 s after a network trigger and
  ending >= 15 s before one
  (coincidence trigger as in ObsPy's tutorial), placed at Unterhaching (the stations' site).

``mis_association_build`` adds the other kind: the real picks of 2-3 different earthquakes of ObsPy's Nordic
bulletin, shifted into one window and located as one TauP iasp91 origin (ranking.ml.mis_association).

The samples are the real ones, cut with their sample times, then shifted back by whole days
(TIME_SHIFT_DAYS): the original record of the real event may be registered in the same store, and the false
origin's window must not reach the real event in it. Each event's ``description`` says what it was built from
and how; its label (EventLabel.Source.SYNTHETIC_FALSE) trains the ranker's false class and is never evaluated on.
"""

import csv
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import obspy
from django.db import transaction
from obspy import UTCDateTime

from events.models import Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import EvaluationMode, EvaluationStatus, ReviewState, ScoringState
from fileimport.text import text_float
from ranking.false_evidence_inputs import SYNTHETIC_FALSE_FORMAT
from ranking.ml.mis_association import MisAssociation, mis_associations
from waveforms.importing.waveform_files import waveform_file_import

logger = logging.getLogger(__name__)

SOURCES = ("pnw", "pnw_2002_2017", "esec", "phasenet", "obspy")
TIME_SHIFT_DAYS = 1
ORIGIN_AFTER_START_S = 12.0  # the false origin lies this long after the quiet interval starts
PHASENET_PLACE = (37.8, -122.2)  # nominal: the PhaseNet windows are Northern California stations, no location
BW_PLACE = (48.07, 11.65)  # the BW.UH* stations at Unterhaching, Bavaria
PUBLIC_ID_PREFIX = "seistriage:synthetic_false/"


@dataclass
class QuietInterval:
    """Real noise of one or more stations, and where the false origin built from it goes."""

    source: str
    key: str  # unique within the source
    traces: list[obspy.Trace]
    latitude: float
    longitude: float
    depth_km: float | None
    magnitude: float | None
    magnitude_type: str
    phase_count: int | None
    built_from: str  # a sentence: which record, which interval


@dataclass
class BuildReport:
    created: dict[str, int] = field(default_factory=dict)
    existing: int = 0
    files: int = 0

    def summary(self) -> str:
        made = ", ".join(f"{source} {count}" for source, count in self.created.items()) or "none"
        return f"synthetic_false events created: {made}; already there {self.existing}; noise files {self.files}"


def _vertical(stream: obspy.Stream) -> obspy.Trace | None:
    traces = [t for t in stream if t.stats.npts > 0]
    vertical = [t for t in traces if t.stats.channel[-1:] in ("Z", "3")]
    pool = vertical or traces
    return max(pool, key=lambda t: t.stats.npts) if pool else None


def pnw_intervals(
    folder: Path, source: str, *, catalogue: Path | None = None, records: Path | None = None
) -> Iterator[QuietInterval]:
    """The first 45 s of each PNW-layout record (``records/<event id>/``, default ``folder/waveforms``),
    catalogued in ``catalogue`` (default ``folder/events.csv``)."""
    with (catalogue or folder / "events.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        event_id = row.get("source_id") or row.get("event_id") or ""
        directory = (records or folder / "waveforms") / event_id
        latitude, longitude = text_float(row.get("latitude")), text_float(row.get("longitude"))
        if not directory.is_dir() or latitude is None or longitude is None:
            continue
        traces = []
        for path in sorted(directory.glob("*.mseed")):
            trace = _vertical(obspy.read(str(path), format="MSEED"))
            if trace is not None:
                traces.append(trace.slice(trace.stats.starttime, trace.stats.starttime + 45.0))
        if traces:
            picks = text_float(row.get("number_of_pick"))
            yield QuietInterval(
                source,
                event_id,
                traces,
                latitude,
                longitude,
                text_float(row.get("depth")),
                text_float(row.get("magnitude")),
                row.get("magnitude_type", ""),
                None if picks is None else int(picks),
                f"the first 45 s (pre-event noise) of the {len(traces)} records of {source} event {event_id}",
            )


def esec_intervals(folder: Path) -> Iterator[QuietInterval]:
    with (folder / "IRISExoticEventCatalog.txt").open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = {(r.get("eventid") or "").strip(): r for r in csv.DictReader(handle, delimiter="|")}
    for directory in sorted((folder / "waveforms").iterdir(), key=lambda p: (len(p.name), p.name)):
        row = rows.get(directory.name)
        if row is None:
            continue
        try:
            text = row["starttime"].strip()
            start = UTCDateTime(dt.datetime.strptime(text, "%Y_%m_%d %H%M%S").replace(tzinfo=dt.UTC))
        except (KeyError, ValueError):
            continue
        latitude, longitude = text_float(row.get("latitude")), text_float(row.get("longitude"))
        if latitude is None or longitude is None:
            continue
        stream = obspy.Stream()
        for path in sorted(directory.glob("*.mseed")):
            stream += obspy.read(str(path), format="MSEED")
        traces = []
        for network, station in sorted({(t.stats.network, t.stats.station) for t in stream}):
            trace = _vertical(stream.select(network=network, station=station))
            if trace is not None and start - 20.0 - trace.stats.starttime >= 30.0:
                traces.append(trace.slice(trace.stats.starttime, start - 20.0))
        if traces:
            yield QuietInterval(
                "esec",
                directory.name,
                traces,
                latitude,
                longitude,
                None,
                None,
                "",
                None,
                f"the records of ESEC event {directory.name} up to 20 s before its start time ({len(traces)} stations)",
            )


def phasenet_intervals(folder: Path) -> Iterator[QuietInterval]:
    with (folder / "picks.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        trace = _vertical(obspy.read(str(folder / row["file"]), format="MSEED"))
        if trace is None:
            continue
        p_time = trace.stats.starttime + int(row["p_sample"]) / float(trace.stats.sampling_rate)
        yield QuietInterval(
            "phasenet",
            Path(row["file"]).stem,
            [trace.slice(trace.stats.starttime, p_time - 3.0)],
            *PHASENET_PLACE,
            None,
            None,
            "",
            None,
            f"the first {p_time - 3.0 - trace.stats.starttime:.0f} s (before P) of PhaseNet window {row['file']}; "
            "placed at a nominal Northern California point (the window has no event location)",
        )


def obspy_intervals() -> Iterator[QuietInterval]:
    from obspy.signal.trigger import coincidence_trigger

    data = Path(obspy.__file__).parent / "signal" / "tests" / "data"
    stream = obspy.Stream()
    for name in ("UH1._.SHZ", "UH2._.SHZ", "UH3._.SHZ", "UH4._.EHZ"):
        stream += obspy.read(str(data / f"BW.{name}.D.2010.147.cut.slist.gz"))
    stream.merge(fill_value=0)
    work = stream.copy()
    work.filter("bandpass", freqmin=10.0, freqmax=20.0)
    triggers = [t["time"] for t in coincidence_trigger("recstalta", 3.5, 1, work, 3, sta=0.5, lta=10)]
    first, last = max(t.stats.starttime for t in stream), min(t.stats.endtime for t in stream)
    moment = first + 15.0
    while moment + 45.0 < last:
        # The interval starts >= 30 s after a trigger (a small local event's coda) and ends >= 15 s before one.
        if all(t < moment - 30.0 or t > moment + 60.0 for t in triggers):
            yield QuietInterval(
                "obspy",
                str(moment).replace(":", "")[:17],
                [t.slice(moment, moment + 45.0) for t in stream],
                *BW_PLACE,
                None,
                None,
                "",
                None,
                f"45 s of ObsPy's bundled BW.UH1-UH4 records from {moment}, clear of their network triggers",
            )
        moment += 45.0


def quiet_intervals(shared: Path, source: str) -> Iterator[QuietInterval]:
    if source in ("pnw", "pnw_2002_2017"):
        yield from pnw_intervals(shared / source, source)
    elif source == "esec":
        yield from esec_intervals(shared / "esec")
    elif source == "phasenet":
        yield from phasenet_intervals(shared / "phasenet")
    elif source == "obspy":
        yield from obspy_intervals()
    else:
        raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")


def synthetic_false_build(
    *,
    shared: Path,
    out_dir: Path,
    sources: tuple[str, ...] = SOURCES,
    limit: int | None = None,
    skip: int = 0,
    labelled: bool = True,
) -> BuildReport:
    """Write the noise files, register them, and store one false event per quiet interval.

    ``labelled``: rejected with a synthetic_false label (training material); otherwise left new and unlabelled
    (an automatic false event, for demonstrations and tests of the queue). ``skip``/``limit`` pick intervals
    per source in order, so a test can build training and queue events from different records.
    """
    report = BuildReport()
    for source in sources:
        intervals_store(
            quiet_intervals(shared, source), out_dir=out_dir, report=report, skip=skip, limit=limit, labelled=labelled
        )
    return report


def demo_false_events_build(*, bundle: Path, out_dir: Path, count: int) -> BuildReport:
    """``count`` unlabelled noise-placed false events for the demo's queue, from the pre-event noise of the demo
    bundle's labelled PNW records (demo/waveforms/pnw, catalogued in demo/events/pnw_labelled.csv): what an
    automatic pipeline's false triggers look like, for an analyst to find sunk, hidden and rejected."""
    report = BuildReport()
    intervals = pnw_intervals(
        bundle, "pnw", catalogue=bundle / "events" / "pnw_labelled.csv", records=bundle / "waveforms" / "pnw"
    )
    intervals_store(intervals, out_dir=out_dir, report=report, limit=count, labelled=False)
    return report


def intervals_store(
    intervals: Iterator[QuietInterval],
    *,
    out_dir: Path,
    report: BuildReport,
    skip: int = 0,
    limit: int | None = None,
    labelled: bool,
) -> None:
    """Write, register and store one false event per interval (after ``skip``, at most ``limit``)."""
    shift = TIME_SHIFT_DAYS * 86400.0
    taken = 0
    for index, interval in enumerate(intervals):
        source = interval.source
        if index < skip:
            continue
        if limit is not None and taken >= limit:
            break
        taken += 1
        public_id = f"{PUBLIC_ID_PREFIX}{source}/{interval.key}"
        if Event.objects.filter(public_id=public_id).exists():
            report.existing += 1
            continue
        folder = out_dir / source / interval.key
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for trace in interval.traces:
            shifted = trace.copy()
            shifted.stats.starttime -= shift
            path = folder / f"{shifted.id}.mseed"
            if shifted.data.dtype.kind == "f":
                shifted.data = shifted.data.astype("float32")
            shifted.write(str(path), format="MSEED")
            paths.append(path)
        start = min(t.stats.starttime for t in interval.traces) - shift
        origin_time = (start + ORIGIN_AFTER_START_S).datetime.replace(tzinfo=dt.UTC)
        description = (
            f"synthetic_false: a noise-placed origin {ORIGIN_AFTER_START_S:g} s into {interval.built_from}; "
            f"the real samples, shifted back {TIME_SHIFT_DAYS} day(s) so the real event is out of reach; "
            + (
                "training material for the false class, never evaluated on"
                if labelled
                else "an unlabelled false trigger in the queue (a demonstration), not training material"
            )
        )
        with transaction.atomic():
            for path in paths:
                waveform_file_import(path=path, format="MSEED")
                report.files += 1
            _event_store(public_id, interval, origin_time, description, labelled=labelled)
        report.created[source] = report.created.get(source, 0) + 1


def _event_store(
    public_id: str, interval: QuietInterval, origin_time: dt.datetime, description: str, *, labelled: bool
) -> Event:
    event = Event.objects.create(
        public_id=public_id,
        event_type="not existing" if labelled else "",
        review_state=ReviewState.REJECTED if labelled else ReviewState.NEW,
        description=description,
        author="seistriage synthetic_false",
        source_format=SYNTHETIC_FALSE_FORMAT,
        origin_time=origin_time,
        latitude=interval.latitude,
        longitude=interval.longitude,
        depth=interval.depth_km,
        magnitude=interval.magnitude,
        magnitude_type=interval.magnitude_type,
        phase_count=interval.phase_count,
        scoring_state=ScoringState.PENDING,
    )
    origin = Origin.objects.create(
        event=event,
        public_id=f"{public_id}/origin",
        time=origin_time,
        latitude=interval.latitude,
        longitude=interval.longitude,
        depth=interval.depth_km,
        used_phase_count=interval.phase_count,
        evaluation_mode=EvaluationMode.AUTOMATIC,
        evaluation_status=EvaluationStatus.PRELIMINARY,
        author="seistriage synthetic_false",
    )
    event.preferred_origin = origin
    fields = ["preferred_origin"]
    if interval.magnitude is not None:
        event.preferred_magnitude = Magnitude.objects.create(
            event=event,
            origin=origin,
            public_id=f"{public_id}/magnitude",
            value=interval.magnitude,
            magnitude_type=interval.magnitude_type,
            evaluation_mode=EvaluationMode.AUTOMATIC,
        )
        fields.append("preferred_magnitude")
    event.save(update_fields=fields)
    if labelled:
        EventLabel.objects.create(
            event=event,
            event_type="not existing",
            review_state=ReviewState.REJECTED,
            source=EventLabel.Source.SYNTHETIC_FALSE,
            source_file=description[:1024],
        )
    return event


def mis_association_build(*, count: int, labelled: bool = True) -> BuildReport:
    """Store ``count`` mis-associations (ranking.ml.mis_association) as automatic events with their picks.

    Each holds the real picks of 2-3 real earthquakes of ObsPy's bundled Nordic bulletin, shifted into one
    window, with one iasp91 origin located from them all; its arrivals carry that origin's residuals.
    """
    report = BuildReport()
    built, _stations = mis_associations(count, time_shift_s=TIME_SHIFT_DAYS * 86400.0)
    for item in built:
        public_id = f"{PUBLIC_ID_PREFIX}mis_association/{item.key}"
        if Event.objects.filter(public_id=public_id).exists():
            report.existing += 1
            continue
        with transaction.atomic():
            _mis_association_store(public_id, item, labelled=labelled)
        report.created["mis_association"] = report.created.get("mis_association", 0) + 1
    return report


def _mis_association_description(item: MisAssociation) -> str:
    location = item.location
    parts = []
    for index, (source, shift, own) in enumerate(zip(item.sources, item.shifts_s, item.source_locations, strict=True)):
        used = sorted(f"{p.station} {p.phase}" for i, p in item.picks if i == index)
        parts.append(
            f"event {source.key} (M {source.magnitude if source.magnitude is not None else '?'}, "
            f"{source.latitude:.3f} {source.longitude:.3f}, located alone: RMS {own.rms_s:.2f} s) "
            f"shifted {shift:+.1f} s, picks {', '.join(used)}"
        )
    return (
        f"synthetic_false: a mis-association of the real picks of {len(item.sources)} different earthquakes of "
        "ObsPy's bundled Nordic bulletin select.out (Mt Cook, New Zealand, 2013; station coordinates recovered "
        "from the bulletin's distances and azimuths): "
        + "; ".join(parts)
        + f". One origin located from all {len(item.picks)} picks by grid search with TauP iasp91: "
        f"{location.latitude:.3f} {location.longitude:.3f}, depth {location.depth_km:g} km, "
        f"misfit RMS {location.rms_s:.2f} s. Training material for the false class, never evaluated on"
    )


def _mis_association_store(public_id: str, item: MisAssociation, *, labelled: bool) -> Event:
    location = item.location
    origin_time = UTCDateTime(location.time).datetime.replace(tzinfo=dt.UTC)
    magnitudes = [s.magnitude for s in item.sources if s.magnitude is not None]
    magnitude = max(magnitudes) if magnitudes else None
    interval = QuietInterval(
        "mis_association",
        item.key,
        [],
        location.latitude,
        location.longitude,
        location.depth_km,
        magnitude,
        "ML" if magnitude is not None else "",
        len(item.picks),
        "",
    )
    description = _mis_association_description(item)
    event = _event_store(public_id, interval, origin_time, description, labelled=labelled)
    event.rms = location.rms_s
    event.save(update_fields=["rms"])
    origin = event.preferred_origin
    assert origin is not None
    origin.standard_error = location.rms_s
    origin.used_station_count = len({p.station for _, p in item.picks})
    origin.earth_model_id = "iasp91"
    origin.method_id = "seistriage:grid_search_taup_iasp91"
    origin.save(update_fields=["standard_error", "used_station_count", "earth_model_id", "method_id"])
    for n, ((index, pick), residual, distance, azimuth) in enumerate(
        zip(item.picks, location.residuals_s, location.distances_deg, location.azimuths_deg, strict=True)
    ):
        stored = Pick.objects.create(
            event=event,
            public_id=f"{public_id}/pick/{n}",
            network=pick.network,
            station=pick.station,
            channel=pick.channel,
            time=UTCDateTime(pick.time).datetime.replace(tzinfo=dt.UTC),
            phase_hint=pick.phase,
            evaluation_mode=EvaluationMode.AUTOMATIC,
            author=f"from event {item.sources[index].key}",
        )
        Arrival.objects.create(
            origin=origin,
            pick=stored,
            public_id=f"{public_id}/arrival/{n}",
            phase=pick.phase,
            distance=distance,
            azimuth=azimuth,
            time_residual=residual,
        )
    return event
