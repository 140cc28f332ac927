"""The watched folder end to end: a real file dropped in the folder is imported and scored by a real worker."""

import os
import time
from pathlib import Path

import pytest
from django.test import override_settings

from analyst.ingest.services import events_ingest_file
from analyst.ingest.watch_folder import SETTLE_SECONDS
from analyst.models import IntakeFile
from analyst.tasks import scan_watch_folder
from events.models import Event
from events.vocabulary import ReviewState, ScoringState
from ranking.models import EventScore
from ranking.training import ranker_train
from tests.conftest import wait_for

WEEK_ROWS = 100  # the first rows of the real ComCat week: earthquakes and four blasts, one in the PNW


def _head(source: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` rows of a real catalogue CSV, as a network would deliver a slice."""
    lines = source.read_text().splitlines()
    target.write_text("\n".join(lines[: rows + 1]) + "\n")
    past = time.time() - 10 * SETTLE_SECONDS  # finished writing a while ago
    os.utime(target, (past, past))
    return target


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_imports_a_dropped_catalogue_in_the_worker_and_scores_its_events_with_the_active_ranker(
    celery_worker_process: None, shared_data: Path, tmp_path: Path
) -> None:
    catalogs = shared_data / "catalogs"
    events_ingest_file(path=_head(catalogs / "pnsn_comcat_2018-2022.csv", tmp_path / "pnsn.csv", 1500), reviewed=True)
    version = ranker_train(created_by="test", promote=True)
    watched = tmp_path / "incoming"
    watched.mkdir()
    dropped = _head(catalogs / "comcat_all_week_2021-05.csv", watched / "comcat_week_head.csv", WEEK_ROWS)

    # The worker process reads its settings from the environment: the folder travels as the task argument.
    with override_settings(SEISTRIAGE_WATCH_DIR=str(watched)):
        scan_watch_folder.delay(str(watched))
        wait_for(
            lambda: IntakeFile.objects.filter(path=str(dropped.absolute())).exists(),
            what="the worker's scan to record the dropped file",
        )
    intake = IntakeFile.objects.get(path=str(dropped.absolute()))
    assert (intake.kind, intake.status, intake.error) == ("events", "imported", "")
    events = Event.objects.filter(source_file=str(dropped.absolute()))
    assert events.count() == WEEK_ROWS

    ids = list(events.values_list("pk", flat=True))
    wait_for(
        lambda: Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count() == len(ids),
        what=f"{len(ids)} dropped events scored by the worker",
    )
    for event in Event.objects.filter(pk__in=ids):
        score = EventScore.objects.get(event=event)
        assert event.review_state == ReviewState.SCORED
        assert event.importance is not None and 0.0 <= event.importance <= 1.0
        assert score.importance == pytest.approx(event.importance)
        assert score.ranker_version == version.version and score.model_versions == {"ranker": version.version}
        assert sum(score.class_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert score.predicted_class == event.predicted_class
        assert score.features["magnitude"] == pytest.approx(event.magnitude)
    # The ranker tells events apart: the scores are not one constant.
    # The ranker learnt from PNSN's reviewed blasts: most of the dropped file's four blasts (analyst types the
    # feed keeps, which the ranker never sees) are predicted explosion-like, and they rank below the earthquakes.
    blasts = list(
        events.filter(event_type__in=("quarry blast", "explosion")).values_list("predicted_class", "importance")
    )
    quakes = list(events.filter(event_type="earthquake").values_list("importance", flat=True))
    assert len(blasts) == 4 and sum(1 for predicted, _ in blasts if predicted == "explosion_like") >= 3, blasts
    assert sum(importance for _, importance in blasts) / 4 < sum(quakes) / len(quakes)  # type: ignore[misc, arg-type]

    # The next scan finds nothing new: no second import, no second score.
    assert scan_watch_folder.apply(args=(str(watched),)).get() == {"imported": 0, "failed": 0, "unchanged": 1}
    assert IntakeFile.objects.get(pk=intake.pk).imported_at == intake.imported_at
    assert EventScore.objects.filter(event_id__in=ids).count() == len(ids)


def test_every_task_can_be_sent_because_its_soft_time_limit_is_under_its_hard_one() -> None:
    """Celery refuses to send (beat included) a task whose soft limit exceeds its hard limit."""
    from config.celery_app import app

    app.loader.import_default_modules()
    tasks = {name: task for name, task in app.tasks.items() if name.startswith(("analyst.", "ranking.", "waveforms."))}
    assert "analyst.tasks.scan_watch_folder" in tasks and "ranking.tasks.sweep_scoring" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft is None or hard is None or soft <= hard, f"{name}: soft limit {soft} s > hard limit {hard} s"


def test_each_worker_pool_child_gets_its_share_of_the_cores_for_native_threads() -> None:
    """N children side by side get cores // N OpenMP threads each, so scikit-learn's threads do not fight."""
    from types import SimpleNamespace

    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    from ranking import tasks

    def openmp_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}

    before = openmp_threads()
    cores = os.cpu_count() or 1
    tasks._remember_worker(sender=SimpleNamespace(concurrency=cores))  # the attribute Celery's worker carries
    tasks._share_the_cores()
    try:
        assert openmp_threads() == {1}
    finally:
        tasks._thread_limits.pop().restore_original_limits()
        tasks._worker.clear()
    assert before and openmp_threads() == before
