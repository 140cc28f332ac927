"""Build the demo bundle in this folder from the shared real-data folder (run once by a developer; the app never
runs it). Every sample and every catalogue value is copied from the sources; nothing is synthesised.

    python demo/build_bundle.py /work/shared/data

What it takes, and from where, is written in demo/README.md (which it writes too); the selections below are
deterministic, so running it again on the same shared folder rewrites the same samples and rows (only the
StationXML's creation time changes).
"""

import csv
import shutil
import sys
from pathlib import Path

import obspy
from obspy import UTCDateTime
from obspy.core.event import (
    Catalog,
    CreationInfo,
    Event,
    EventDescription,
    Magnitude,
    Origin,
    Pick,
    ResourceIdentifier,
    WaveformStreamID,
)
from obspy.core.inventory import Channel, Inventory, Network, Site, Station

DEMO = Path(__file__).resolve().parent

# The sources, as /work/shared/data/README.md names them; every file in the bundle comes from one of these.
KHARITA = "PNW seismic event classification repository (Kharita et al.), MIT"
PNW_ML = "PNW-ML dataset repository (Ni et al. 2023, Seismica), MIT; rows are ANSS ComCat/PNSN data"
ESEC = "PNW seismic event classification repository (Kharita et al.), MIT; data from IRIS/FDSN and the ESEC"
SE_USA = "BCNN/DropCNN classification repository (Zhang et al.), MIT"
# (file in demo/, where it came from in the shared data folder, source and licence), for demo/README.md.
MANIFEST: list[tuple[str, str, str]] = []


def _copy(source: Path, target: Path, shared: Path, licence: str) -> None:
    shutil.copyfile(source, target)
    MANIFEST.append((str(target.relative_to(DEMO)), f"`{source.relative_to(shared)}`, unchanged", licence))


# PNSN events from pnw/ (Kharita et al.): the first of each type by event id, with at least three stations.
PNW_EARTHQUAKES = 7
PNW_EXPLOSIONS = 5
PNW_STATIONS = 4
# Labelled PNSN events with their records, for the demo's CNN: the next ones of each type by event id (every
# explosion left: the source has 17).
PNW_LABELLED = {"earthquake": 12, "explosion": 12}
# ESEC surface events: the ones whose StationXML carries full responses first, then three types those lack.
ESEC_EVENTS = ("1", "3", "8", "10", "14", "24", "25", "62", "155", "163")
ESEC_STATIONS = 3
# Labelled ESEC surface events with vertical records, for the demo's CNN: the first others by event id with two
# stations (the lahars that the catalogue also calls explosions left out).
ESEC_LABELLED = 12
ESEC_LABELLED_STATIONS = 2
SE_USA_STATIONS = 4
# Labelled PNSN catalogue rows: every n-th row of each type, enough for a first ranker.
PNSN_LABELLED_EVERY = {"earthquake": 30, "explosion": 12, "other event": 1, "quarry blast": 1}


def build_pnw(shared: Path) -> tuple[set[str], set[str]]:
    """PNSN events with their vertical records (copied unchanged: STEIM2, 150 s from origin - 50 s): the unreviewed
    ones (at least three stations), then the labelled ones the demo's CNN trains on. Returns the two sets' ids."""
    with (shared / "pnw/events.csv").open(newline="") as source:
        reader = csv.DictReader(source)
        fieldnames = list(reader.fieldnames or [])
        rows = sorted(reader, key=lambda row: row["source_id"])
    unreviewed = _pnw_choose(shared, rows, {"earthquake": PNW_EARTHQUAKES, "explosion": PNW_EXPLOSIONS}, 3, set())
    labelled = _pnw_choose(shared, rows, dict(PNW_LABELLED), 1, {row["source_id"] for row in unreviewed})
    for name, chosen in (("pnw_unreviewed.csv", unreviewed), ("pnw_labelled.csv", labelled)):
        with (DEMO / "events" / name).open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")
            writer.writeheader()
            writer.writerows(chosen)
        MANIFEST.append((f"events/{name}", "rows of `pnw/events.csv`, unchanged", KHARITA))
    return {row["source_id"] for row in unreviewed}, {row["source_id"] for row in labelled}


