"""The one place that finds waveform data and station metadata for a time window.

Registered files are found through their indexed WaveformTrace rows and read with starttime/endtime;
SDS archives are read through ObsPy's SDS client. Every problem (gaps, overlaps, mixed sampling rates,
requested channels without data, missing or unreadable files) becomes a readable line in
`StreamResult.problems`; nothing is dropped silently and no file problem raises.
"""

import copy
import datetime as dt
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import obspy
from obspy import Inventory, Stream, UTCDateTime
from obspy.clients.filesystem.sds import Client as SdsClient
from obspy.io.mseed.util import get_record_information

from fileimport.errors import ImportFileError
from waveforms.importing.reading import plain_waveform_file
from waveforms.importing.waveform_files import SDS_FILE_NAME
from waveforms.models import WaveformTrace
from waveforms.selectors import (
    SeedId,
    channel_inventory_files,
    seed_id_split,
    station_coordinates_at,
    waveform_files_overlapping,
    waveform_samples_overlapping,
    waveform_sds_roots,
    waveform_seed_ids_overlapping,
)
from waveforms.summaries import (
    MIN_BINS_PER_COLUMN,
    SummarySegment,
    segment_from_bins,
    segments_join,
)
from waveforms.summary_store import SummaryFile, summary_file_current, summary_open


@dataclass
class StreamResult:
    stream: obspy.Stream  # one trace per contiguous segment per SEED id, trimmed to [start, end]
    problems: list[str] = field(default_factory=list)


def _utc(value: UTCDateTime) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _wanted(trace: obspy.Trace, seed_ids: set[SeedId] | None, stations: set[tuple[str, str]] | None) -> bool:
    stats = trace.stats
    if seed_ids is not None and (stats.network, stats.station, stats.location, stats.channel) not in seed_ids:
        return False
    return stations is None or (stats.network, stats.station) in stations


def _read_file(path: str, format_name: str, start: UTCDateTime, end: UTCDateTime, problems: list[str]) -> Stream:
    if not Path(path).is_file():
        problems.append(f"{path}: registered waveform file is missing")
        return Stream()
    if not format_name:  # never ObsPy's auto-detection, which would also unpickle a pickled stream
        problems.append(f"{path}: registered without a format name; import it again")
        return Stream()
    try:
        with warnings.catch_warnings(), plain_waveform_file(Path(path)) as plain:
            warnings.simplefilter("ignore")
            return obspy.read(str(plain), format=format_name, starttime=start, endtime=end)
    except ImportFileError as error:  # a gzip file past the limits
        problems.append(str(error))
        return Stream()
    except Exception as error:  # ObsPy's readers raise many exception types for a damaged file.
        problems.append(f"{path}: unreadable ({error})")
        return Stream()


def _read_sds(
    root: str,
    start: UTCDateTime,
    end: UTCDateTime,
    seed_ids: set[SeedId] | None,
    stations: set[tuple[str, str]] | None,
    problems: list[str],
) -> Stream:
    if not Path(root).is_dir():
        problems.append(f"{root}: registered SDS archive is missing")
        return Stream()
    requests: list[tuple[str, str, str, str]]
    if seed_ids is not None:
        requests = sorted(seed_ids)
    elif stations is not None:
        requests = [(network, station, "*", "*") for network, station in sorted(stations)]
    else:
        requests = [("*", "*", "*", "*")]
    client = SdsClient(root)
    stream = Stream()
    for request in requests:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stream += client.get_waveforms(*request, start, end)
        except Exception as error:  # a damaged day file must not hide the rest of the archive
            problems.append(f"{root}: SDS read of {'.'.join(request)} failed ({error})")
    return Stream([trace for trace in stream if _wanted(trace, seed_ids, stations)])


def _report_gaps(stream: Stream, start: UTCDateTime, end: UTCDateTime, problems: list[str]) -> None:
    """Gaps and overlaps between a channel's records. A window reaching past the first or last record is not a
    gap: the data simply end there (the display window is wider than any one station's record)."""
    for network, station, location, channel, gap_start, gap_end, seconds, _ in stream.get_gaps():
        seed_id = f"{network}.{station}.{location}.{channel}"
        kind = "gap" if seconds > 0 else "overlap"
        problems.append(f"{kind} in {seed_id} from {_utc(gap_start)} to {_utc(gap_end)} ({abs(seconds):.3f} s)")


