"""Re-importing a catalogue never overwrites an analyst's decision: the decision and its label stay in force, the
file's conflicting label is kept beside it as a disagreement, and the audit trail records what the file wanted."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from analyst.ingest.uploads import import_job_run
from analyst.models import AuditEntry
from events.models import Event, EventLabel
from ranking.ml.classes import DECISION_CLASSES
from ranking.selectors import event_label_decisions, label_agreement
from ranking.training import labelled_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

SELECT_OUT = "io/nordic/tests/data/select.out"


def decide(analyst: User, event: Event, **body: Any) -> None:
    api = APIClient()
    api.force_authenticate(analyst)
    answer = api.post(f"/api/events/{event.pk}/review/", {"version": event.version, **body}, format="json")
    assert answer.status_code == 200, answer.content


def import_events(path: Path, *options: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_events", str(path), *options, stdout=out)
    return out.getvalue()


@pytest.fixture
def reviewed_nordic(obspy_data: Path) -> tuple[Event, Event]:
    """The Nordic catalogue imported as reviewed (every event an accepted earthquake); its first two events."""
    import_events(obspy_data / SELECT_OUT, "--reviewed")
    first, second = Event.objects.filter(event_type="earthquake").order_by("origin_time", "id")[:2]
    return first, second


def test_a_reviewed_reimport_keeps_the_analysts_quarry_blast_and_rejection(
    obspy_data: Path, analyst: User, reviewed_nordic: tuple[Event, Event]
) -> None:
    blast, false_alarm = reviewed_nordic
    decide(analyst, blast, decision="accept", event_type="quarry blast")
    decide(analyst, false_alarm, decision="reject")

    output = import_events(obspy_data / SELECT_OUT, "--reviewed")

    blast.refresh_from_db()
    false_alarm.refresh_from_db()
    assert (blast.event_type, blast.review_state) == ("quarry blast", "accepted")
    assert (false_alarm.event_type, false_alarm.review_state) == ("not existing", "rejected")
    assert "2 analyst decisions kept" in output
    assert f"kept the analyst's decision on {blast.public_id} (the file wanted event_type 'earthquake')" in output
    assert (
        f"kept the analyst's decision on {false_alarm.public_id} (the file wanted event_type 'earthquake', "
        "event_type_certainty 'suspected', review_state 'accepted')"
    ) in output
    # Both labels stay: the analyst's, in force, and the catalogue's beside it.
    assert set(blast.labels.values_list("source", "event_type")) == {
        ("analyst", "quarry blast"),
        ("imported_review", "earthquake"),
    }
    decisions = event_label_decisions(event_ids=[blast.pk])[0]
    assert decisions["disagree"] and decisions["label"]["source"] == "analyst"
    assert decisions["label"]["event_type"] == "quarry blast"
    assert label_agreement()["analyst_vs_catalogue"]["pairs"] == 2


def test_the_audit_trail_records_what_the_reviewed_reimport_wanted(
    obspy_data: Path, analyst: User, reviewed_nordic: tuple[Event, Event]
) -> None:
    blast, _ = reviewed_nordic
    decide(analyst, blast, decision="accept", event_type="quarry blast")
    import_events(obspy_data / SELECT_OUT, "--reviewed")
    entry = AuditEntry.objects.get(event=blast, user=None)
    assert entry.action == "review_refused"
    assert (entry.before["event_type"], entry.before["review_state"]) == ("quarry blast", "accepted")
    assert entry.after["event_type"] == "earthquake" and entry.after["source_file"].endswith("select.out")
    assert entry.comment == "the reviewed import of select.out kept the analyst's decision"
    blast.refresh_from_db()
    assert entry.event_version == blast.version


def test_the_labels_page_shows_the_disagreement_with_the_analyst_label_in_force(
    obspy_data: Path, analyst: User, reviewed_nordic: tuple[Event, Event], client: Client
) -> None:
    blast, _ = reviewed_nordic
    decide(analyst, blast, decision="accept", event_type="quarry blast")
    import_events(obspy_data / SELECT_OUT, "--reviewed")
    client.force_login(analyst)
    page = client.get("/learning/labels/").content.decode()
    row = page[page.index(blast.public_id) :]
    row = row[: row.index("</tr>")]
    assert "imported_review: earthquake" in row and "ana: explosion_like" in row
    assert row.endswith("<td>explosion_like</td>")


def test_a_changed_catalogue_label_does_not_displace_the_analysts_training_label(
    tmp_path: Path, shared_data: Path, analyst: User
) -> None:
    """A later version of a reviewed catalogue calls the event something else; the analyst's label still trains."""
    original = shared_data / "pnw/events.csv"
    import_events(original, "--reviewed")
    event = Event.objects.filter(event_type="explosion").order_by("origin_time", "id").first()
    assert event is not None
    decide(analyst, event, decision="accept", event_type="earthquake")
    source_id = event.public_id.rsplit("=", 1)[1]
    lines = original.read_text().splitlines(keepends=True)
    changed = [
        line.replace(",explosion,", ",quarry blast,") if line.startswith(source_id + ",") else line for line in lines
    ]
    assert changed != lines
    updated = tmp_path / "events.csv"  # a modified copy of the shared PNW catalogue: one event's type changed
    updated.write_text("".join(changed))

    import_events(updated, "--reviewed")

    event.refresh_from_db()
    assert (event.event_type, event.review_state) == ("earthquake", "accepted")
    assert set(event.labels.values_list("source", "event_type")) == {
        ("analyst", "earthquake"),
        ("imported_review", "quarry blast"),
    }
    data = labelled_events()
    trained_as = DECISION_CLASSES[int(data.labels[data.event_ids.index(event.pk)])]
    assert trained_as == "earthquake"
    assert event_label_decisions(event_ids=[event.pk])[0]["label"]["source"] == "analyst"


