"""The demo loads real data that the install brings (ObsPy's bundled files and the repository's demo/ bundle),
and its users, in one command: a queue of unreviewed events with waveforms to open, and labelled events that
train the first ranker (during the load) and the first CNN (in the worker)."""

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from analyst.management.commands.load_demo import DEMO_FALSE_EVENTS
from events.models import Event, EventLabel, Pick
from events.vocabulary import UNREVIEWED_STATES, ScoringState
from ranking.cnn_runs import cnn_saliency_for
from ranking.ml.classes import decision_class_for
from ranking.models import CnnPrediction, EventScore
from ranking.registry import model_version_active
from ranking.scoring import events_score
from ranking.synthetic_false import PUBLIC_ID_PREFIX
from tests.conftest import wait_for
from tests.support.worker import CeleryWorkerProcess
from waveforms.models import Channel, Station, WaveformTrace
from waveforms.selectors import waveform_files_cover

pytestmark = pytest.mark.django_db
DEMO = Path(settings.DEMO_BUNDLE_DIR)
LICENCES = re.compile(r"\b(MIT|BSD|public domain|CC0)\b")


def _unreviewed_with_waveforms() -> list[Event]:
    """Unreviewed events with a registered record in the minute after their origin time."""
    return list(
        Event.objects.filter(review_state__in=UNREVIEWED_STATES).filter(
            waveform_files_cover(time_field="origin_time", before=dt.timedelta(0), after=dt.timedelta(seconds=60))
        )
    )


def _false_event_ids() -> set[int]:
    return set(Event.objects.filter(public_id__startswith=PUBLIC_ID_PREFIX).values_list("pk", flat=True))


def test_the_bundled_demo_loads_events_stations_waveforms_and_users(capsys: Any) -> None:
    call_command("load_demo")
    out = capsys.readouterr().out
    # ObsPy's bundled files, as before: 2 IPEC + 1 SeisComP + 1 ComCat + 50 Nordic events.
    assert Event.objects.filter(event_type="mining explosion").count() == 2
    assert Event.objects.filter(public_id__startswith="smi:local/").exists()
    assert Station.objects.filter(network__code="GR", code="FUR").exists()
    # The four Unterhaching stations' gzip-compressed SLIST records are still there.
    assert {"UH1", "UH2", "UH3", "UH4"} <= set(WaveformTrace.objects.values_list("station", flat=True))
    assert set(User.objects.values_list("username", flat=True)) == {"analyst", "senior", "admin"}
    assert out.count("login ") == 3
    assert User.objects.get(username="senior").groups.filter(name="senior analyst").exists()


def test_the_demo_queue_holds_unreviewed_earthquakes_explosions_and_surface_events_with_waveforms() -> None:
    call_command("load_demo")

    queue = _unreviewed_with_waveforms()
    assert len(queue) >= 20
    classes = {decision_class_for(event.event_type) for event in queue}
    assert {"earthquake", "explosion_like", "other_natural"} <= classes
    assert not EventLabel.objects.filter(event__in=queue).exists()  # nothing decided yet
    # The SE USA events carry their P picks, on stations registered with coordinates.
    picked = Pick.objects.filter(event__in=queue, phase_hint="P")
    assert picked.values("event").distinct().count() >= 7
    for network, station, time in picked.values_list("network", "station", "time"):
        assert Station.objects.filter(network__code=network, code=station, latitude__isnull=False).exists()
        assert WaveformTrace.objects.filter(
            network=network, station=station, start_time__lte=time, end_time__gte=time
        ).exists(), f"no record of {network}.{station} at its P pick"
    # A pipeline's false triggers: origins placed in the real pre-event noise of labelled demo records, unlabelled.
    false = Event.objects.filter(public_id__startswith=PUBLIC_ID_PREFIX)
    assert false.count() == DEMO_FALSE_EVENTS
    assert set(false.values_list("review_state", flat=True)) == {"new"}
    assert not EventLabel.objects.filter(event__in=false).exists()
    assert all(
        WaveformTrace.objects.filter(start_time__lte=e.origin_time, end_time__gte=e.origin_time).exists() for e in false
    )
    # The ESEC surface events' stations come with their instrument responses.
    assert Channel.objects.filter(station__network__code="AV", station__code="SPBG", has_response=True).exists()