def _assemble(stream: Stream, start: UTCDateTime, end: UTCDateTime, problems: list[str]) -> Stream:
    """Per SEED id: keep the dominant sampling rate, report gaps and overlaps, merge, trim."""
    by_id: dict[str, list[obspy.Trace]] = defaultdict(list)
    for trace in stream:
        if trace.stats.npts:
            by_id[trace.id].append(trace)
    result = Stream()
    for seed_id in sorted(by_id):
        traces = by_id[seed_id]
        samples: Counter[float] = Counter()
        for trace in traces:
            samples[trace.stats.sampling_rate] += trace.stats.npts
        dominant = samples.most_common(1)[0][0]
        for rate in sorted(set(samples) - {dominant}):
            problems.append(
                f"mixed sampling rates in {seed_id}: dropped {samples[rate]} samples at {rate:g} Hz, "
                f"kept {dominant:g} Hz"
            )
        group = Stream([t for t in traces if t.stats.sampling_rate == dominant])
        group.sort(keys=["starttime"])
        _report_gaps(group, start, end, problems)
        # method=1 resolves overlaps; split() then turns the masked gaps back into plain contiguous traces.
        group.merge(method=1)
        result += group.split()
    result.trim(start, end)
    return Stream([trace for trace in result if trace.stats.npts])


def stream_for_window(
    *,
    start: dt.datetime,
    end: dt.datetime,
    seed_ids: Sequence[str] | None = None,
    stations: Sequence[tuple[str, str]] | None = None,
) -> StreamResult:
    """Waveforms for [start, end] (aware datetimes) from registered files and SDS archives.

    `seed_ids` ('NET.STA.LOC.CHA') and/or `stations` ((network, station) pairs) narrow the channels; with
    neither, every channel with data is returned. Samples keep their recorded units (counts) and rates.
    """
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    ids = {seed_id_split(seed_id) for seed_id in seed_ids} if seed_ids is not None else None
    pairs = set(stations) if stations is not None else None
    problems: list[str] = []
    raw = Stream()
    files = waveform_files_overlapping(
        start=start,
        end=end,
        seed_ids=sorted(ids) if ids is not None else None,
        stations=sorted(pairs) if pairs is not None else None,
    )
    for path, format_name in files:
        raw += Stream([t for t in _read_file(path, format_name, t0, t1, problems) if _wanted(t, ids, pairs)])
    for root in waveform_sds_roots():
        raw += _read_sds(root, t0, t1, ids, pairs, problems)
    stream = _assemble(raw, t0, t1, problems)
    found_ids = {trace.id for trace in stream}
    for seed_id in sorted(seed_ids or ()):
        if seed_id not in found_ids:
            problems.append(f"no data for {seed_id} between {_utc(t0)} and {_utc(t1)}")
    found_stations = {(trace.stats.network, trace.stats.station) for trace in stream}
    for network, station in sorted(pairs or ()):
        if (network, station) not in found_stations:
            problems.append(f"no data for station {network}.{station} between {_utc(t0)} and {_utc(t1)}")
    return StreamResult(stream=stream, problems=problems)


def _sds_rate(path: Path) -> float:
    """The sampling rate in a day file's first MiniSEED record; 0 for a file the read itself will report."""
    try:
        return float(get_record_information(str(path))["samp_rate"])
    except Exception:  # ObsPy raises many exception types for a damaged record
        return 0.0


