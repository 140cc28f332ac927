"""Polling an upstream FDSN event service: another Seistriage, started by the test as a separate server process
with its own database, loaded with ObsPy's bundled Nordic bulletin."""

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from obspy import read_events
from obspy.clients.fdsn import Client

from analyst.ingest.upstream import fdsn_source_poll, fdsn_sources_due, wadl_supports_updated_after
from analyst.models import FdsnSource
from events.models import Event
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
NORDIC = "io/nordic/tests/data/select.out"


@dataclass
class Upstream:
    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def event_ids(self) -> set[str]:
        client = Client(base_url=self.url, service_mappings={"station": None, "dataselect": None})
        return {str(event.resource_id) for event in client.get_events(starttime="1990-01-01")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: Any, obspy_data: Path) -> Iterator[Upstream]:
    """`manage.py runserver` on a free port with its own SQLite database and data directory, serving every
    event (SEISTRIAGE_FDSN_EVENTS=all), its scoring messages kept in its own filesystem broker."""
    folder = tmp_path_factory.mktemp("upstream")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"}}
    env.update(
        SEISTRIAGE_DATA_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'upstream.sqlite3'}",
        SEISTRIAGE_FDSN_EVENTS="all",
        DEBUG="true",
        CELERY_BROKER_URL="filesystem://",
        CACHE_URL="locmem://",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    port = _free_port()
    server = Upstream(url=f"http://127.0.0.1:{port}", env=env)
    server.manage("migrate", "--noinput")
    server.manage("import_events", str(obspy_data / NORDIC))
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/fdsnws/event/1/version", timeout=2) as response:
                assert response.read() == b"1.2.0"
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"upstream server did not start:\n{(folder / 'server.log').read_text()}") from None
            time.sleep(0.2)
    yield server
    process.terminate()
    process.wait(timeout=30)
    log.close()


def _changed_event_file(obspy_data: Path, folder: Path, *, index: int, magnitude_shift: float) -> tuple[Any, Path]:
    """One event of the bundled bulletin with its magnitudes raised, as an upstream re-location would do."""
    catalog = read_events(str(obspy_data / NORDIC), format="NORDIC")
    event = catalog[index]
    for magnitude in event.magnitudes:
        magnitude.mag += magnitude_shift
    catalog.events = [event]
    path = folder / "changed.xml"
    catalog.write(str(path), format="QUAKEML")
    return event, path


def test_it_pulls_new_events_then_only_what_changed_upstream(
    upstream: Upstream, obspy_data: Path, tmp_path: Path, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    source = FdsnSource.objects.create(
        name="upstream", base_url=f"{upstream.url}/fdsnws/event/1/", query={"starttime": "1990-01-01"}
    )
    served = upstream.event_ids()
    assert len(served) == 50
    with django_capture_on_commit_callbacks() as scoring:
        first = fdsn_source_poll(source=source)
    assert first.error == "" and first.mode == "window"  # nothing polled before: the source's starttime bounds it
    assert (first.fetched, first.created, first.updated) == (50, 50, 0)
    assert set(Event.objects.values_list("public_id", flat=True)) == served
    assert scoring, "imported events are sent to scoring on commit"
    assert set(Event.objects.values_list("review_state", flat=True)) == {"new"}
    source.refresh_from_db()
    assert source.last_success_at is not None and source.last_event_count == 50 and source.last_error == ""
    versions = dict(Event.objects.values_list("public_id", "version"))

    changed, path = _changed_event_file(obspy_data, tmp_path, index=7, magnitude_shift=0.5)
    upstream.manage("import_events", str(path))
    second = fdsn_source_poll(source=source)
    assert second.error == "" and second.mode == "updatedafter"
    assert (second.fetched, second.created, second.updated) == (1, 0, 1)
    assert Event.objects.count() == 50
    now_versions = dict(Event.objects.values_list("public_id", "version"))
    bumped = [public_id for public_id in versions if now_versions[public_id] != versions[public_id]]
    assert len(bumped) == 1
    local = Event.objects.get(public_id=bumped[0])
    expected = (changed.preferred_magnitude() or changed.magnitudes[0]).mag
    assert local.magnitude == pytest.approx(expected)
    assert abs((local.origin_time - changed.origins[0].time.datetime.replace(tzinfo=dt.UTC)).total_seconds()) < 0.01

    third = fdsn_source_poll(source=source)
    assert (third.error, third.mode, third.fetched) == ("", "updatedafter", 0)


def test_without_updatedafter_it_asks_for_a_window_and_never_duplicates(upstream: Upstream) -> None:
    years = int((timezone.now() - dt.datetime(1990, 1, 1, tzinfo=dt.UTC)).total_seconds())
    source = FdsnSource.objects.create(
        name="windowed", base_url=f"{upstream.url}/fdsnws/event/1", use_updated_after=False, window_seconds=years
    )
    first = fdsn_source_poll(source=source)
    second = fdsn_source_poll(source=source)
    assert (first.mode, first.created, first.error) == ("window", 50, "")
    assert (second.mode, second.fetched, second.created, second.updated) == ("window", 50, 0, 50)
    assert Event.objects.count() == 50


def test_it_reads_which_upstreams_support_updatedafter_from_their_wadl(obspy_data: Path, upstream: Upstream) -> None:
    wadls = obspy_data / "clients/fdsn/tests/data"
    assert not wadl_supports_updated_after((wadls / "2014-01-07_ncedc_event.wadl").read_bytes())
    assert wadl_supports_updated_after((wadls / "2014-01-07_usgs_event.wadl").read_bytes())
    assert wadl_supports_updated_after((wadls / "2014-01-07_ethz_event.wadl").read_bytes())  # SeisComP
    with urllib.request.urlopen(f"{upstream.url}/fdsnws/event/1/application.wadl") as response:
        assert wadl_supports_updated_after(response.read())


def test_an_unreachable_upstream_is_recorded_and_the_command_fails(db: None) -> None:
    source = FdsnSource.objects.create(name="down", base_url=f"http://127.0.0.1:{_free_port()}/fdsnws/event/1/")
    with pytest.raises(CommandError, match="1 of 1 sources failed"):
        call_command("poll_upstream", "down")
    source.refresh_from_db()
    assert source.last_poll_at is not None and source.last_success_at is None and source.last_error
    assert fdsn_sources_due(now=timezone.now()) == []  # polled just now; due again after its interval
    later = timezone.now() + dt.timedelta(seconds=source.poll_interval_seconds)
    assert fdsn_sources_due(now=later) == [source]
    assert not Event.objects.exists()
