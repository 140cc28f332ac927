"""Reads of registered waveform data and station metadata; `waveforms.sources` builds streams on top."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet

from waveforms.models import Channel, Station, WaveformSource, WaveformTrace

SeedId = tuple[str, str, str, str]


def seed_id_split(seed_id: str) -> SeedId:
    """'NET.STA.LOC.CHA' as its four codes; raises ValueError for anything else."""
    parts = seed_id.split(".")
    if len(parts) != 4:
        raise ValueError(f"not a SEED id (NET.STA.LOC.CHA): {seed_id!r}")
    return parts[0], parts[1], parts[2], parts[3]


def _traces_narrowed(
    traces: QuerySet[WaveformTrace], seed_ids: Sequence[SeedId] | None, stations: Sequence[tuple[str, str]] | None
) -> QuerySet[WaveformTrace]:
    # A coarse IN filter per code keeps the SQL small for hundreds of channels; callers match exactly.
    if seed_ids is not None:
        traces = traces.filter(
            network__in={s[0] for s in seed_ids},
            station__in={s[1] for s in seed_ids},
            channel__in={s[3] for s in seed_ids},
        )
    if stations is not None:
        traces = traces.filter(network__in={s[0] for s in stations}, station__in={s[1] for s in stations})
    return traces


def waveform_files_overlapping(
    *,
    start: dt.datetime,
    end: dt.datetime,
    seed_ids: Sequence[SeedId] | None = None,
    stations: Sequence[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """(path, format) of registered files with a trace of the wanted channels overlapping [start, end]."""
    traces = WaveformTrace.objects.filter(start_time__lte=end, end_time__gte=start)
    rows = _traces_narrowed(traces, seed_ids, stations).values_list(
        "source__path", "source__format", "network", "station", "location", "channel"
    )
    wanted_ids = set(seed_ids) if seed_ids is not None else None
    wanted_stations = set(stations) if stations is not None else None
    files: dict[str, str] = {}
    for path, format_name, network, station, location, channel in rows:
        if wanted_ids is not None and (network, station, location, channel) not in wanted_ids:
            continue
        if wanted_stations is not None and (network, station) not in wanted_stations:
            continue
        files[path] = format_name
    return sorted(files.items())


def waveform_samples_overlapping(
    *, start: dt.datetime, end: dt.datetime, seed_ids: Sequence[SeedId] | None = None
) -> dict[str, float]:
    """Samples per SEED id that registered file traces hold inside [start, end] (overlap x sampling rate),
    from the indexed headers alone: what reading the window would cost before anything is read."""
    traces = _traces_narrowed(WaveformTrace.objects.filter(start_time__lte=end, end_time__gte=start), seed_ids, None)
    wanted = set(seed_ids) if seed_ids is not None else None
    samples: dict[str, float] = {}
    for network, station, location, channel, first, last, rate in traces.values_list(
        "network", "station", "location", "channel", "start_time", "end_time", "sampling_rate"
    ):
        if wanted is not None and (network, station, location, channel) not in wanted:
            continue
        seconds = (min(end, last) - max(start, first)).total_seconds()
        seed_id = f"{network}.{station}.{location}.{channel}"
        samples[seed_id] = samples.get(seed_id, 0.0) + max(0.0, seconds) * rate
    return samples


def waveform_seed_ids_overlapping(*, start: dt.datetime, end: dt.datetime) -> list[str]:
    """SEED ids of registered file traces overlapping [start, end]."""
    rows = (
        WaveformTrace.objects.filter(start_time__lte=end, end_time__gte=start)
        .values_list("network", "station", "location", "channel")
        .distinct()
    )
    return sorted(".".join(row) for row in rows)


def waveform_files_cover(*, time_field: str, before: dt.timedelta, after: dt.timedelta) -> Exists:
    """A filter expression for another model's rows: a registered file trace overlaps [t - before, t + after],
    t being the row's ``time_field``. SDS archives are not indexed trace by trace (see ``waveform_sds_roots``)."""
    time = OuterRef(time_field)
    return Exists(WaveformTrace.objects.filter(start_time__lte=time + after, end_time__gte=time - before))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
Microseconds = npt.NDArray[np.int64]


def epoch_microseconds(value: dt.datetime | str) -> int:
    """A stored time as whole microseconds since 1970 (UTC); exact, so span edges compare as the database does.
    SQLite hands raw SQL's timestamps back as text, stored in UTC."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // _MICROSECOND


def epoch_microseconds_sql(column: str) -> str | None:
    """SQL for a timestamp column as bigint microseconds since 1970 where the database can (PostgreSQL), so the
    driver parses integers instead of timestamps; None elsewhere (convert with epoch_microseconds)."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    return None


