"""build_synthetic_false: false-class training events from quiet intervals of real records (ObsPy's BW.UH*)."""

import io
import math
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from events.models import Arrival, Event, EventLabel
from ranking.false_evidence_inputs import events_false_evidence
from ranking.ml.mis_association import bulletin_events, locate
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


def test_mis_associations_combine_real_picks_of_different_earthquakes_and_fit_worse_than_real_ones(
    shared_data: Path, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command(
        "build_synthetic_false", "--source", "obspy", "--limit", "0", "--mis-associations", "4",
        "--data", str(shared_data), stdout=out,
    )  # fmt: skip
    assert "synthetic_false events created: mis_association 4" in out.getvalue()
    events = list(Event.objects.filter(public_id__startswith=f"{PUBLIC_ID_PREFIX}mis_association/"))
    assert len(events) == 4
    # The same earthquakes located alone from their own picks, the same way: the baseline misfit.
    real, stations = bulletin_events()
    by_key = {e.key: e for e in real}
    for event in events:
        assert event.review_state == "rejected" and event.event_type == "not existing"
        assert event.description.startswith("synthetic_false: a mis-association of the real picks of")
        assert "select.out" in event.description and "TauP iasp91" in event.description
        label = EventLabel.objects.get(event=event)
        assert label.source == EventLabel.Source.SYNTHETIC_FALSE
        origin = event.preferred_origin
        assert origin is not None and origin.evaluation_mode == "automatic"
        arrivals = list(Arrival.objects.filter(origin=origin).select_related("pick"))
        assert len(arrivals) == event.phase_count and len(arrivals) >= 5
        # Picks from >= 2 different real earthquakes, each a real pick of the bulletin, shifted.
        source_keys = {a.pick.author.removeprefix("from event ") for a in arrivals if a.pick is not None}
        assert len(source_keys) >= 2 and source_keys <= set(by_key)
        # Every earthquake the description names gave picks.
        assert event.description.count("; event ") + 1 == len(source_keys)
        assert all(f"event {key} (M" in event.description for key in source_keys)
        for arrival in arrivals:
            assert arrival.pick is not None
            source = by_key[arrival.pick.author.removeprefix("from event ")]
            shifted = arrival.pick.time.timestamp()
            originals = [p.time for p in source.picks if p.station == arrival.pick.station and p.phase == arrival.phase]
            shifts = [shifted - t for t in originals]
            assert any(f"shifted {s:+.1f} s" in event.description for s in shifts), (arrival.pick.station, shifts)
        residuals = [a.time_residual for a in arrivals if a.time_residual is not None]
        rms = math.sqrt(sum(r * r for r in residuals) / len(residuals))
        assert event.rms == pytest.approx(rms) and f"misfit RMS {rms:.2f} s" in event.description
        for key in source_keys:
            alone = locate(by_key[key].picks, stations, (by_key[key].latitude, by_key[key].longitude))
            assert rms > 2 * alone.rms_s, (event.public_id, key, rms, alone.rms_s)
    # The app's pick evidence reads them from the stored arrivals: residuals beyond a real event's.
    evidence = events_false_evidence(events=events, waveform={})
    for event in events:
        assert evidence[event.pk]["fe_residual_abs_max_s"] > 0.5
        assert 0.0 <= evidence[event.pk]["fe_inconsistent_phase_share"] <= 1.0
    # Excluded from evaluation like the noise-placed ones; training sees them.
    assert labelled_events(synthetic=False).event_ids == []
    assert labelled_events().false_class_sources() == {"analyst": 0, "imported_review": 0, "synthetic_false": 4}
    again = io.StringIO()
    call_command("build_synthetic_false", "--source", "obspy", "--limit", "0", "--mis-associations", "4", stdout=again)
    assert "already there 4" in again.getvalue() and Event.objects.count() == 4


def test_a_negative_mis_association_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--mis-associations must be >= 0"):
        call_command("build_synthetic_false", "--data", str(tmp_path), "--mis-associations", "-2")
