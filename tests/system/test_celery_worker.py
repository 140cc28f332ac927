"""A task sent through the configured broker runs in a real Celery worker process and its result
lands in the test database (PostgreSQL + Redis in CI, SQLite + filesystem transport by default)."""

from pathlib import Path

import pytest

from analyst.tasks import import_events_file
from events.models import Event
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_imports_a_bulletin_into_the_database(celery_worker_process: None, obspy_data: Path) -> None:
    path = obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt"
    import_events_file.delay(str(path))
    wait_for(lambda: Event.objects.count() == 2, what="the worker's import of the IPEC bulletin")
    blast = Event.objects.get(event_type="mining explosion")
    assert blast.picks.count() > 0
    assert blast.source_file == str(path)


def test_a_bad_file_sent_to_the_worker_writes_nothing_and_the_next_file_still_imports(
    celery_worker_process: None, tmp_path: Path, obspy_data: Path
) -> None:
    lines = (obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt").read_text().splitlines(keepends=True)
    bad = tmp_path / "broken.ims"
    index = next(i for i, line in enumerate(lines) if line.startswith("2024/09/01 12:33:19.91"))
    lines[index] = "2024/09/01 12:33:19.91   0.34  0.17  49.8X19\n"
    bad.write_text("".join(lines))
    import_events_file.delay(str(bad))
    import_events_file.delay(str(obspy_data / "io/quakeml/tests/data/usgs_event.xml"))
    wait_for(lambda: Event.objects.exists(), what="the worker's import of the good file")
    assert list(Event.objects.values_list("source_file", flat=True)) == [
        str(obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    ]
