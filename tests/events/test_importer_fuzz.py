"""Fuzzing the importers with malformed files built from real ones: truncated, bit-flipped, re-encoded, huge
values, XML entity expansion and external entities, MiniSEED records with lying headers.

Every case must end in one of two ways within a time limit: refused with ImportFileError naming the file and
nothing written, or imported with sane values (and never with the content of a file the XML pointed at).
"""

import random
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.db import connection

from events.importers.store import events_import_file
from events.models import Event, Magnitude, Origin, Pick
from fileimport.errors import ImportFileError
from waveforms.importing.stations import stations_import_file
from waveforms.importing.waveform_files import waveform_file_import
from waveforms.models import Channel, Station, WaveformSource

pytestmark = pytest.mark.django_db(transaction=True)
OBSPY = Path(obspy.__path__[0])
QUAKEML = OBSPY / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml"
NORDIC = OBSPY / "io/nordic/tests/data/select.out"
COMCAT_CSV = "catalogs/comcat_all_week_2021-05.csv"
STATIONXML = "esec/stations/1/AV.SPCG.xml"
MSEED = "esec/waveforms/1/AV.SPCG..BHN__20140910T192005Z__20140910T192305Z.mseed"
TIME_LIMIT_S = 30.0
SECRET_MARKER = "root:x:0:0"  # the first line of /etc/passwd

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    + b"]>\n"
)
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE q [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
XXE_PARAMETER = b'<?xml version="1.0"?>\n<!DOCTYPE q [ <!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext; ]>\n'


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    suffix: str


def _without_declaration(xml: bytes) -> bytes:
    return xml.split(b"?>", 1)[1] if xml.lstrip().startswith(b"<?xml") else xml


def _text_cases(stem: str, real: bytes, suffix: str) -> list[Case]:
    rng = random.Random(f"fuzz-{stem}")  # fixed seed: the same cases on every run
    cases = [Case(f"{stem}-truncated-{share}", real[: int(len(real) * share)], suffix) for share in (0.1, 0.5, 0.9)]
    cases.append(Case(f"{stem}-truncated-last-byte", real[:-2], suffix))
    for number in range(6):
        flipped = bytearray(real)
        for _ in range(1 + number):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        cases.append(Case(f"{stem}-bit-flip-{number}", bytes(flipped), suffix))
    text = real.decode("utf-8")
    cases.append(Case(f"{stem}-utf16", text.encode("utf-16"), suffix))
    cases.append(
        Case(f"{stem}-latin1-with-accents", text.replace(">", ">Zürich é ", 3).encode("latin-1", "replace"), suffix)
    )
    cases.append(Case(f"{stem}-nul-bytes", real.replace(b"\n", b"\n\x00", 5), suffix))
    return cases


def _xml_attack_cases(stem: str, real: bytes, element: bytes) -> list[Case]:
    """Entity expansion and external entities inside the first `element` text of a real XML file."""
    body = _without_declaration(real)
    head, tail = body.split(element, 1)
    value_end = tail.index(b"<")
    laughs = BILLION_LAUGHS + head + element + b"&lol9;" + tail[value_end:]
    xxe = XXE + head + element + b"&xxe;" + tail[value_end:]
    return [
        Case(f"{stem}-billion-laughs", laughs, ".xml"),
        Case(f"{stem}-external-entity-file", xxe, ".xml"),
        Case(f"{stem}-external-parameter-entity", XXE_PARAMETER + body, ".xml"),
        Case(
            f"{stem}-external-dtd-http",
            b'<?xml version="1.0"?>\n<!DOCTYPE q SYSTEM "http://127.0.0.1:9/x.dtd">\n' + body,
            ".xml",
        ),
    ]


def _replace_values(real: bytes, tag: bytes, values: tuple[bytes, ...], stem: str) -> list[Case]:
    cases = []
    for value in values:
        head, tail = real.split(b"<" + tag + b">", 1)
        cases.append(
            Case(
                f"{stem}-{tag.decode()}={value[:12].decode()}",
                head + b"<" + tag + b">" + value + tail[tail.index(b"<") :],
                ".xml",
            )
        )
    return cases


HUGE = (b"1e400", b"-1e400", b"9" * 400, b"nan", b"inf", b"1e308")


def quakeml_cases() -> list[Case]:
    real = QUAKEML.read_bytes()
    cases = _text_cases("quakeml", real, ".xml")
    cases += _xml_attack_cases("quakeml", real, b"<text>")
    latitude = real.split(b"<latitude>", 1)
    for value in HUGE:  # the origin latitude <latitude><value>...</value>
        inner = latitude[1].split(b"<value>", 1)
        rest = inner[1][inner[1].index(b"<") :]
        cases.append(
            Case(
                f"quakeml-latitude={value[:12].decode()}",
                latitude[0] + b"<latitude>" + inner[0] + b"<value>" + value + rest,
                ".xml",
            )
        )
    mag = real.split(b"<mag>", 1)
    inner = mag[1].split(b"<value>", 1)
    rest = inner[1][inner[1].index(b"<") :]
    cases.append(Case("quakeml-magnitude=1e400", mag[0] + b"<mag>" + inner[0] + b"<value>1e400" + rest, ".xml"))
    cases.append(Case("quakeml-time-year-99999", real.replace(b"2023-08-26T", b"99999-08-26T", 1), ".xml"))
    return cases


def catalogue_cases(shared_data: Path) -> list[Case]:
    lines = (shared_data / COMCAT_CSV).read_bytes().splitlines(keepends=True)[:40]
    real = b"".join(lines)
    cases = [c for c in _text_cases("comcat-csv", real, ".csv") if "truncated-0.1" not in c.name]
    header, first = lines[0], lines[1].split(b",")
    for column, value in ((1, b"1e400"), (2, b"-1e400"), (3, b"9" * 400), (4, b"nan"), (0, b"not a time")):
        row = list(first)
        row[column] = value
        cases.append(Case(f"comcat-csv-column{column}={value[:12].decode()}", header + b",".join(row), ".csv"))
    nordic = NORDIC.read_bytes()
    cases += [Case(f"nordic-truncated-{share}", nordic[: int(len(nordic) * share)], ".out") for share in (0.3, 0.77)]
    return cases


def stationxml_cases(shared_data: Path) -> list[Case]:
    real = (shared_data / STATIONXML).read_bytes()
    cases = _text_cases("stationxml", real, ".xml")
    cases += _xml_attack_cases("stationxml", real, b"<Description>" if b"<Description>" in real else b"<Site><Name>")
    cases += _replace_values(real, b"Latitude", HUGE, "stationxml")
    cases += _replace_values(real, b"Elevation", (b"1e400", b"9" * 400), "stationxml")
    cases += _replace_values(real, b"SampleRate", (b"1e400", b"-5", b"0"), "stationxml")
    return cases


def _mseed_edit(real: bytes, offset: int, fmt: str, value: int) -> bytes:
    edited = bytearray(real)
    struct.pack_into(fmt, edited, offset, value)
    return bytes(edited)


def mseed_cases(shared_data: Path) -> list[Case]:
    real = (shared_data / MSEED).read_bytes()
    blockette = struct.unpack(">H", real[46:48])[0]
    assert struct.unpack(">H", real[blockette : blockette + 2])[0] == 1000, "the first blockette is 1000"
    exponent = real[blockette + 6]
    record = 1 << exponent
    cases = [
        Case("mseed-truncated-half-record", real[: record // 2], ".mseed"),
        Case("mseed-truncated-mid-file", real[: len(real) // 2 + 100], ".mseed"),
        Case("mseed-header-only", real[:64], ".mseed"),
    ]
    for lie in (exponent - 1, exponent + 1, 20, 0, 7):
        cases.append(Case(f"mseed-record-length-2^{lie}", _mseed_edit(real, blockette + 6, ">B", lie), ".mseed"))
    for samples in (0, 0xFFFF, 1):
        cases.append(Case(f"mseed-samples={samples}", _mseed_edit(real, 30, ">H", samples), ".mseed"))
    cases.append(Case("mseed-data-offset-past-record", _mseed_edit(real, 44, ">H", record + 8), ".mseed"))
    cases.append(Case("mseed-sample-rate-0", _mseed_edit(real, 32, ">h", 0), ".mseed"))
    cases.append(Case("mseed-sample-rate-huge", _mseed_edit(real, 32, ">h", 32767), ".mseed"))
    cases.append(Case("mseed-encoding-unknown", _mseed_edit(real, blockette + 4, ">B", 99), ".mseed"))
    cases.append(Case("mseed-year-0", _mseed_edit(real, 20, ">H", 0), ".mseed"))
    rng = random.Random("fuzz-mseed")
    for number in range(4):
        flipped = bytearray(real)
        for _ in range(3):
            flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)  # in the fixed header and blockette 1000
        cases.append(Case(f"mseed-header-bit-flip-{number}", bytes(flipped), ".mseed"))
    return cases


# ---- running one case ----------------------------------------------------------------------------------------


def _counts() -> tuple[int, ...]:
    models = (Event, Origin, Magnitude, Pick, Station, Channel, WaveformSource)
    return tuple(model.objects.count() for model in models)


def _in_thread(call: Callable[[], Any]) -> Any:
    def run() -> Any:
        try:
            return call()
        finally:
            connection.close()

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(run).result(timeout=TIME_LIMIT_S)
    finally:
        pool.shutdown(wait=False)


def _sane_events() -> list[str]:
    problems = []
    for event in Event.objects.all():
        text = f"{event.description} {event.author} {event.agency_id} {event.region}"
        if SECRET_MARKER in text:
            problems.append(f"event {event.public_id} holds /etc/passwd")
        if event.latitude is not None and not -90 <= event.latitude <= 90:
            problems.append(f"event {event.public_id} latitude {event.latitude}")
        if event.magnitude is not None and not -12 <= event.magnitude <= 12:
            problems.append(f"event {event.public_id} magnitude {event.magnitude}")
    return problems


def _sane_stations() -> list[str]:
    problems = []
    for station in Station.objects.all():
        latitude, longitude = station.latitude or 0.0, station.longitude or 0.0
        if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
            problems.append(f"station {station} at {station.latitude}, {station.longitude}")
        if SECRET_MARKER in " ".join(str(v) for v in station.__dict__.values()):
            problems.append(f"station {station} holds /etc/passwd")
    return problems


def run_cases(
    cases: list[Case], folder: Path, importer: Callable[[Path], Any], sane: Callable[[], list[str]]
) -> dict[str, int]:
    tally = {"cases": 0, "refused": 0, "imported": 0}
    failures, imported = [], []
    for case in cases:
        path = folder / f"{case.name}{case.suffix}"
        path.write_bytes(case.content)
        before = _counts()
        tally["cases"] += 1
        try:
            _in_thread(lambda path=path: importer(path))  # type: ignore[misc]
        except FutureTimeout:
            failures.append(f"{case.name}: still running after {TIME_LIMIT_S:.0f} s")
            continue
        except ImportFileError as error:
            tally["refused"] += 1
            if path.name not in str(error):
                failures.append(f"{case.name}: the message does not name the file: {error}")
            if _counts() != before:
                failures.append(f"{case.name}: refused but rows were written {before} -> {_counts()}")
            continue
        except Exception as error:
            failures.append(f"{case.name}: {type(error).__name__}: {error}"[:400])
            continue
        tally["imported"] += 1
        imported.append(case.name)
        failures += [f"{case.name}: {problem}" for problem in sane()]
    print(f"\nfuzz {folder.name}: {tally}; imported: {', '.join(imported)}")
    assert not failures, "\n".join(failures)
    return tally


def test_malformed_event_files_are_refused_cleanly_or_imported_sanely(tmp_path: Path, shared_data: Path) -> None:
    cases = quakeml_cases() + catalogue_cases(shared_data)
    tally = run_cases(cases, tmp_path, lambda path: events_import_file(path=path), _sane_events)
    assert tally["cases"] >= 40 and tally["refused"] >= 20


def test_malformed_station_files_are_refused_cleanly_or_imported_sanely(tmp_path: Path, shared_data: Path) -> None:
    tally = run_cases(
        stationxml_cases(shared_data), tmp_path, lambda path: stations_import_file(path=path), _sane_stations
    )
    assert tally["cases"] >= 25 and tally["refused"] >= 10


def test_miniseed_records_with_lying_headers_are_refused_cleanly(tmp_path: Path, shared_data: Path) -> None:
    tally = run_cases(mseed_cases(shared_data), tmp_path, lambda path: waveform_file_import(path=path), list)
    assert tally["cases"] >= 18 and tally["refused"] >= 10