def _pnw_choose(
    shared: Path, rows: list[dict[str, str]], wanted: dict[str, int], min_stations: int, taken: set[str]
) -> list[dict[str, str]]:
    """The first events of each wanted type with at least ``min_stations`` records, not in ``taken``; their
    first PNW_STATIONS records are copied."""
    chosen = []
    for row in rows:
        # Short-period and broadband channels only: the source also holds a few LHZ and VHZ (1 and 0.1 Hz) records.
        files = [
            f for f in sorted((shared / "pnw/waveforms" / row["source_id"]).glob("*.mseed")) if _band(f) not in "LVU"
        ]
        if row["source_id"] in taken or wanted.get(row["event_type"], 0) <= 0 or len(files) < min_stations:
            continue
        wanted[row["event_type"]] -= 1
        chosen.append(row)
        target = DEMO / "waveforms/pnw" / row["source_id"]
        target.mkdir(parents=True)
        for path in files[:PNW_STATIONS]:
            _copy(path, target / path.name, shared, KHARITA)
    return chosen


def _band(path: Path) -> str:
    """The SEED band code of a `NET.STA.LOC.CHA.mseed` file name."""
    return path.name.split(".")[3][:1]


def build_pnsn_labelled(shared: Path, *, leave_out: set[str], labelled: set[str]) -> None:
    """Reviewed rows of the PNW-ML PNSN catalogue (analyst event types), without the demo's unreviewed events, and
    without its labelled PNW events (their rows come from pnw/events.csv; left out after the every-n-th choice, so
    the rows chosen before they were added stay the same)."""
    with (shared / "catalogs/pnsn_comcat_2018-2022.csv").open(newline="") as source:
        reader = csv.DictReader(source)
        fieldnames = list(reader.fieldnames or [])
        seen: dict[str, int] = {}
        kept = []
        for row in reader:
            if row["source_id"] in leave_out:
                continue
            index = seen.get(row["event_type"], 0)
            seen[row["event_type"]] = index + 1
            if index % PNSN_LABELLED_EVERY.get(row["event_type"], 10**9) == 0 and row["source_id"] not in labelled:
                kept.append(row)
    with (DEMO / "events/pnsn_labelled.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    every = ", ".join(f"every {n}th {kind}" for kind, n in PNSN_LABELLED_EVERY.items() if n > 1)
    MANIFEST.append(
        ("events/pnsn_labelled.csv", f"rows of `catalogs/pnsn_comcat_2018-2022.csv` ({every}, all others)", PNW_ML)
    )


def build_esec(shared: Path) -> None:
    """ESEC surface events: the chosen ones unreviewed with up to three stations' records and StationXML (copied
    unchanged), every other catalogue row as a reviewed label."""
    with (shared / "esec/IRISExoticEventCatalog.txt").open(newline="") as source:
        reader = csv.DictReader(source, delimiter="|")
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    for name, keep in (("esec_unreviewed.txt", True), ("esec_labelled.txt", False)):
        with (DEMO / "events" / name).open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fieldnames, delimiter="|", lineterminator="\n")
            writer.writeheader()
            writer.writerows(row for row in rows if (row["eventid"] in ESEC_EVENTS) == keep)
        which = "the demo's unreviewed events" if keep else "every row but the demo's unreviewed events"
        MANIFEST.append((f"events/{name}", f"rows of `esec/IRISExoticEventCatalog.txt` ({which})", ESEC))
    for event_id in ESEC_EVENTS:
        files = sorted((shared / "esec/waveforms" / event_id).glob("*.mseed"))
        stations = sorted({".".join(path.name.split(".")[:2]) for path in files})[:ESEC_STATIONS]
        records = DEMO / "waveforms/esec" / event_id
        responses = DEMO / "stations/esec" / event_id
        records.mkdir(parents=True)
        responses.mkdir(parents=True)
        for path in files:
            if ".".join(path.name.split(".")[:2]) in stations:
                _copy(path, records / path.name, shared, ESEC)
        for station in stations:
            _copy(shared / "esec/stations" / event_id / f"{station}.xml", responses / f"{station}.xml", shared, ESEC)
    build_esec_labelled(shared, rows)


