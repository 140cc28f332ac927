"""Review L9: the DOCTYPE refusal looked at the first 64 KiB of files starting with "<", so a UTF-8 byte order
mark, UTF-16, or a 70 KB comment before the DOCTYPE slipped past it (and the files then failed as "not an event
format"). The refusal now reads the parsed document; each disguise of a real QuakeML file with an internal
entity is refused with the DOCTYPE message, the event and station importers alike, and nothing is written."""

from pathlib import Path

import pytest

from events.importers.store import events_import_file
from events.models import Event
from fileimport.errors import ImportFileError
from waveforms.importing.stations import stations_import_file
from waveforms.models import Channel

QUAKEML = "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml"
STATIONXML = "esec/stations/1/AV.SPBG.xml"
ENTITY = '<!DOCTYPE q [<!ENTITY lol "lol">]>\n'


def _declaration_removed(text: str) -> str:
    return text.split("?>", 1)[1].lstrip() if text.startswith("<?xml") else text


def _disguises(text: str) -> dict[str, bytes]:
    body = ENTITY + _declaration_removed(text)
    comment = "<!--" + "x" * 70_000 + "-->\n"
    return {
        "utf8-bom": b"\xef\xbb\xbf" + ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8"),
        "utf16": ('<?xml version="1.0" encoding="UTF-16"?>\n' + body).encode("utf-16"),
        "long-comment-first": ('<?xml version="1.0"?>\n' + comment + body).encode("utf-8"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("disguise", ["utf8-bom", "utf16", "long-comment-first"])
def test_a_doctype_behind_a_disguise_is_refused_by_the_event_importer(
    disguise: str, obspy_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / f"{disguise}.xml"
    path.write_bytes(_disguises((obspy_data / QUAKEML).read_text())[disguise])
    with pytest.raises(ImportFileError, match=rf"{disguise}\.xml: XML with a DOCTYPE or entity declarations"):
        events_import_file(path=path)
    assert not Event.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("disguise", ["utf8-bom", "utf16", "long-comment-first"])
def test_a_doctype_behind_a_disguise_is_refused_by_the_station_importer(
    disguise: str, shared_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / f"{disguise}.xml"
    path.write_bytes(_disguises((shared_data / STATIONXML).read_text())[disguise])
    with pytest.raises(ImportFileError, match=rf"{disguise}\.xml: XML with a DOCTYPE or entity declarations"):
        stations_import_file(path=path)
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_the_same_file_with_a_byte_order_mark_and_no_doctype_still_imports(obspy_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_bytes(b"\xef\xbb\xbf" + (obspy_data / QUAKEML).read_bytes())
    assert events_import_file(path=path).events_created == 1