def _sds_samples(root: str, start: dt.datetime, end: dt.datetime, seed_ids: set[str] | None) -> dict[str, float]:
    """Samples per SEED id an SDS archive would give for [start, end]: each day file's rate (read from its first
    record only) times the part of the window inside that day."""
    samples: dict[str, float] = {}
    day = start.date()
    while day <= end.date():
        day_start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        seconds = (min(end, day_start + dt.timedelta(days=1)) - max(start, day_start)).total_seconds()
        pattern = f"{day.year}/*/*/*.[A-Z]/*.{day.year}.{day.timetuple().tm_yday:03d}"
        for path in Path(root).glob(pattern):
            match = SDS_FILE_NAME.match(path.name)
            if not match:
                continue
            seed_id = f"{match['net']}.{match['sta']}.{match['loc']}.{match['cha']}"
            if seed_ids is not None and seed_id not in seed_ids:
                continue
            rate = _sds_rate(path)
            samples[seed_id] = samples.get(seed_id, 0.0) + max(0.0, seconds) * rate
        day += dt.timedelta(days=1)
    return samples


def samples_in_window(*, start: dt.datetime, end: dt.datetime, seed_ids: Sequence[str] | None = None) -> int:
    """About how many samples ``stream_for_window`` would read for these channels (all with None), from
    registered headers and SDS day files' first records, without reading any data."""
    ids = {seed_id_split(seed_id) for seed_id in seed_ids} if seed_ids is not None else None
    samples = waveform_samples_overlapping(start=start, end=end, seed_ids=sorted(ids) if ids is not None else None)
    for root in waveform_sds_roots():
        for seed_id, count in _sds_samples(root, start, end, set(seed_ids) if seed_ids is not None else None).items():
            samples[seed_id] = samples.get(seed_id, 0.0) + count
    return round(sum(samples.values()))


def _sds_seed_ids(root: str, start: dt.datetime, end: dt.datetime) -> set[str]:
    found: set[str] = set()
    day = start.date()
    while day <= end.date():
        pattern = f"{day.year}/*/*/*.[A-Z]/*.{day.year}.{day.timetuple().tm_yday:03d}"
        for path in Path(root).glob(pattern):
            match = SDS_FILE_NAME.match(path.name)
            if match:
                found.add(f"{match['net']}.{match['sta']}.{match['loc']}.{match['cha']}")
        day += dt.timedelta(days=1)
    return found


def channels_covering(*, start: dt.datetime, end: dt.datetime) -> list[str]:
    """SEED ids with data in [start, end]: registered file traces, plus SDS day files for those days."""
    found = set(waveform_seed_ids_overlapping(start=start, end=end))
    for root in waveform_sds_roots():
        found |= _sds_seed_ids(root, start, end)
    return sorted(found)


def station_coordinates(*, network: str, station: str, at: dt.datetime) -> tuple[float, float, float] | None:
    """(latitude °N, longitude °E, elevation m) from the imported inventory for the epoch open at `at`, else None."""
    return station_coordinates_at(network=network, station=station, at=at)


@lru_cache(maxsize=64)
def _inventory_read(path: str, format_name: str, modified_ns: int) -> Inventory:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return obspy.read_inventory(path, format=format_name)


def inventory_for(*, seed_ids: Sequence[str], at: dt.datetime) -> Inventory | None:
    """The channels' metadata (responses included) re-read from their InventorySource files; None if none.

    A channel described by several files is taken from the first file with responses. Missing or
    unreadable files are skipped.
    """
    wanted = {seed_id_split(seed_id) for seed_id in seed_ids}
    at_utc = UTCDateTime(at)
    combined = Inventory(networks=[], source="Seistriage")
    remaining = set(wanted)
    for path, format_name in channel_inventory_files(seed_ids=sorted(wanted), at=at):
        if not remaining:
            break
        try:
            inventory = _inventory_read(path, format_name, Path(path).stat().st_mtime_ns)
        except Exception:  # noqa: S112 - a file moved or damaged since import: other files may still serve
            continue
        for network, station, location, channel in sorted(remaining):
            part = inventory.select(network=network, station=station, location=location, channel=channel, time=at_utc)
            if part.get_contents()["channels"]:
                combined += copy.deepcopy(part)
                remaining.discard((network, station, location, channel))
    return combined if combined.networks else None


@dataclass
class SummaryResult:
    segments: dict[str, list[SummarySegment]]  # per SEED id: contiguous runs overlapping the window
    problems: list[str] = field(default_factory=list)  # gaps, worded as stream_for_window words them