def build_esec_labelled(shared: Path, rows: list[dict[str, str]]) -> None:
    """Vertical records of labelled ESEC events for the demo's CNN (their rows are in esec_labelled.txt): the
    first ESEC_LABELLED events by event id with ESEC_LABELLED_STATIONS stations, copied unchanged."""
    kinds = {row["eventid"]: row["type"] for row in rows}
    taken = 0
    for folder in sorted((shared / "esec/waveforms").iterdir(), key=lambda p: int(p.name)):
        if taken == ESEC_LABELLED or folder.name in ESEC_EVENTS or "explosion" in kinds.get(folder.name, "explosion"):
            continue
        verticals = [path for path in sorted(folder.glob("*.mseed")) if path.name.split("__")[0].endswith("Z")]
        stations = sorted({".".join(path.name.split(".")[:2]) for path in verticals})[:ESEC_LABELLED_STATIONS]
        if len(stations) < ESEC_LABELLED_STATIONS:
            continue
        taken += 1
        records = DEMO / "waveforms/esec" / folder.name
        records.mkdir(parents=True)
        for path in verticals:
            if ".".join(path.name.split(".")[:2]) in stations:
                _copy(path, records / path.name, shared, ESEC)


def build_se_usa(shared: Path) -> None:
    """SE USA earthquakes and explosions (Zhang et al.): QuakeML from the SAC headers (origin, magnitude, the P
    pick `a`), the records as float32 MiniSEED (the SAC samples are floats), channel-level StationXML from the
    SAC station coordinates."""
    catalog = Catalog(resource_id=ResourceIdentifier("smi:seistriage.demo/se_usa"))
    networks: dict[str, Network] = {}
    for folder, event_type in (("EQ", "earthquake"), ("EP", "explosion")):
        by_event: dict[str, list[Path]] = {}
        for path in sorted((shared / "se_usa_sac" / folder).glob("*.SAC")):
            by_event.setdefault(path.name.split(".")[0], []).append(path)
        for key, paths in sorted(by_event.items()):
            event = _se_usa_event(key, event_type, paths[:SE_USA_STATIONS], networks)
            catalog.append(event)
    catalog.write(str(DEMO / "events/se_usa_unreviewed.xml"), format="QUAKEML")
    headers = "the SAC headers of the `se_usa_sac/EQ` and `se_usa_sac/EP` files below"
    MANIFEST.append(
        ("events/se_usa_unreviewed.xml", f"QuakeML written from {headers} (origin, magnitude, P pick)", SE_USA)
    )
    MANIFEST.append(("stations/se_usa.xml", f"StationXML (channel level) written from {headers}", SE_USA))
    Inventory(networks=list(networks.values()), source="SAC headers, se_usa_sac (Zhang et al.)").write(
        str(DEMO / "stations/se_usa.xml"), format="STATIONXML"
    )


