"""Labelled real windows for the CNN from the shared data folder (pure NumPy/ObsPy, no Django).

Sources (see the data README): PNW earthquakes and explosions (vertical, from 50 s before the origin
time, onset found by STA/LTA + AIC after the origin time; a few of their pre-event 30 s are noise), ESEC
surface events (vertical of each station, onset by STA/LTA near the catalogue start time; their first 30 s
are pre-event noise), SE USA earthquakes and explosions (P pick in SAC header
``a``), PhaseNet earthquakes (P at 30 s; their first 30 s are noise). Every window keeps its group (the
event, or the record for PhaseNet) so splits never put one event on both sides, and its time so the
split can hold out the newest events.
"""

import csv
import datetime as dt
import hashlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import obspy
from obspy import UTCDateTime

from ranking.ml.classes import (
    CNN_CLASS_BY_EVENT_TYPE,
    CNN_CLASSES,
    CNN_EARTHQUAKE,
    CNN_EXPLOSION,
    CNN_NOISE,
    CNN_SURFACE_EVENT,
)
from ranking.ml.cnn.peer import PEER_SAMPLES, peer_raw_window
from ranking.ml.cnn.windows import (
    ONSET_SEARCH_S,
    WINDOW_S,
    WINDOW_SAMPLES,
    WindowError,
    onset_detect,
    trace_pick_component,
    window_prepare,
)
from waveforms.measurements import measure_trace

logger = logging.getLogger(__name__)

CLASSES = CNN_CLASSES  # label i is CLASSES[i]
EARTHQUAKE, EXPLOSION, SURFACE, NOISE = (
    CLASSES.index(name) for name in (CNN_EARTHQUAKE, CNN_EXPLOSION, CNN_SURFACE_EVENT, CNN_NOISE)
)
BASELINE_FEATURES = ("high_low_ratio", "ps_amplitude_ratio", "dominant_frequency_hz")
DATASET_VERSION = "cnn-windows-4-pnw2002-peer"
PNW_NOISE_PER_EVENT = 2  # pre-event noise windows per PNW event (its first stations in file order)
PNW_LABELS = {
    event_type: CLASSES.index(CNN_CLASS_BY_EVENT_TYPE[event_type])
    for event_type in ("earthquake", "explosion", "quarry blast")
}
DUPLICATE_EVENT_S = 2.0  # a database event this close in time to a shared-data event is that event


class DatasetError(ValueError):
    """A data folder or file that cannot be read as labelled windows (names the file and line)."""


@dataclass(frozen=True)
class WindowRecord:
    """One labelled trace before preparation: ``onset`` absolute UTC, ``trace`` at its own rate."""

    trace: obspy.Trace
    onset: UTCDateTime
    s_time: UTCDateTime | None
    label: int
    group: str
    time: float  # POSIX s of the event, for time-ordered splits
    source: str
    provenance: str = ""  # where the label comes from (pnw_2002_2017: its label_source column)


@dataclass
class LabelledWindows:
    """Prepared windows: ``windows`` float32 (n, WINDOW_SAMPLES) at 20 Hz; the rest one entry per window."""

    windows: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    groups: npt.NDArray[np.str_]
    times: npt.NDArray[np.float64]
    sources: npt.NDArray[np.str_]
    seed_ids: npt.NDArray[np.str_]
    snr: npt.NDArray[np.float32]
    features: npt.NDArray[np.float64]  # (n, 3) BASELINE_FEATURES, NaN where unmeasurable
    provenance: npt.NDArray[np.str_]  # label provenance per window ("" where the source has one kind of label)
    peer: npt.NDArray[np.float32]  # (n, PEER_SAMPLES) the seisclass peer's raw 100 Hz window, NaN rows where none

    def __len__(self) -> int:
        return int(self.labels.size)

    def subset(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> "LabelledWindows":
        return LabelledWindows(
            self.windows[mask],
            self.labels[mask],
            self.groups[mask],
            self.times[mask],
            self.sources[mask],
            self.seed_ids[mask],
            self.snr[mask],
            self.features[mask],
            self.provenance[mask],
            self.peer[mask],
        )

    @staticmethod
    def concatenate(parts: Iterable["LabelledWindows"]) -> "LabelledWindows":
        items = [p for p in parts if len(p)]
        if not items:
            return windows_empty()
        return LabelledWindows(*(np.concatenate([getattr(p, f) for p in items]) for f in _FIELDS))

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(n) for name, n in zip(CLASSES, found, strict=True)}


