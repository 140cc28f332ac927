"""False events without local labels, end to end: real PNW events and noise-placed false events built from the
pre-event noise of other real PNW records go through a real Celery worker; the false ones sink in the regional
queue, the "hide false events" filter hides them, and the event page shows each station's evidence."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from analyst.ingest.services import events_ingest_file
from events.models import Event, EventLabel
from events.vocabulary import ScoringState
from ranking.ml.classes import NOT_EXISTING
from ranking.pipeline import events_schedule_scoring
from ranking.synthetic_false import PUBLIC_ID_PREFIX, synthetic_false_build
from ranking.training import labelled_events, ranker_train
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TRAINING_EVENTS = 24  # the first PNW rows: reviewed real events; their records' pre-event noise: synthetic_false
QUEUE_EVENTS = 5  # the next rows: unreviewed real events in the queue
QUEUE_FALSE = 5  # noise-placed false events from the records after those, unlabelled, in the queue


def _pnw_rows(shared_data: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (shared_data / "pnw" / "events.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if (shared_data / "pnw" / "waveforms" / r["source_id"]).is_dir()]
        assert reader.fieldnames is not None
        return list(reader.fieldnames), rows


def _import(
    shared_data: Path, tmp_path: Path, fields: list[str], rows: list[dict[str, str]], *, reviewed: bool
) -> None:
    for row in rows:
        call_command(
            "import_waveforms", str(shared_data / "pnw" / "waveforms" / row["source_id"]), stdout=io.StringIO()
        )
    path = tmp_path / f"pnw_{'reviewed' if reviewed else 'new'}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    events_ingest_file(path=path, reviewed=reviewed)


def test_noise_placed_false_events_sink_are_hidden_and_show_their_station_evidence(
    celery_worker_process, shared_data: Path, tmp_path: Path, client: Client, analyst: User
) -> None:
    fields, rows = _pnw_rows(shared_data)
    training, queued = rows[:TRAINING_EVENTS], rows[TRAINING_EVENTS : TRAINING_EVENTS + QUEUE_EVENTS]
    _import(shared_data, tmp_path, fields, training, reviewed=True)
    built = synthetic_false_build(
        shared=shared_data, out_dir=tmp_path / "data" / "synthetic_false", sources=("pnw",), limit=TRAINING_EVENTS
    )
    assert built.created == {"pnw": TRAINING_EVENTS}
    assert EventLabel.objects.filter(source=EventLabel.Source.SYNTHETIC_FALSE).count() == TRAINING_EVENTS

    version = ranker_train(created_by="test", promote=True)
    assert version.training_summary["false_class"] == {
        "analyst": 0,
        "imported_review": 0,
        "synthetic_false": TRAINING_EVENTS,
    }
    assert version.training_summary["labels"][NOT_EXISTING] == TRAINING_EVENTS
    assert "fe_prior_p_false" in version.training_summary["features_used"] or any(
        name.startswith("fe_") for name in version.training_summary["features_used"]
    )
    # Evaluation never sees the synthetic events.
    assert not any(e.startswith(PUBLIC_ID_PREFIX) for e in _public_ids(labelled_events(synthetic=False).event_ids))

    # The queue: real unreviewed events, and false events from other records' noise (no label, like a pipeline's).
    _import(shared_data, tmp_path, fields, queued, reviewed=False)
    false_report = synthetic_false_build(
        shared=shared_data,
        out_dir=tmp_path / "data" / "synthetic_false",
        sources=("pnw",),
        skip=TRAINING_EVENTS + QUEUE_EVENTS,
        limit=QUEUE_FALSE,
        labelled=False,
    )
    assert false_report.created == {"pnw": QUEUE_FALSE}
    false_ids = list(
        Event.objects.filter(public_id__startswith=PUBLIC_ID_PREFIX, review_state="new").values_list("pk", flat=True)
    )
    events_schedule_scoring(event_ids=false_ids)
    real_ids = [e.pk for e in Event.objects.filter(review_state__in=("new", "scored")) if e.pk not in false_ids]
    assert len(real_ids) == QUEUE_EVENTS
    every = real_ids + false_ids
    try:
        wait_for(
            lambda: Event.objects.filter(pk__in=every, scoring_state=ScoringState.SCORED).count() == len(every),
            timeout=240,
            what="real and false events scored by the worker",
        )
    except AssertionError:
        states = list(Event.objects.filter(pk__in=every).values_list("public_id", "scoring_state", "scoring_error"))
        raise AssertionError(f"not all scored: {states}\n{celery_worker_process.text()[-3000:]}") from None

    client.force_login(analyst)
    queue = client.get("/api/events/", {"ordering": "-importance", "review_state": "new,scored"}).json()
    order = [row["id"] for row in queue["results"]]
    assert set(order) == set(every)
    false_ranks = sorted(order.index(i) for i in false_ids)
    real_ranks = sorted(order.index(i) for i in real_ids)
    predicted = dict(Event.objects.filter(pk__in=every).values_list("pk", "predicted_class"))
    assert not any(predicted[i] == NOT_EXISTING for i in real_ids)
    # The false events sink: every one below the median real event, all but one below every real one, each
    # predicted false (the label-free prior joined with a model of 24 synthetic_false events).
    assert min(false_ranks) > real_ranks[len(real_ranks) // 2], (false_ranks, real_ranks)
    assert sum(r > max(real_ranks) for r in false_ranks) >= QUEUE_FALSE - 1, (false_ranks, real_ranks)
    assert all(predicted[i] == NOT_EXISTING for i in false_ids), predicted

    hidden = client.get("/api/events/", {"ordering": "-importance", "review_state": "new,scored", "hide_false": "true"})
    shown = {row["id"] for row in hidden.json()["results"]}
    assert shown == {i for i in every if predicted[i] != NOT_EXISTING}
    assert not shown & {i for i in false_ids if predicted[i] == NOT_EXISTING}
    likely_false = client.get("/api/events/", {"predicted_class": NOT_EXISTING, "review_state": "new,scored"}).json()
    assert {row["id"] for row in likely_false["results"]} == {i for i in every if predicted[i] == NOT_EXISTING}

    # The event page: per-station evidence in words; the record section carries the marks.
    real_page = client.get(f"/queue/events/{real_ids[0]}/").content.decode()
    assert "Station evidence" in real_page and "onset seen: SNR" in real_page
    false_page = client.get(f"/queue/events/{false_ids[0]}/").content.decode()
    assert "Station evidence" in false_page and "no onset: SNR" in false_page
    assert "onset seen" not in false_page.split("station-evidence-title")[1].split("</table>")[0] or (
        false_page.count("onset seen:") < false_page.count("no onset:")
    )
    figure = client.get(f"/api/events/{real_ids[0]}/waveforms/").json()["figure"]
    bands = [s for s in figure["layout"]["shapes"] if s.get("type") == "rect"]
    assert bands and {s["name"] for s in bands} <= {"onset seen", "expected but missing", "no onset", "not measurable"}
    assert "onset seen" in {s["name"] for s in bands}

    # The model page says where the false class came from.
    model_page = client.get("/models/ranker/").content.decode()
    assert f"<strong>{TRAINING_EVENTS}</strong> synthetic_false events" in model_page
    assert "<strong>0</strong> real analyst rejections" in model_page
    # 24 false labels: the model weighs 24 / (24 + 50), the label-free prior the rest.
    assert "weighs this model at <strong>0.32</strong>" in model_page

    # An analyst rejects one queued false event: it becomes a real label, and evaluate reports on it.
    rejected = Event.objects.get(pk=false_ids[0])
    answer = client.post(
        f"/api/events/{rejected.pk}/review/",
        {"version": rejected.version, "decision": "reject"},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert EventLabel.objects.get(event=rejected, source=EventLabel.Source.ANALYST).review_state == "rejected"
    out, summary = io.StringIO(), io.StringIO()
    call_command("evaluate", "--kind", "ranker", stdout=out, stderr=summary)
    report = json.loads(out.getvalue())  # stdout holds the JSON alone
    assert report["false_events"]["real_false_labels"]["analyst"] == 1, report["false_events"]
    text = summary.getvalue()
    assert "== false events (real labels only; synthetic_false never evaluated) ==" in text
    assert "real false labels here: {'analyst': 1, 'imported_review': 0}" in text
    assert "ranker: events_scored" in text and "prior: events_scored" in text


def _public_ids(event_ids: list[int]) -> list[str]:
    return list(Event.objects.filter(pk__in=event_ids).values_list("public_id", flat=True))