def _se_usa_event(key: str, event_type: str, paths: list[Path], networks: dict[str, Network]) -> Event:
    event_id = f"smi:seistriage.demo/se_usa/{key}"
    event = Event(resource_id=ResourceIdentifier(event_id), event_type=event_type)
    target = DEMO / "waveforms/se_usa" / key
    target.mkdir(parents=True)
    for index, path in enumerate(paths):
        trace = obspy.read(str(path), format="SAC")[0]
        sac = trace.stats.sac
        reference = trace.stats.starttime - float(sac.b)
        if index == 0:
            origin = Origin(
                resource_id=ResourceIdentifier(f"{event_id}/origin"),
                time=reference + float(sac.o),
                latitude=round(float(sac.evla), 5),
                longitude=round(float(sac.evlo), 5),
                depth=round(float(sac.evdp) * 1000.0, 1),
                evaluation_mode="automatic",
                creation_info=CreationInfo(agency_id="se_usa_sac"),
            )
            event.origins.append(origin)
            event.preferred_origin_id = origin.resource_id
            magnitude = Magnitude(
                resource_id=ResourceIdentifier(f"{event_id}/magnitude"),
                mag=round(float(sac.mag), 2),
                origin_id=origin.resource_id,
            )
            event.magnitudes.append(magnitude)
            event.preferred_magnitude_id = magnitude.resource_id
            event.event_descriptions.append(EventDescription(text=f"SE USA {event_type} {key}", type="region name"))
        stats = trace.stats
        event.picks.append(
            Pick(
                resource_id=ResourceIdentifier(f"{event_id}/pick/{stats.network}.{stats.station}"),
                time=reference + float(sac.a),
                waveform_id=WaveformStreamID(stats.network, stats.station, stats.location, stats.channel),
                phase_hint="P",
                evaluation_mode="automatic",
            )
        )
        del trace.stats.sac
        trace.write(str(target / f"{trace.id}.mseed"), format="MSEED", encoding="FLOAT32", reclen=512)
        MANIFEST.append(
            (f"waveforms/se_usa/{key}/{trace.id}.mseed", f"`{path.relative_to(path.parents[2])}`, as MiniSEED", SE_USA)
        )
        _add_channel(networks, trace.stats, float(sac.stla), float(sac.stlo), float(sac.stel))
    return event


def _add_channel(networks: dict[str, Network], stats: obspy.core.Stats, lat: float, lon: float, elev: float) -> None:
    network = networks.setdefault(stats.network, Network(code=stats.network))
    station = next((s for s in network.stations if s.code == stats.station), None)
    if station is None:
        station = Station(
            code=stats.station, latitude=lat, longitude=lon, elevation=elev, site=Site(name=stats.station)
        )
        network.stations.append(station)
    if not any(c.code == stats.channel and c.location_code == stats.location for c in station.channels):
        station.channels.append(
            Channel(
                code=stats.channel,
                location_code=stats.location,
                latitude=lat,
                longitude=lon,
                elevation=elev,
                depth=0.0,
                sample_rate=stats.sampling_rate,
            )
        )