_FIELDS = ("windows", "labels", "groups", "times", "sources", "seed_ids", "snr", "features", "provenance", "peer")


def windows_empty() -> LabelledWindows:
    return LabelledWindows(
        np.zeros((0, WINDOW_SAMPLES), np.float32),
        np.zeros(0, np.int64),
        np.zeros(0, "U64"),
        np.zeros(0),
        np.zeros(0, "U16"),
        np.zeros(0, "U64"),
        np.zeros(0, np.float32),
        np.zeros((0, 3)),
        np.zeros(0, "U32"),
        np.zeros((0, PEER_SAMPLES), np.float32),
    )


def baseline_features(trace: obspy.Trace, *, onset: UTCDateTime, s_time: UTCDateTime | None) -> list[float]:
    """The hand-made spectral features of the baseline (``BASELINE_FEATURES``), NaN where unmeasurable."""
    part = trace.slice(onset - 15.0, onset + WINDOW_S - 5.0)
    if part.stats.npts < 10:
        return [np.nan] * 3
    measured = measure_trace(part, p_time=onset, s_time=s_time)
    values = (measured.high_low_ratio, measured.ps_amplitude_ratio, measured.dominant_frequency_hz)
    return [np.nan if v is None else float(v) for v in values]


def windows_from_records(records: Iterable[WindowRecord]) -> LabelledWindows:
    """Prepare every record (records whose trace does not cover the window are skipped and logged)."""
    rows: list[tuple[WindowRecord, np.ndarray, float, list[float], str, np.ndarray]] = []
    for record in records:
        try:
            window = window_prepare(record.trace, onset=record.onset)
        except WindowError as error:
            logger.debug("skipped: %s", error)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            features = baseline_features(record.trace, onset=record.onset, s_time=record.s_time)
        peer = peer_raw_window(record.trace, onset=record.onset) if record.label != NOISE else None
        rows.append((record, window.data, window.snr, features, record.trace.id, _peer_row(peer)))
    if not rows:
        return windows_empty()
    return LabelledWindows(
        windows=np.stack([r[1] for r in rows]).astype(np.float32),
        labels=np.array([r[0].label for r in rows], dtype=np.int64),
        groups=np.array([r[0].group for r in rows], dtype="U64"),
        times=np.array([r[0].time for r in rows], dtype=np.float64),
        sources=np.array([r[0].source for r in rows], dtype="U16"),
        seed_ids=np.array([r[4] for r in rows], dtype="U64"),
        snr=np.array([r[2] for r in rows], dtype=np.float32),
        features=np.array([r[3] for r in rows], dtype=np.float64),
        provenance=np.array([r[0].provenance for r in rows], dtype="U32"),
        peer=np.stack([r[5] for r in rows]).astype(np.float32),
    )


def _peer_row(peer: npt.NDArray[np.float32] | None) -> npt.NDArray[np.float32]:
    return peer if peer is not None else np.full(PEER_SAMPLES, np.nan, np.float32)


# The format is named from the suffix, never detected: ObsPy's detection would also accept a pickled stream
# (its PICKLE format), and unpickling runs whatever code the file holds.
WAVEFORM_FORMAT_BY_SUFFIX = {".mseed": "MSEED", ".miniseed": "MSEED", ".sac": "SAC"}


def _read(path: Path) -> obspy.Stream:
    format_name = WAVEFORM_FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if format_name is None:
        known = ", ".join(sorted(WAVEFORM_FORMAT_BY_SUFFIX))
        raise DatasetError(f"{path}: not a waveform file name this dataset reads (the name must end in {known})")
    try:
        return obspy.read(str(path), format=format_name)
    except Exception as error:  # ObsPy raises many types for unreadable files
        raise DatasetError(f"{path}: not a readable waveform file ({error})") from None


def _limited(items: list[Path], limit: int | None) -> list[Path]:
    return items if limit is None else items[:limit]


