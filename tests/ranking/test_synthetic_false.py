"""build_synthetic_false: false-class training events from quiet intervals of real records (ObsPy's BW.UH*)."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from events.models import Event, EventLabel
from ranking.synthetic_false import PUBLIC_ID_PREFIX
from ranking.training import labelled_events
from waveforms.models import WaveformTrace

pytestmark = pytest.mark.django_db


def test_the_command_builds_labelled_noise_events_that_evaluation_never_sees(
    shared_data: Path, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("build_synthetic_false", "--source", "obspy", "--limit", "2", "--data", str(shared_data), stdout=out)
    assert "synthetic_false events created: obspy 2" in out.getvalue()
    events = list(Event.objects.filter(public_id__startswith=PUBLIC_ID_PREFIX).order_by("origin_time"))
    assert len(events) == 2
    for event in events:
        assert event.review_state == "rejected" and event.event_type == "not existing"
        assert "BW.UH1-UH4" in event.description and "shifted back 1 day" in event.description
        label = EventLabel.objects.get(event=event)
        assert label.source == EventLabel.Source.SYNTHETIC_FALSE and label.review_state == "rejected"
        # Four real stations' noise, registered, one day before the records' own time (2010-05-27).
        traces = WaveformTrace.objects.filter(start_time__lte=event.origin_time, end_time__gte=event.origin_time)
        assert {t.station for t in traces} == {"UH1", "UH2", "UH3", "UH4"}
        assert event.origin_time is not None and event.origin_time.date().isoformat() == "2010-05-26"
    assert (tmp_path / "synthetic_false" / "obspy").is_dir()
    # Built again: nothing new. Evaluation leaves them out; training sees them.
    again = io.StringIO()
    call_command("build_synthetic_false", "--source", "obspy", "--limit", "2", "--data", str(shared_data), stdout=again)
    assert "already there 2" in again.getvalue() and Event.objects.count() == 2
    assert labelled_events(synthetic=False).event_ids == []
    training = labelled_events()
    assert sorted(training.event_ids) == sorted(e.pk for e in events)
    assert training.false_class_sources() == {"analyst": 0, "imported_review": 0, "synthetic_false": 2}


def test_bad_arguments_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such folder"):
        call_command("build_synthetic_false", "--data", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="--limit and --skip must be >= 0"):
        call_command("build_synthetic_false", "--data", str(tmp_path), "--limit", "-1")