README_HEAD = """# The demo bundle

Real recorded data, small enough to ship in the repository (at most 8 MB), so that `make run` on a fresh clone
gives a demo worth opening without the shared data folder: `python manage.py load_demo` (without `--data`)
loads ObsPy's bundled files and this folder (the `SEISTRIAGE_DEMO_BUNDLE` setting; default: this folder).
Nothing here is synthetic: every sample and catalogue value is copied from the sources below.

What it holds:

- **Unreviewed events with waveforms** (the queue to review):
  - {pnw_eq} earthquakes and {pnw_ex} explosions of the Pacific Northwest Seismic Network (PNSN), 2018-2021, each
    with the vertical records of up to {pnw_st} stations (150 s from 50 s before the origin, STEIM2 counts), no
    station metadata (the source has none);
  - {esec} surface events of the IRIS Exotic Seismic Events Catalog (rock falls, avalanches, debris flows, lahars,
    landslides, a mine collapse), with the 3-component records of up to {esec_st} stations (about 3 min from
    about 70 s before the event, STEIM2 counts) and their StationXML (full responses for the first seven
    events, channel level for the rest);
  - {se_usa} South-East USA earthquakes and explosions, 2015-2017, with the vertical records of up to {se_usa_st}
    stations (80 s, 50 Hz; the SAC samples are floating point, so float32 MiniSEED), each station's P pick, and
    the station coordinates.
- **Labelled (reviewed) events** that train the first ranker at start: rows of the PNW-ML PNSN catalogue with the
  analysts' event types (earthquakes, explosions, quarry blasts, other events) and the rest of the ESEC catalogue
  (surface events).
- **Labelled events with waveforms** that train the demo's small CNN at start (in the worker, a few epochs), so
  the unreviewed events get CNN probabilities and saliency: {pnw_l_eq} earthquakes and {pnw_l_ex} explosions of
  the PNSN (their analysts' types, the vertical records of up to {pnw_st} stations, as above) and {esec_l}
  labelled ESEC surface events (the vertical records of {esec_l_st} stations, no station metadata).

How it was cut: `python demo/build_bundle.py /path/to/shared/data` (run once by a developer; the app never runs
it) chooses deterministically: the first PNSN events by event id with at least three stations (unreviewed),
then the next ones with at least one (labelled), the first stations of each event in SEED-id order (PNSN:
short-period and broadband channels only, no LHZ/VHZ); the ESEC events listed in the script (unreviewed), then
the first others by event id with two vertical records (labelled; the lahars the catalogue also calls explosions
left out); every SE USA event. The PNW and ESEC files are byte-for-byte copies (their
windows are already 2.5-3 min around the event); the SE USA SAC files are rewritten as MiniSEED with the same
samples, and their headers (event origin `o`, location `evla`, `evlo`, `evdp`, magnitude `mag`, P arrival `a`,
station `stla`, `stlo`, `stel`) become the QuakeML and StationXML files. Event rows are
copied unchanged in each catalogue's own format.

## Licences

Every source is MIT-licensed (as `/work/shared/data/README.md` records them); nothing LGPL, unlicensed or of
unknown licence is copied here (the `pnw_2002_2017/` labels, derived from unlicensed pick lists, are left out;
ObsPy's LGPL test files are read from the installed package, not copied). The MIT licence asks that its notice
travel with copies:

> Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
> documentation files (the "Software"), to deal in the Software without restriction, including without
> limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the
> Software, and to permit persons to whom the Software is furnished to do so, subject to the following
> conditions: The above copyright notice and this permission notice shall be included in all copies or
> substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
> OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE
> AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR
> OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
> WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

Copyright holders: PNW-ML, Copyright (c) 2022 Yiyu Ni; the PNW seismic event classification repository, its
authors (Kharita et al.); the BCNN/DropCNN classification repository, its authors (Zhang et al.). The waveforms
themselves are open FDSN network data (PNSN/UW, AV, TA, UW, CO and others), distributed through IRIS.

## Files

Every data file in this folder, where it came from (path in the shared data folder) and under which licence:

| file | from | source and licence |
|---|---|---|
"""


def write_readme() -> None:
    counts = {
        "pnw_eq": PNW_EARTHQUAKES,
        "pnw_ex": PNW_EXPLOSIONS,
        "pnw_st": PNW_STATIONS,
        "esec": len(ESEC_EVENTS),
        "esec_st": ESEC_STATIONS,
        "pnw_l_eq": PNW_LABELLED["earthquake"],
        "pnw_l_ex": PNW_LABELLED["explosion"],
        "esec_l": ESEC_LABELLED,
        "esec_l_st": ESEC_LABELLED_STATIONS,
        "se_usa": len(list((DEMO / "waveforms/se_usa").iterdir())),
        "se_usa_st": SE_USA_STATIONS,
    }
    rows = [f"| `{file}` | {source} | {licence} |" for file, source, licence in sorted(MANIFEST)]
    (DEMO / "README.md").write_text(README_HEAD.format(**counts) + "\n".join(rows) + "\n")


def main(shared: Path) -> None:
    for folder in ("events", "waveforms", "stations"):
        shutil.rmtree(DEMO / folder, ignore_errors=True)
        (DEMO / folder).mkdir()
    unreviewed, labelled = build_pnw(shared)
    build_pnsn_labelled(shared, leave_out=unreviewed, labelled=labelled)
    build_esec(shared)
    build_se_usa(shared)
    write_readme()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "README.md").exists():
        sys.exit("usage: python demo/build_bundle.py SHARED_DATA_FOLDER (the folder with the shared README.md)")
    main(Path(sys.argv[1]))
    print(UTCDateTime.now(), "built", DEMO)
