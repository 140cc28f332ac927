"""The audit trail is append-only and keeps the score and model versions each decision was made against."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db.models import ProtectedError
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry, AuditEntryImmutableError
from analyst.review import event_review
from events.models import Event, EventLabel
from ranking.models import EventScore
from ranking.scoring import events_score
from ranking.training import ranker_train
from tests.support.workbench_data import pnsn_head

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def scored_blast(shared_data: Path, obspy_data: Path, tmp_path: Path) -> Event:
    """The real Ostrava-area mining explosion, scored by a ranker trained on real PNSN reviews."""
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=300), reviewed=True)
    ranker_train(created_by="audit-tests", promote=True)
    report = events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    events_score(event_ids=report.event_ids)
    return Event.objects.get(event_type="mining explosion")


def test_a_decision_records_the_score_and_model_versions_of_that_moment(analyst: User, scored_blast) -> None:
    score = EventScore.objects.get(event=scored_blast)
    event_review(event_id=scored_blast.pk, user=analyst, version=scored_blast.version, decision="accept")
    entry = AuditEntry.objects.get()
    assert entry.importance == pytest.approx(score.importance)
    assert entry.predicted_class == score.predicted_class
    assert entry.model_versions["ranker"] == score.ranker_version
    label = EventLabel.objects.get(source="analyst")
    assert label.predicted["ranker_version"] == score.ranker_version
    assert label.predicted["class_probabilities"] == score.class_probabilities


def test_audit_entries_can_be_neither_changed_nor_deleted(analyst: User, scored_blast) -> None:
    event_review(
        event_id=scored_blast.pk, user=analyst, version=scored_blast.version, decision="comment", comment="first look"
    )
    entry = AuditEntry.objects.get()
    entry.comment = "rewritten"
    with pytest.raises(AuditEntryImmutableError):
        entry.save()
    with pytest.raises(AuditEntryImmutableError):
        entry.delete()
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(comment="rewritten")
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().comment == "first look"


def test_the_history_reads_in_order_with_who_did_what(analyst: User, senior_analyst: User, scored_blast) -> None:
    version = scored_blast.version
    event_review(
        event_id=scored_blast.pk, user=analyst, version=version, decision="set_type", event_type="quarry blast"
    )
    event_review(
        event_id=scored_blast.pk,
        user=senior_analyst,
        version=version + 1,
        decision="accept",
        event_type="mining explosion",
        comment="mine, not quarry",
    )
    api = APIClient()
    api.force_authenticate(analyst)
    history = api.get(f"/api/events/{scored_blast.pk}/").json()["history"]
    assert [(h["user"], h["action"], h["event_version"]) for h in history] == [
        ("ana", "set_type", version + 1),
        ("sen", "accept", version + 2),
    ]
    assert history[1]["before"]["event_type"] == "quarry blast"
    assert history[1]["after"]["event_type"] == "mining explosion"
    assert history[1]["comment"] == "mine, not quarry"


def test_an_audited_event_cannot_be_deleted_from_under_its_trail(analyst: User, scored_blast) -> None:
    event_review(event_id=scored_blast.pk, user=analyst, version=scored_blast.version, decision="reject")
    with pytest.raises(ProtectedError):
        Event.objects.filter(pk=scored_blast.pk).delete()