def test_an_automatic_reimport_leaves_the_analysts_decision_and_writes_no_label(
    obspy_data: Path, analyst: User
) -> None:
    import_events(obspy_data / SELECT_OUT)
    event = Event.objects.order_by("origin_time", "id").first()
    assert event is not None
    decide(analyst, event, decision="accept", event_type="quarry blast")
    import_events(obspy_data / SELECT_OUT)
    event.refresh_from_db()
    assert (event.event_type, event.review_state) == ("quarry blast", "accepted")
    assert list(event.labels.values_list("source", flat=True)) == ["analyst"]
    assert not AuditEntry.objects.filter(user=None).exists()


def test_a_reviewed_reimport_still_updates_events_no_analyst_decided(
    obspy_data: Path, reviewed_nordic: tuple[Event, Event]
) -> None:
    first, _ = reviewed_nordic
    Event.objects.filter(pk=first.pk).update(event_type="explosion")  # as an older catalogue version had it
    import_events(obspy_data / SELECT_OUT, "--reviewed")
    first.refresh_from_db()
    assert first.event_type == "earthquake"
    assert EventLabel.objects.filter(source="imported_review").count() == Event.objects.count()


def test_a_reviewed_upload_keeps_the_analysts_decision_and_the_job_says_so(
    obspy_data: Path,
    analyst: User,
    senior_analyst: User,
    reviewed_nordic: tuple[Event, Event],
    settings: Any,
    tmp_path: Path,
) -> None:
    """The upload page's "these events were reviewed" box is the same re-import."""
    settings.DATA_DIR = tmp_path
    blast, _ = reviewed_nordic
    decide(analyst, blast, decision="accept", event_type="quarry blast")
    api = APIClient()
    api.force_authenticate(senior_analyst)
    select_out = SimpleUploadedFile("select.out", (obspy_data / SELECT_OUT).read_bytes())
    job = api.post("/api/imports/", {"events": select_out, "reviewed": "true"}, format="multipart").json()
    import_job_run(job_id=job["id"])  # what the Celery task runs
    [entry] = api.get(f"/api/imports/{job['id']}/").json()["files"]
    assert entry["status"] == "done" and "1 analyst decisions kept" in entry["summary"]
    assert (
        f"kept the analyst's decision on {blast.public_id} (the file wanted event_type 'earthquake')"
        in (entry["skipped_reasons"])
    )
    blast.refresh_from_db()
    assert (blast.event_type, blast.review_state) == ("quarry blast", "accepted")