def test_the_demo_labels_train_a_ranker_that_scores_every_unreviewed_event_with_waveforms() -> None:
    call_command("load_demo")

    ranker = model_version_active(kind="ranker")
    assert ranker is not None and ranker.created_by == "load_demo"
    labels = ranker.training_summary["labels"]
    assert all(labels[name] >= 20 for name in ("earthquake", "explosion_like", "other_natural")), labels
    queue = [event.pk for event in _unreviewed_with_waveforms()]
    outcome = events_score(event_ids=queue)
    assert sorted(outcome.scored) == sorted(queue)
    assert EventScore.objects.filter(event__in=queue, ranker_version=ranker.version).count() == len(queue)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scores_the_demo_queue_and_trains_the_first_cnn_whose_saliency_it_stores(
    celery_worker_process: CeleryWorkerProcess, empty_broker: None
) -> None:
    call_command("load_demo")
    ranker = model_version_active(kind="ranker")
    assert ranker is not None
    queue = [event.pk for event in _unreviewed_with_waveforms()]

    def scored() -> bool:
        return EventScore.objects.filter(event__in=queue, ranker_version=ranker.version).values(
            "event"
        ).distinct().count() == len(queue)

    wait_for(scored, timeout=300, what="the worker to score the demo's unreviewed events")
    wait_for(
        lambda: not Event.objects.filter(pk__in=queue).exclude(scoring_state=ScoringState.SCORED).exists(),
        timeout=300,
        what="every demo event in the scored state",
    )

    # The worker trains the first CNN on the demo's labelled records alone (no shared folder) and promotes it.
    wait_for(lambda: model_version_active(kind="cnn") is not None, timeout=300, what="the demo's first CNN")
    cnn = model_version_active(kind="cnn")
    assert cnn is not None and cnn.created_by == "load_demo"
    summary = cnn.training_summary
    assert summary["data_dir"] == ""  # the database's labelled events only
    assert summary["events"] + summary["held_out_events"] >= 30
    assert all(summary["labels"][name] > 0 for name in ("earthquake", "explosion", "surface_event")), summary
    labelled_with_records = set(summary["trained_on_events"])
    assert labelled_with_records and not labelled_with_records & set(queue)

    # It classifies the queue: every unreviewed real event with records gets probabilities and stored saliency,
    # and its score is made again with the CNN's features. (The noise-placed false events' 45 s of noise hold no
    # onset to centre a CNN window on; the ranker scored them above.)
    queue = [pk for pk in queue if pk not in _false_event_ids()]

    def classified() -> bool:
        rows = CnnPrediction.objects.filter(event__in=queue, model_version=cnn.version).exclude(saliency_path="")
        return rows.count() == len(queue)

    wait_for(classified, timeout=300, what="the first CNN's predictions with saliency for the demo's queue")
    wait_for(
        lambda: (
            EventScore.objects.filter(event__in=queue, model_versions__cnn=cnn.version)
            .values("event")
            .distinct()
            .count()
            == len(queue)
        ),
        timeout=300,
        what="the demo's queue scored again with the CNN's features",
    )
    explosion = Event.objects.get(public_id="smi:seistriage.demo/se_usa/20150623030000")
    prediction = CnnPrediction.objects.get(event=explosion, model_version=cnn.version)
    assert set(prediction.class_probabilities) == {"earthquake", "explosion", "surface_event", "noise"}
    assert (settings.DATA_DIR / prediction.saliency_path).is_file()
    curve = cnn_saliency_for(event_id=explosion.pk, seed_id=prediction.stations[0]["seed_id"])
    assert curve is not None and curve["model_version"] == cnn.version
    assert len(curve["values"]) == 1200 and min(curve["values"]) >= 0.0 and max(curve["values"]) <= 1.0


def test_loading_the_demo_twice_changes_nothing_and_keeps_passwords(capsys: Any) -> None:
    call_command("load_demo")
    before = (Event.objects.count(), WaveformTrace.objects.count(), User.objects.get(username="admin").password)
    call_command("load_demo")
    after = (Event.objects.count(), WaveformTrace.objects.count(), User.objects.get(username="admin").password)
    assert before == after
    assert "password unchanged" in capsys.readouterr().out


def test_a_missing_demo_bundle_stops_the_load_naming_the_folder_and_the_setting(settings: Any, tmp_path: Path) -> None:
    settings.DEMO_BUNDLE_DIR = tmp_path / "no-demo"
    with pytest.raises(CommandError, match=r"no-demo.*SEISTRIAGE_DEMO_BUNDLE"):
        call_command("load_demo")
    assert not Event.objects.exists()  # nothing loaded halfway


def _data_files() -> list[str]:
    return sorted(
        str(path.relative_to(DEMO))
        for path in DEMO.rglob("*")
        if path.is_file() and path.name not in ("README.md", "build_bundle.py") and "__pycache__" not in path.parts
    )


def test_the_demo_bundle_is_at_most_8_mb() -> None:
    size = sum(path.stat().st_size for path in DEMO.rglob("*") if path.is_file())
    assert size <= 8 * 1024 * 1024, f"demo/ holds {size} bytes"


def test_the_demo_readme_names_the_source_and_licence_of_every_data_file() -> None:
    rows = {}
    for line in (DEMO / "README.md").read_text().splitlines():
        found = re.match(r"\| `([^`]+)` \| (.+) \| (.+) \|$", line)
        if found:
            rows[found[1]] = found[3]
    files = _data_files()
    assert files, "the demo bundle is empty"
    assert sorted(rows) == files  # every file listed, and nothing listed that is not there
    for name, licence in rows.items():
        assert LICENCES.search(licence), f"{name}: no licence named ({licence})"
