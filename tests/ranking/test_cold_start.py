"""Cold start (issue 14 item 7): a network with no labels of its own still gets a ranking.

With fewer than 20 local labels, `train` registers the generic, location-independent model alone and a real
Celery worker scores real events with it; without the shared catalogue, the generic model is fitted from the
demo bundle's labelled PNSN rows, and it still ranks the PNSN explosions it never saw.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from sklearn.metrics import average_precision_score

from analyst.ingest.services import events_ingest_file
from events.models import Event
from events.vocabulary import ScoringState
from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.features import FEATURE_NAMES, LOCATION_GROUPS, ReviewedCatalogue, feature_matrix, features_of_groups
from ranking.ml.generic import catalogue_read
from ranking.models import EventScore, ModelPromotion, ModelVersion
from ranking.registry import model_artifact_load, model_version_active
from ranking.training import DEMO_CATALOGUE, SHARED_CATALOGUE, generic_model_with_source
from ranking.training_runs import training_nightly, training_run_execute
from tests.conftest import wait_for

EX = DECISION_CLASSES.index("explosion_like")


def _train(capsys: Any, *options: str) -> str:
    call_command("train", "--kind", "ranker", *options)
    return str(capsys.readouterr().out)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_network_with_one_label_gets_a_generic_ranker_that_the_worker_scores_with(
    celery_worker_process, obspy_data: Path, capsys: Any, analyst: User
) -> None:
    # A new network: 52 real unreviewed events (a Seisan extract and an IMS bulletin, imported as automatic) and
    # one reviewed event (the USGS quarry blast).
    unreviewed = [
        event_id
        for path in ("io/nordic/tests/data/select.out", "io/iaspei/tests/data/ipe202409sel_ims.txt")
        for event_id in events_ingest_file(path=obspy_data / path).event_ids
    ]
    events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml", reviewed=True)
    assert len(unreviewed) == 52

    out = _train(capsys, "--promote")

    version = model_version_active(kind=ModelVersion.Kind.RANKER)
    assert version is not None and version.version in out
    summary = version.training_summary
    assert summary["cold_start"] == "cold start: generic model only, 1 local labels"
    assert "cold start: generic model only, 1 local labels" in out
    assert summary["events"] == 1 and summary["generic_model"]["weight"] == 1.0
    assert summary["generic_model"]["source"].startswith("shared PNSN catalogue")
    model = model_artifact_load(model_version=version)
    used = {FEATURE_NAMES[c] for c in model.used_columns}
    assert not used & set(features_of_groups(LOCATION_GROUPS)) and "local_solar_hour" in used

    wait_for(
        lambda: Event.objects.filter(pk__in=unreviewed, scoring_state=ScoringState.SCORED).count() == len(unreviewed),
        what="the new network's events scored by the generic ranker",
    )
    scores = list(EventScore.objects.filter(event_id__in=unreviewed))
    assert len(scores) == len(unreviewed)
    for score in scores:
        assert score.ranker_version == version.version
        assert sum(score.class_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert score.explanation, f"event {score.event_id} has no reasons"
        assert {item["feature"] for item in score.explanation} <= used
    # A ranking, not one tie: the generic model tells these events apart.
    assert len({round(s.importance, 9) for s in scores}) > len(scores) // 2

    # The model page lists it like any ranker, marked as the cold-start one.
    client = Client()
    client.force_login(analyst)
    html = client.get("/models/ranker/").content.decode()
    assert version.version in html and "cold start: generic model only, 1 local labels" in html


@pytest.mark.django_db
def test_without_the_shared_catalogue_the_generic_model_comes_from_the_demo_bundle(
    tmp_path: Path, settings: Any, capsys: Any
) -> None:
    shared = Path(settings.SHARED_DATA_DIR) / SHARED_CATALOGUE
    settings.SHARED_DATA_DIR = tmp_path / "empty"
    settings.SHARED_DATA_DIR.mkdir()

    found = generic_model_with_source()
    assert found is not None and found.source.startswith("demo bundle's PNSN catalogue")
    demo = Path(settings.DEMO_BUNDLE_DIR) / DEMO_CATALOGUE
    _, demo_labels, demo_times = catalogue_read(demo)
    assert found.model.local_labels == len(demo_labels) and str(demo) in found.source

    # Useful on PNSN rows it never saw: the shared catalogue's rows that are not in the demo cut.
    if shared.is_file():
        inputs, labels, times = catalogue_read(shared)
        unseen = ~np.isin(times, demo_times)
        features = feature_matrix(
            [row for row, keep in zip(inputs, unseen, strict=True) if keep],
            gazetteer=None,
            reviewed=ReviewedCatalogue.empty(),
        )
        truth = labels[unseen] == EX
        assert len(truth) > 5000
        assert average_precision_score(truth, found.model.predict_proba(features)[:, EX]) >= 0.9

    out = _train(capsys)  # no local labels at all
    version = ModelVersion.objects.get(kind=ModelVersion.Kind.RANKER)
    assert version.status == "candidate" and version.version in out
    assert version.training_summary["cold_start"] == "cold start: generic model only, 0 local labels"
    assert version.training_summary["generic_model"]["source"] == found.source
    assert version.training_summary["first_origin_time"] is None


@pytest.mark.django_db
def test_with_neither_catalogue_train_says_what_is_missing(tmp_path: Path, settings: Any) -> None:
    settings.SHARED_DATA_DIR = tmp_path / "empty"
    settings.DEMO_BUNDLE_DIR = tmp_path / "no-demo"
    with pytest.raises(CommandError, match=r"0 labelled events.*no generic model.*no-demo.*SEISTRIAGE_DEMO_BUNDLE"):
        call_command("train", "--kind", "ranker")
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_broker")
def test_a_nightly_run_with_no_ranker_and_few_labels_promotes_the_generic_one(obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml", reviewed=True)
    [run] = training_nightly()
    run = training_run_execute(run_id=run.pk)

    assert run.status == "succeeded", run.error + run.log
    active = model_version_active(kind=ModelVersion.Kind.RANKER)
    assert active is not None and run.candidate == active
    assert active.training_summary["cold_start"] == "cold start: generic model only, 1 local labels"
    assert run.promotion_decision["promote"] is True and "no active ranker" in run.promotion_decision["reason"]
    promotion = ModelPromotion.objects.get(model_version=active)
    assert promotion.action == "auto_promote" and promotion.training_run == run and "cold start" in promotion.reason

    # With a ranker active, a run that still lacks labels fails as before and the ranker keeps serving.
    failed = training_run_execute(run_id=training_nightly()[0].pk)
    assert failed.status == "failed" and "TrainingDataError: 1 labelled events" in failed.error
    assert model_version_active(kind=ModelVersion.Kind.RANKER) == active
