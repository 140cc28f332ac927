"""The demo loads real data that the install brings, and its users, in one command."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from events.models import Event, EventLabel
from waveforms.models import Station, WaveformTrace

pytestmark = pytest.mark.django_db


def test_the_bundled_demo_loads_events_stations_waveforms_and_users(capsys) -> None:
    call_command("load_demo")
    out = capsys.readouterr().out
    assert Event.objects.count() == 54  # 2 IPEC + 1 SeisComP + 1 ComCat + 50 Nordic
    assert Event.objects.filter(event_type="mining explosion").count() == 2
    # The Nordic select.out is a reviewed extract; the SeisComP and ComCat blasts were set manually.
    assert EventLabel.objects.count() == 52
    assert Station.objects.filter(network__code="GR", code="FUR").exists()
    # The four Unterhaching stations' gzip-compressed SLIST records.
    assert sorted(WaveformTrace.objects.values_list("station", flat=True).distinct()) == ["UH1", "UH2", "UH3", "UH4"]
    assert set(User.objects.values_list("username", flat=True)) == {"analyst", "senior", "admin"}
    assert out.count("login ") == 3
    assert User.objects.get(username="senior").groups.filter(name="senior analyst").exists()


def test_loading_the_demo_twice_changes_nothing_and_keeps_passwords(capsys) -> None:
    call_command("load_demo")
    before = (Event.objects.count(), WaveformTrace.objects.count(), User.objects.get(username="admin").password)
    call_command("load_demo")
    after = (Event.objects.count(), WaveformTrace.objects.count(), User.objects.get(username="admin").password)
    assert before == after
    assert "password unchanged" in capsys.readouterr().out
