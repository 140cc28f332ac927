"""Files the readers let through but the store could not take as they were: colliding ids are made unique and
reported, and every failure is one line naming the file, the line or element and the reason, never a traceback,
with nothing written."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import Event, Origin

pytestmark = pytest.mark.django_db

IPEC_IMS = "io/iaspei/tests/data/ipe202409sel_ims.txt"


def run_import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    try:
        call_command("import_events", *args)
    except CommandError as error:
        print(error)
    captured = capsys.readouterr()
    return captured.out, captured.err


def isc_style_bulletin(obspy_data: Path, tmp_path: Path) -> Path:
    """ObsPy's IPEC IMS1.0 bulletin with its two located events given 9-digit ISC-style ids that share their first
    8 digits (a modified copy, written here): ObsPy's reader keeps 8 characters, so both read as 60658301."""
    text = (obspy_data / IPEC_IMS).read_text()
    text = text.replace("EVENT 2032257 ", "EVENT 606583012").replace("EVENT 2032696 ", "EVENT 606583014")
    assert text.count("EVENT 60658301") == 2
    path = tmp_path / "isc_bulletin.txt"
    path.write_text(text)
    return path


def test_isc_ids_that_collide_after_truncation_import_as_two_events_and_are_reported(
    obspy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = isc_style_bulletin(obspy_data, tmp_path)
    out, err = run_import(capsys, str(path))
    assert err == "" and "events 2 created" in out and "1 repeated event ids renamed" in out
    ids = sorted(Event.objects.values_list("public_id", flat=True))
    assert ids == ["smi:local/ims10bulletin/event/60658301", "smi:local/ims10bulletin/event/60658301#2"]
    assert (
        "event 3: id smi:local/ims10bulletin/event/60658301 is also event 2's in this file; "
        "stored as smi:local/ims10bulletin/event/60658301#2"
    ) in out
    first, second = Event.objects.order_by("origin_time")
    assert first.public_id.endswith("60658301") and first.magnitude == 1.2
    assert second.public_id.endswith("60658301#2") and second.description == "CZECH REPUBLIC, OSTRAVA"

    out, _ = run_import(capsys, str(path))  # the same ids again: the events are matched, not duplicated
    assert "events 0 created, 2 updated" in out and Event.objects.count() == 2


def test_a_count_beyond_the_stores_integers_names_the_csv_line_and_field(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, row, *_ = (shared_data / "catalogs/comcat_all_week_2021-05.csv").read_text().splitlines()
    path = tmp_path / "comcat.csv"  # one real ComCat row, its station count made absurd
    path.write_text(f"{header}\n{row.replace(',md,33,', ',md,99999999999,')}\n")
    out, err = run_import(capsys, str(path))
    assert err.splitlines() == [f"[1/1] FAILED {path}, line 2: field 'nst': '99999999999' is not a plausible count"]
    assert "Traceback" not in out + err and Event.objects.count() == 0


def test_a_count_beyond_the_stores_integers_names_the_quakeml_element(
    obspy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (obspy_data / "io/quakeml/tests/data/usgs_event.xml").read_text()
    path = tmp_path / "usgs_event.xml"  # ObsPy's USGS event, its origin's phase count made absurd
    path.write_text(text.replace("<usedPhaseCount>", "<usedPhaseCount>99999999", 1))
    _, err = run_import(capsys, str(path))
    assert err.startswith(f"[1/1] FAILED {path}: quakeml:earthquake.usgs.gov/product/ci/origin/ci37285320/")
    assert "field 'used_phase_count'" in err and len(err.splitlines()) == 1
    assert Origin.objects.count() == 0


def test_a_timestamp_beyond_any_date_names_the_pnsn_line(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, row, *_ = (shared_data / "pnw/events.csv").read_text().splitlines()
    fields = row.split(",")
    fields[1] = "1e300"
    path = tmp_path / "pnsn.csv"  # one real PNSN row with an impossible Unix time
    path.write_text(f"{header}\n{','.join(fields)}\n")
    _, err = run_import(capsys, str(path))
    assert err.splitlines() == [f"[1/1] FAILED {path}, line 2: field 'timestamp': 1e+300 is not a time"]


def test_the_same_nordic_event_twice_in_one_file_is_named_not_a_database_error(
    obspy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (obspy_data / "io/nordic/tests/data/select.out").read_text().splitlines(keepends=True)
    first_event = "".join(lines[: next(i for i, line in enumerate(lines) if not line.strip()) + 1])
    path = tmp_path / "twice.out"  # the first Nordic event of select.out, twice
    path.write_text(first_event + first_event)
    _, err = run_import(capsys, str(path))
    assert "appears twice in the file" in err and len(err.splitlines()) == 1
    assert Event.objects.count() == 0
