"""Scoring through a real Celery worker: imports are scored on commit, the sweep requeues stalled events."""

import datetime as dt
import time
from pathlib import Path

import pytest

from analyst.ingest.services import events_ingest_file
from events.models import Event
from events.vocabulary import ReviewState, ScoringState
from ranking.models import EventScore
from ranking.scoring import NO_MODEL_MESSAGE, events_scoring_sweep
from ranking.training import ranker_train
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reviewed_2018(shared_data: Path, tmp_path: Path) -> Path:
    """The first 1,500 real PNSN catalogue rows of 2018, as the importer reads them."""
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    path = tmp_path / "pnsn_2018_head.csv"
    path.write_text("\n".join(lines[:1501]) + "\n")
    return path


def _all_scored(ids: list[int]) -> bool:
    return Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count() == len(ids)


def test_imported_events_wait_with_a_clear_state_when_no_model_is_active(celery_worker_process, obspy_data) -> None:
    report = events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    ids = report.event_ids
    wait_for(
        lambda: Event.objects.filter(pk__in=ids, scoring_state=ScoringState.NO_MODEL).count() == len(ids),
        what="the no-model state",
    )
    event = Event.objects.get(pk=ids[0])
    assert event.scoring_error == NO_MODEL_MESSAGE and event.importance is None
    assert event.review_state == ReviewState.NEW


def test_the_worker_scores_real_imported_events_with_a_trained_ranker(
    celery_worker_process, reviewed_2018, obspy_data
) -> None:
    events_ingest_file(path=reviewed_2018, reviewed=True)
    version = ranker_train(created_by="test", promote=True)
    assert version.status == "active" and version.training_summary["labels"]["explosion_like"] > 100

    report = events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    ids = report.event_ids
    assert len(ids) == 50
    wait_for(lambda: _all_scored(ids), what="50 Nordic events scored by the worker")

    for event in Event.objects.filter(pk__in=ids):
        assert event.review_state == ReviewState.SCORED
        assert 0.0 <= event.importance <= 1.0  # type: ignore[operator]
        score = EventScore.objects.get(event=event)
        assert score.model_versions == {"ranker": version.version} and score.ranker_version == version.version
        assert sum(score.class_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert score.importance == pytest.approx(event.importance)
        assert score.predicted_class == event.predicted_class
        # These events have no waveforms: they are scored from origin features alone.
        assert score.features["waveform_station_count"] == 0.0 and score.features["waveform_snr_median"] is None
        assert score.features["local_solar_hour"] is not None
        for item in score.explanation:
            assert item["feature"] in score.features and item["direction"] in {"raises", "lowers"}
    assert any(EventScore.objects.get(event_id=i).explanation for i in ids)


def test_the_sweep_requeues_a_stalled_event_and_scoring_is_idempotent(
    celery_worker_process, reviewed_2018, obspy_data
) -> None:
    events_ingest_file(path=reviewed_2018, reviewed=True)
    ranker_train(created_by="test", promote=True)
    report = events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    [event_id] = report.event_ids
    wait_for(lambda: _all_scored([event_id]), what="the quarry blast scored")
    # A message lost with its worker: the event says queued, an hour ago, and nothing is coming.
    Event.objects.filter(pk=event_id).update(
        scoring_state=ScoringState.QUEUED, scoring_requested_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    assert events_scoring_sweep(stalled_after_s=600) == 1
    wait_for(lambda: _all_scored([event_id]), what="the stalled event scored again")
    # Same active ranker, same event: the redelivery stores no second score.
    assert EventScore.objects.filter(event_id=event_id).count() == 1


def test_scoring_retries_after_a_real_lock_timeout_and_then_finishes(obspy_data: Path) -> None:
    """A row lock held by another PostgreSQL session makes the first attempts time out; the retry succeeds."""
    import threading

    import psycopg
    from django.db import connection

    from ranking.tasks import score_events
    from tests.conftest import _database_url

    if connection.vendor != "postgresql":
        pytest.skip("lock timeouts are a PostgreSQL behaviour (CI runs this on PostgreSQL)")
    report = events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    [event_id] = report.event_ids
    other = psycopg.connect(_database_url(connection.settings_dict), autocommit=False)
    other.execute("SELECT id FROM analyst_event WHERE id = %s FOR UPDATE", [event_id])
    release = threading.Timer(1.0, other.rollback)
    release.start()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '400ms'")
    started = time.monotonic()
    try:
        result = score_events.apply(args=([event_id],))
    finally:
        release.join()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert result.successful(), result.traceback
    # Each attempt gives up after 400 ms while the lock is held for 1 s: only a retry can have finished it.
    assert time.monotonic() - started >= 1.0
    assert result.get()["state"] == ScoringState.NO_MODEL
    assert Event.objects.get(pk=event_id).scoring_state == ScoringState.NO_MODEL


def test_an_event_decided_before_its_score_came_is_still_scored_and_keeps_the_decision(
    celery_worker_process, reviewed_2018, obspy_data
) -> None:
    events_ingest_file(path=reviewed_2018, reviewed=True)
    version = ranker_train(created_by="test", promote=True)
    report = events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    [event_id] = report.event_ids
    wait_for(lambda: _all_scored([event_id]), what="the quarry blast scored")
    # As in the load test: the analyst accepts it while its (lost) scoring message is still on its way.
    EventScore.objects.filter(event_id=event_id).delete()
    Event.objects.filter(pk=event_id).update(
        review_state=ReviewState.ACCEPTED,
        importance=None,
        scoring_state=ScoringState.QUEUED,
        scoring_requested_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )
    assert events_scoring_sweep(stalled_after_s=600) == 1
    wait_for(lambda: _all_scored([event_id]), what="the decided event scored")
    event = Event.objects.get(pk=event_id)
    assert event.review_state == ReviewState.ACCEPTED and event.importance is not None
    assert EventScore.objects.get(event_id=event_id).ranker_version == version.version
    assert events_scoring_sweep(stalled_after_s=600) == 0  # nothing left queued