def pnw_records(folder: Path, *, max_events: int | None = None, source: str = "pnw") -> Iterator[WindowRecord]:
    """PNW earthquakes and explosions: 150 s verticals starting 50 s before the origin time (the data README
    says "at origin time"; the files start 50 s earlier); onset = STA/LTA + AIC 0.5-45 s after the origin
    (``ONSET_SEARCH_S``: the P reaches the nearest stations within 1-2 s). The first 30 s of the first
    ``PNW_NOISE_PER_EVENT`` records of each event (ending >= 20 s before the origin) are noise windows.
    ``source`` names the data set (``pnw_2002_2017`` has the same layout); a ``label_source`` column, where the
    catalogue has one, is kept as each window's provenance (``inferred_night_no_px``: an inferred label)."""
    catalogue = folder / "events.csv"
    if not catalogue.is_file():
        raise DatasetError(f"{catalogue}: missing")
    with catalogue.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    taken = 0
    for line, row in enumerate(rows, start=2):
        label = PNW_LABELS.get(row.get("event_type", ""))
        event_dir = folder / "waveforms" / row.get("source_id", "")
        if label is None or not event_dir.is_dir():
            continue
        try:
            origin = UTCDateTime(float(row["timestamp"]))
        except (KeyError, ValueError):
            raise DatasetError(
                f"{catalogue}, line {line}: timestamp {row.get('timestamp')!r} is not a number"
            ) from None
        if max_events is not None and taken >= max_events:
            return
        taken += 1
        noise_taken = 0
        group = f"{source}:{row['source_id']}"
        provenance = row.get("label_source") or ""
        for path in sorted(event_dir.glob("*.mseed")):
            trace = trace_pick_component(_read(path))
            if trace is None:
                continue
            onset = onset_detect(trace, search_start=origin + ONSET_SEARCH_S[0], search_end=origin + ONSET_SEARCH_S[1])
            if onset is not None:
                yield WindowRecord(trace, onset, None, label, group, origin.timestamp, source, provenance)
            t0 = trace.stats.starttime
            if noise_taken < PNW_NOISE_PER_EVENT and origin - t0 >= WINDOW_S + 20.0 and trace.stats.sampling_rate >= 31:
                noise_taken += 1
                yield WindowRecord(
                    trace.slice(t0, t0 + WINDOW_S), t0 + 5.0, None, NOISE, group, origin.timestamp, source, provenance
                )


def _esec_catalogue(path: Path) -> dict[str, UTCDateTime]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle, delimiter="|")
        starts: dict[str, UTCDateTime] = {}
        for line, row in enumerate(reader, start=2):
            text = (row.get("starttime") or "").strip()
            try:
                starts[(row.get("eventid") or "").strip()] = UTCDateTime(
                    dt.datetime.strptime(text, "%Y_%m_%d %H%M%S").replace(tzinfo=dt.UTC)
                )
            except ValueError:
                raise DatasetError(f"{path}, line {line}: starttime {text!r} is not YYYY_MM_DD HHMMSS") from None
    return starts


def esec_records(
    folder: Path, *, max_events: int | None = None, noise: bool = True, signal: bool = True
) -> Iterator[WindowRecord]:
    """ESEC surface events (vertical per station, onset by STA/LTA from 10 s before to 90 s after the
    catalogue start time) and, with ``noise``, each record's first 30 s (ending >= 30 s before the event)."""
    starts = _esec_catalogue(folder / "IRISExoticEventCatalog.txt")
    event_dirs = sorted((folder / "waveforms").iterdir(), key=lambda p: (len(p.name), p.name))
    taken = 0
    for event_dir in event_dirs:
        start = starts.get(event_dir.name)
        if start is None or not event_dir.is_dir():
            continue
        if max_events is not None and taken >= max_events:
            return
        taken += 1
        stream = obspy.Stream()
        for path in sorted(event_dir.glob("*.mseed")):
            stream += _read(path)
        for network, station in sorted({(t.stats.network, t.stats.station) for t in stream}):
            trace = trace_pick_component(stream.select(network=network, station=station))
            if trace is None:
                continue
            group = f"esec:{event_dir.name}"
            if signal:
                onset = onset_detect(trace, search_start=start - 10.0, search_end=start + 90.0)
                if onset is not None:
                    yield WindowRecord(trace, onset, None, SURFACE, group, start.timestamp, "esec")
            t0 = trace.stats.starttime
            if noise and start - t0 >= 2 * WINDOW_S:
                quiet = trace.slice(t0, t0 + WINDOW_S)
                yield WindowRecord(quiet, t0 + 5.0, None, NOISE, group, start.timestamp, "esec")