def summary_segments_for_window(
    *, start: dt.datetime, end: dt.datetime, seed_ids: Sequence[str], variant: str, width: int
) -> SummaryResult:
    """The channels of ``seed_ids`` that can be drawn over [start, end] on ``width`` pixels from summaries.

    A channel qualifies when each pixel column spans at least MIN_BINS_PER_COLUMN bins, every registered
    file holding it in the window has a current summary with the ``variant`` ("raw" or a filter preset)
    for each of its segments, no SDS archive holds it on those days, and its segments share one sampling
    rate without overlapping. Others are left out: the caller reads their samples (stream_for_window).
    """
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    wanted = {seed_id_split(seed_id) for seed_id in seed_ids}
    rows = WaveformTrace.objects.filter(
        start_time__lte=end,
        end_time__gte=start,
        network__in={w[0] for w in wanted},
        station__in={w[1] for w in wanted},
        channel__in={w[3] for w in wanted},
    ).values_list("source_id", "source__path", "network", "station", "location", "channel")
    files_of: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for source_id, path, *codes in rows:
        if tuple(codes) in wanted:
            files_of[".".join(codes)].add((source_id, path))
    excluded: set[str] = set()
    for root in waveform_sds_roots():
        excluded |= _sds_seed_ids(root, start, end)
    opened: dict[int, SummaryFile | None] = {}
    result = SummaryResult(segments={})
    for seed_id, files in sorted(files_of.items()):
        if seed_id in excluded:
            continue
        segments = _summary_segments(seed_id, files, opened, variant, t0, t1)
        runs = segments_join(segments) if segments else None
        if not runs or any((t1 - t0) / width * r.sampling_rate < MIN_BINS_PER_COLUMN * r.bin_size for r in runs):
            continue
        headers = _header_stream(runs, t0, t1)
        if not headers:
            continue
        result.segments[seed_id] = runs
        _report_gaps(headers, t0, t1, result.problems)
    return result


def _summary_segments(
    seed_id: str,
    files: set[tuple[int, str]],
    opened: dict[int, SummaryFile | None],
    variant: str,
    t0: UTCDateTime,
    t1: UTCDateTime,
) -> list[SummarySegment] | None:
    """The segments of ``seed_id`` overlapping [t0, t1] from its files' summaries; None if one is missing."""
    segments: list[SummarySegment] = []
    for source_id, path in sorted(files):
        if source_id not in opened:
            current = summary_file_current(source_id=source_id, path=path)
            opened[source_id] = summary_open(current) if current is not None else None
        summary = opened[source_id]
        if summary is None or seed_id not in summary.index["channels"]:
            return None
        for number, entry in enumerate(summary.index["segments"]):
            if entry["seed_id"] != seed_id:
                continue
            begin = UTCDateTime(ns=entry["start_ns"])
            if begin > t1 or begin + (entry["npts"] - 1) / entry["sampling_rate"] < t0:
                continue
            if variant not in entry["variants"]:
                return None
            segments.append(
                segment_from_bins(
                    seed_id=seed_id,
                    start=begin,
                    sampling_rate=entry["sampling_rate"],
                    npts=entry["npts"],
                    bins=summary.bins(number, variant),
                    bin_size=summary.index["bin"],
                )
            )
    return segments


def _header_stream(runs: Sequence[SummarySegment], t0: UTCDateTime, t1: UTCDateTime) -> Stream:
    """Header-only traces (ObsPy's ``headonly`` kind) of the runs cut to [t0, t1], for the gap report."""
    stream = Stream()
    for run in runs:
        network, station, location, channel = seed_id_split(run.seed_id)
        first = max(0, int(np.ceil((t0 - run.start) * run.sampling_rate - 1e-6)))
        last = min(run.npts - 1, int(np.floor((t1 - run.start) * run.sampling_rate + 1e-6)))
        if last < first:
            continue
        header = {
            "network": network,
            "station": station,
            "location": location,
            "channel": channel,
            "sampling_rate": run.sampling_rate,
            "starttime": run.start + first / run.sampling_rate,
        }
        trace = obspy.Trace(header=header)
        trace.stats.npts = last - first + 1
        stream.append(trace)
    return stream
