"""The one ingest service behind every entrance: imported events go to scoring, and waveforms registered after
their events send the unreviewed events they cover back to be measured and scored, whether they come through
`import_waveforms`, the upload page or the watched folder (before, only the watched folder did)."""

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from analyst.ingest.services import events_ingest_file, waveforms_ingest_file
from events.models import Event
from events.vocabulary import ReviewState, ScoringState
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
EVENT = "uw61348817"  # a real PNSN blast of 2018-02-13 whose records the shared data holds
OTHER = "uw61362132"


def _pnsn_rows(shared_data: Path, tmp_path: Path, ids: tuple[str, ...]) -> Path:
    """The rows of the real PNSN catalogue for these event ids, as an automatic feed would deliver them."""
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    rows = [line for line in lines[1:] if line.split(",", 1)[0] in ids]
    assert len(rows) == len(ids)
    target = tmp_path / "pnsn.csv"
    target.write_text("\n".join([lines[0], *rows]) + "\n")
    return target


def _events_by_id(shared_data: Path, tmp_path: Path) -> dict[str, Event]:
    """Import both events and mark them scored, as the worker had done before their waveforms arrived."""
    events_ingest_file(path=_pnsn_rows(shared_data, tmp_path, (EVENT, OTHER)))
    Event.objects.update(scoring_state=ScoringState.SCORED, review_state=ReviewState.SCORED)
    events = list(Event.objects.order_by("origin_time"))  # EVENT is the earlier one
    assert len(events) == 2
    return {EVENT: events[0], OTHER: events[1]}


def _state(event: Event) -> str:
    event.refresh_from_db()
    return event.scoring_state


def test_import_events_sends_the_imported_events_to_scoring(shared_data: Path, tmp_path: Path) -> None:
    report = events_ingest_file(path=_pnsn_rows(shared_data, tmp_path, (EVENT,)))
    assert len(report.event_ids) == 1
    assert Event.objects.get(pk=report.event_ids[0]).scoring_state == ScoringState.QUEUED


def test_import_waveforms_sends_the_already_scored_events_it_covers_back_to_scoring(
    shared_data: Path, tmp_path: Path
) -> None:
    events = _events_by_id(shared_data, tmp_path)
    record = shared_data / "pnw" / "waveforms" / EVENT / "UW.JCW..EHZ.mseed"

    call_command("import_waveforms", str(record))

    assert _state(events[EVENT]) == ScoringState.QUEUED  # covered: measured and scored again
    assert _state(events[OTHER]) == ScoringState.SCORED  # another day: left alone
    # The same file again, unchanged: nothing new to measure, nothing requeued.
    Event.objects.update(scoring_state=ScoringState.SCORED)
    assert waveforms_ingest_file(path=record).status == "unchanged"
    assert _state(events[EVENT]) == ScoringState.SCORED


@pytest.mark.worker
def test_uploaded_waveforms_send_the_events_they_cover_back_to_scoring_in_the_worker(
    celery_worker_process: None, shared_data: Path, tmp_path: Path, senior_analyst: object
) -> None:
    events_ingest_file(path=_pnsn_rows(shared_data, tmp_path, (EVENT, OTHER)))
    covered, other = Event.objects.order_by("origin_time")
    # The worker scores the imported events first (no active ranker here: "no model").
    wait_for(lambda: _state(covered) == _state(other) == ScoringState.NO_MODEL, what="the import's scoring")
    asked = {event.pk: event.scoring_requested_at for event in (covered, other)}
    client = Client()
    client.login(username="sen", password="sen-password-1")
    with (shared_data / "pnw" / "waveforms" / EVENT / "UW.JCW..EHZ.mseed").open("rb") as upload:
        response = client.post("/api/imports/", {"waveforms": [upload]})
    assert response.status_code == 202, response.content
    job_url = f"/api/imports/{response.json()['id']}/"

    wait_for(lambda: client.get(job_url).json()["state"] in ("done", "failed"), what="the worker to import the upload")
    assert client.get(job_url).json()["state"] == "done"
    # The worker's import sent the covered event back: asked again, then measured and scored again.
    wait_for(lambda: _asked(covered) != asked[covered.pk], what="the covered event sent back to scoring")
    wait_for(lambda: _state(covered) == ScoringState.NO_MODEL, what="the covered event scored again")
    assert _asked(other) == asked[other.pk]


def _asked(event: Event) -> object:
    event.refresh_from_db()
    return event.scoring_requested_at


def test_reviewed_events_are_not_sent_back_by_new_waveforms(shared_data: Path, tmp_path: Path) -> None:
    events = _events_by_id(shared_data, tmp_path)
    Event.objects.filter(pk=events[EVENT].pk).update(review_state=ReviewState.ACCEPTED)
    copy = shutil.copy(shared_data / "pnw" / "waveforms" / EVENT / "UW.JCW..EHZ.mseed", tmp_path / "jcw.mseed")

    waveforms_ingest_file(path=Path(copy))

    assert _state(events[EVENT]) == ScoringState.SCORED  # an analyst's decision is not rescored