def se_usa_records(folder: Path, *, max_traces: int | None = None) -> Iterator[WindowRecord]:
    """SE USA SAC verticals (EQ earthquakes, EP explosions); onset = the P pick in SAC header ``a``."""
    for name, label in (("EQ", EARTHQUAKE), ("EP", EXPLOSION)):
        for path in _limited(sorted((folder / name).glob("*.SAC")), max_traces):
            trace = _read(path)[0]
            sac = trace.stats.get("sac", {})
            if "a" not in sac or "b" not in sac or sac["a"] in (-12345.0, None):
                raise DatasetError(f"{path}: SAC header 'a' (P pick) is missing")
            onset = trace.stats.starttime + float(sac["a"]) - float(sac["b"])
            stamp = path.name.split(".")[0]
            try:
                event_time = UTCDateTime(dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC))
            except ValueError:
                raise DatasetError(f"{path}: file name does not start with the event time YYYYMMDDHHMMSS") from None
            yield WindowRecord(trace, onset, None, label, f"se_usa:{stamp}", event_time.timestamp, "se_usa")


def phasenet_records(folder: Path, *, max_records: int | None = None) -> Iterator[WindowRecord]:
    """PhaseNet earthquakes (vertical, P at sample 3000, S from picks.csv) and their first 30 s as noise."""
    picks = folder / "picks.csv"
    if not picks.is_file():
        raise DatasetError(f"{picks}: missing")
    with picks.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for line, row in enumerate(rows[:max_records] if max_records is not None else rows, start=2):
        try:
            p_sample, s_sample = int(row["p_sample"]), int(row["s_sample"])
        except (KeyError, ValueError):
            raise DatasetError(f"{picks}, line {line}: p_sample/s_sample must be integers") from None
        path = folder / row["file"]
        trace = trace_pick_component(_read(path))
        if trace is None:
            continue
        rate = float(trace.stats.sampling_rate)
        t0 = trace.stats.starttime
        group = f"phasenet:{path.stem}"
        onset = t0 + p_sample / rate
        yield WindowRecord(trace, onset, t0 + s_sample / rate, EARTHQUAKE, group, t0.timestamp, "phasenet")
        yield WindowRecord(trace.slice(t0, onset), t0 + 5.0, None, NOISE, group, t0.timestamp, "phasenet")


