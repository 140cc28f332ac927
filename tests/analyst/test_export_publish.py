"""Publishing records the bulletin (who, when, selection, count, SHA-256) and keeps the file byte for byte."""

import hashlib
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from analyst.bulletins.services import bulletin_file
from analyst.models import Bulletin
from events.models import Event
from tests.support.export_data import import_bundled, review_some

pytestmark = pytest.mark.django_db


def test_export_bulletin_publishes_a_recorded_file_with_its_hash(
    obspy_data: Path, analyst: User, senior_analyst: User, tmp_path: Path
) -> None:
    import_bundled(obspy_data)
    review_some(analyst)
    output = tmp_path / "bulletin.xml"
    call_command(
        "export_bulletin",
        "--start",
        "1990-01-01",
        "--end",
        "2030-01-01",
        "--format",
        "quakeml",
        "--publish-as",
        "sen",
        "-o",
        str(output),
    )
    bulletin = Bulletin.objects.get()
    stored = bulletin_file(bulletin=bulletin).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == bulletin.sha256 and len(stored) == bulletin.size_bytes
    assert bulletin.event_count == Event.objects.filter(review_state="accepted").count()
    assert bulletin.created_by == senior_analyst and bulletin.kind == "published"
    assert bulletin.filters["status"] == "accepted" and bulletin.format == "quakeml"
    assert output.read_bytes().count(b"<event ") == bulletin.event_count


def test_a_bad_window_is_refused_and_nothing_is_written(tmp_path: Path, db: None) -> None:
    with pytest.raises(CommandError, match="end: must be after start"):
        call_command(
            "export_bulletin",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-01",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "x.csv"),
        )
    assert not list(tmp_path.iterdir()) and not Bulletin.objects.exists()