@dataclass(frozen=True)
class WaveformCoverage:
    """The union of every registered file trace as sorted, disjoint spans (microseconds since 1970, UTC).

    Built by one SQL pass (gaps and islands: a window's running maximum of the end times starts a new span where
    a trace starts after every earlier one ended), so the database returns the spans instead of every trace; a
    time window overlaps some trace exactly when it overlaps one of these spans."""

    starts: Microseconds
    ends: Microseconds

    def covers(self, times: Microseconds, *, before: float, after: float) -> npt.NDArray[np.bool_]:
        """For each time t (microseconds since 1970), whether a trace overlaps [t - before, t + after] (seconds): a
        binary search for the first span ending at or after t - before, which overlaps when it starts by t + after."""
        times = np.asarray(times, dtype=np.int64)
        covered = np.zeros(times.shape, dtype=bool)
        if not len(self.starts):
            return covered
        first = np.searchsorted(self.ends, times - round(before * 1e6), side="left")
        inside = first < len(self.starts)
        covered[inside] = self.starts[first[inside]] <= times[inside] + round(after * 1e6)
        return covered


def waveform_coverage() -> WaveformCoverage:
    """The registered file traces' union as sorted disjoint spans (see WaveformCoverage); one query."""
    table = connection.ops.quote_name(WaveformTrace._meta.db_table)
    first, last = "MIN(start_time)", "MAX(end_time)"
    first, last = epoch_microseconds_sql(first) or first, epoch_microseconds_sql(last) or last
    # only the quoted table name and fixed column expressions are formatted in; nothing comes from a request
    sql = f"""
        WITH ordered AS (
            SELECT start_time, end_time, MAX(end_time) OVER (
                ORDER BY start_time, end_time ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS reached
            FROM {table}
        ), grouped AS (
            SELECT start_time, end_time, SUM(
                CASE WHEN reached IS NULL OR start_time > reached THEN 1 ELSE 0 END
            ) OVER (ORDER BY start_time, end_time ROWS UNBOUNDED PRECEDING) AS island
            FROM ordered
        )
        SELECT {first}, {last} FROM grouped GROUP BY island ORDER BY 1
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        spans = cursor.fetchall()
    if spans and not isinstance(spans[0][0], int):
        spans = [(epoch_microseconds(start), epoch_microseconds(end)) for start, end in spans]
    pairs = np.array(spans, dtype=np.int64).reshape(-1, 2)
    return WaveformCoverage(starts=np.ascontiguousarray(pairs[:, 0]), ends=np.ascontiguousarray(pairs[:, 1]))


def waveform_file_span(*, path: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The first start and last end of the traces registered for the file at `path`; None when it has none."""
    span = WaveformTrace.objects.filter(source__path=path).aggregate(start=Min("start_time"), end=Max("end_time"))
    if span["start"] is None or span["end"] is None:
        return None
    return span["start"], span["end"]


def waveform_sds_roots() -> list[str]:
    return list(
        WaveformSource.objects.filter(kind=WaveformSource.Kind.SDS).order_by("path").values_list("path", flat=True)
    )


def _epoch_at(at: dt.datetime) -> Q:
    return (Q(start_date__isnull=True) | Q(start_date__lte=at)) & (Q(end_date__isnull=True) | Q(end_date__gte=at))


def station_coordinates_at(*, network: str, station: str, at: dt.datetime) -> tuple[float, float, float] | None:
    """(latitude °N, longitude °E, elevation m) of the station epoch open at `at`, or None if unknown."""
    row = (
        Station.objects.filter(_epoch_at(at), network__code=network, code=station, latitude__isnull=False)
        .filter(longitude__isnull=False, elevation__isnull=False)
        .order_by("-start_date")
        .values_list("latitude", "longitude", "elevation")
        .first()
    )
    if row is None:
        return None
    latitude, longitude, elevation = row
    assert latitude is not None and longitude is not None and elevation is not None
    return latitude, longitude, elevation


def channel_inventory_files(*, seed_ids: Sequence[SeedId], at: dt.datetime) -> list[tuple[str, str]]:
    """(path, format) of the inventory files describing the channels open at `at`, files with responses first."""
    rows = (
        Channel.objects.filter(_epoch_at(at), inventory_source__isnull=False)
        .filter(
            station__network__code__in={s[0] for s in seed_ids},
            station__code__in={s[1] for s in seed_ids},
            code__in={s[3] for s in seed_ids},
        )
        .values_list(
            "station__network__code",
            "station__code",
            "location_code",
            "code",
            "has_response",
            "inventory_source__path",
            "inventory_source__format",
        )
    )
    wanted = set(seed_ids)
    files: dict[str, tuple[bool, str]] = {}
    for network, station, location, channel, has_response, path, format_name in rows:
        if (network, station, location, channel) in wanted and path is not None and format_name is not None:
            files[path] = (files.get(path, (False, ""))[0] or has_response, format_name)
    return [(path, fmt) for path, (_, fmt) in sorted(files.items(), key=lambda item: (not item[1][0], item[0]))]