def shared_windows(
    data_dir: Path,
    *,
    limit: int | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabelledWindows:
    """All labelled windows of the shared data folder; ``limit`` caps events/records per source (tests).

    With ``cache_dir``, the prepared windows are kept in an .npz keyed by the dataset version, the limit
    and the folder's file listing (names, sizes, modification times), so a second run reads them back.
    """
    if not (data_dir / "README.md").is_file():
        raise DatasetError(f"{data_dir}: not the shared data folder (no README.md)")
    cache: Path | None = None
    if cache_dir is not None:
        listing = hashlib.sha256(f"{DATASET_VERSION}|{limit}".encode())
        for path in sorted(data_dir.rglob("*")):
            if path.is_file():
                stat = path.stat()
                listing.update(f"{path.relative_to(data_dir)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        cache = cache_dir / f"cnn-windows-{listing.hexdigest()[:16]}.npz"
        if cache.is_file():
            with np.load(cache) as stored:
                return LabelledWindows(*(stored[f] for f in _FIELDS))
    loaders: list[tuple[str, Callable[[], Iterator[WindowRecord]]]] = [
        ("pnw", lambda: pnw_records(data_dir / "pnw", max_events=limit)),
        ("pnw_2002_2017", lambda: _optional_pnw(data_dir / "pnw_2002_2017", limit)),
        ("esec", lambda: esec_records(data_dir / "esec", max_events=limit)),
        ("se_usa", lambda: se_usa_records(data_dir / "se_usa_sac", max_traces=limit)),
        ("phasenet", lambda: phasenet_records(data_dir / "phasenet", max_records=limit)),
    ]
    parts = []
    for name, loader in loaders:
        part = windows_from_records(loader())
        if progress is not None:
            progress(f"{name}: {len(part)} windows {part.counts()}")
        parts.append(part)
    result = LabelledWindows.concatenate(parts)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial.npz")
        np.savez(partial, **{f: getattr(result, f) for f in _FIELDS})
        partial.replace(cache)
    return result


def _optional_pnw(folder: Path, limit: int | None) -> Iterator[WindowRecord]:
    """The 2002-2017 PNSN events (a later addition to the shared folder: absent in older copies of it)."""
    if (folder / "events.csv").is_file():
        yield from pnw_records(folder, max_events=limit, source="pnw_2002_2017")


def windows_drop_known_events(
    data: LabelledWindows, known: LabelledWindows, *, tolerance_s: float = DUPLICATE_EVENT_S
) -> tuple[LabelledWindows, LabelledWindows]:
    """``data`` split into the windows of events (groups) whose time lies farther than ``tolerance_s`` from every
    event of ``known``, and the windows of those that lie within it (the same events). The database holds events
    of the shared data too when they were imported (the demo imports the PNW and ESEC catalogues and their
    waveforms): read twice under two group names, one event could sit on both sides of the split by event and
    be counted twice."""
    if not len(data) or not len(known):
        return data, data.subset(np.zeros(len(data), dtype=bool))
    times = np.unique(known.times)
    index = np.searchsorted(times, data.times)
    before, after = times[np.clip(index - 1, 0, times.size - 1)], times[np.clip(index, 0, times.size - 1)]
    nearest = np.minimum(np.abs(data.times - before), np.abs(data.times - after))
    duplicate = nearest <= tolerance_s
    return data.subset(~duplicate), data.subset(duplicate)


def _group_strata(data: LabelledWindows) -> tuple[dict[tuple[str, int], list[str]], dict[str, float]]:
    """Groups by (source, event class) and each group's time. A group's class is the class of its non-noise
    windows (noise only: noise)."""
    group_class: dict[str, int] = {}
    group_time: dict[str, float] = {}
    group_source: dict[str, str] = {}
    for group, label, time, source in zip(data.groups, data.labels, data.times, data.sources, strict=True):
        key = str(group)
        if label != NOISE or key not in group_class:
            group_class[key] = int(label) if label != NOISE else group_class.get(key, NOISE)
        group_time[key] = float(time)
        group_source[key] = str(source)
    strata: dict[tuple[str, int], list[str]] = {}
    for key, label in group_class.items():
        strata.setdefault((group_source[key], label), []).append(key)
    return strata, group_time


def _time_ranked(members: list[str], group_time: dict[str, float], rng: np.random.Generator) -> list[str]:
    order = rng.permutation(len(members))
    return [
        name for _, _, name in sorted((group_time[members[i]], int(rank), members[i]) for rank, i in enumerate(order))
    ]


def split_by_event(
    data: LabelledWindows, *, test_fraction: float = 0.25, seed: int = 7, min_held: int = 0
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Train and test masks: whole groups (events) go to one side; within each (source, event class) the
    newest ``test_fraction`` of the groups (at least ``min_held`` where the stratum has 2 or more) are held
    out (time-ordered; ties broken by a seeded shuffle). A group's class is the class of its non-noise
    windows (noise only: noise)."""
    rng = np.random.default_rng(seed)
    strata, group_time = _group_strata(data)
    test_groups: set[str] = set()
    for members in strata.values():
        ranked = _time_ranked(members, group_time, rng)
        held = max(round(len(ranked) * test_fraction), min_held) if len(ranked) > 1 else 0
        test_groups.update(ranked[len(ranked) - held :])
    test = np.array([str(g) in test_groups for g in data.groups], dtype=bool)
    return ~test, test


def time_block_folds(data: LabelledWindows, *, folds: int = 5, seed: int = 7) -> npt.NDArray[np.int64]:
    """Fold index (0 .. folds-1) per window for grouped k-fold cross-validation over time blocks: within each
    (source, event class) the groups are ordered by time and cut into ``folds`` contiguous blocks, so every
    event is tested exactly once, by a network that never saw it, and all windows of an event share a fold."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, not {folds}")
    rng = np.random.default_rng(seed)
    strata, group_time = _group_strata(data)
    fold_of: dict[str, int] = {}
    for members in strata.values():
        ranked = _time_ranked(members, group_time, rng)
        for index, block in enumerate(np.array_split(np.arange(len(ranked)), folds)):
            fold_of.update({ranked[int(i)]: index for i in block})
    return np.array([fold_of[str(g)] for g in data.groups], dtype=np.int64)
