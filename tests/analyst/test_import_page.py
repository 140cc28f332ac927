"""The import page: senior analysts upload event, station and waveform files; a background job imports them
and reports created/updated/skipped per file, and errors with the file and the reason."""

import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from analyst.ingest.uploads import import_job_get, import_job_run, import_jobs_requeue_stalled
from analyst.models import ImportJob
from events.models import Event
from waveforms.models import Station, WaveformSource

pytestmark = pytest.mark.django_db

QUARRY_BLAST = "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml"
SPBG_STATION = "esec/stations/1/AV.SPBG.xml"
SPBG_RECORD = "esec/waveforms/1/AV.SPBG..BHE__20140910T192005Z__20140910T192305Z.mseed"


@pytest.fixture(autouse=True)
def _own_cache_and_data_dir(settings: Any, tmp_path: Path) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.DATA_DIR = tmp_path / "data"
    cache.clear()


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def uploaded_jobs(settings: Any) -> list[Path]:
    folder = Path(settings.DATA_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_only_senior_analysts_and_admins_may_import(client: Client, analyst, senior_analyst, outsider) -> None:
    for user, expected in ((outsider, 403), (analyst, 403), (senior_analyst, 200)):
        client.force_login(user)
        assert client.get("/import/").status_code == expected, user.username
        assert api_for(user).post("/api/imports/", {}, format="multipart").status_code in (
            (403,) if expected == 403 else (400,)
        )
    admin = User.objects.create_superuser("adm", password="adm-password-1")
    client.force_login(admin)
    assert client.get("/import/").status_code == 200
    client.force_login(senior_analyst)
    assert 'href="/import/"' in client.get("/").content.decode()
    client.force_login(analyst)
    assert 'href="/import/"' not in client.get("/").content.decode()


def test_a_senior_uploads_events_stations_and_waveforms_and_the_job_reports_each_file(
    senior_analyst, obspy_data, shared_data, settings, django_capture_on_commit_callbacks
):
    files = {
        "events": upload(obspy_data / QUARRY_BLAST),
        "stations": upload(shared_data / SPBG_STATION),
        "waveforms": upload(shared_data / SPBG_RECORD),
    }
    with django_capture_on_commit_callbacks() as queued:
        answer = api_for(senior_analyst).post("/api/imports/", files, format="multipart")
    assert answer.status_code == 202, answer.content
    assert len(queued) == 1  # the background import is queued when the request's transaction commits
    job = answer.json()
    assert (job["state"], job["total"], job["done"], job["user"]) == ("queued", 3, 0, "sen")
    [folder] = uploaded_jobs(settings)
    assert folder.name == job["id"] and len(list(folder.iterdir())) == 3
    assert (folder / f"003-{Path(SPBG_RECORD).name}").read_bytes() == (shared_data / SPBG_RECORD).read_bytes()

    import_job_run(job_id=job["id"])  # what the Celery task runs
    job = api_for(senior_analyst).get(f"/api/imports/{job['id']}/").json()
    assert job["state"] == "done" and job["done"] == 3
    events, stations, waveforms = job["files"]
    assert (events["status"], events["created"], events["updated"], events["skipped"]) == ("done", 1, 0, 0)
    assert (stations["status"], stations["created"]) == ("done", 1)
    assert (waveforms["status"], waveforms["created"]) == ("done", 1)
    assert Event.objects.get().event_type == "mining explosion"
    assert Station.objects.filter(code="SPBG").exists() and WaveformSource.objects.count() == 1

    again = import_job_run(job_id=job["id"])  # a second message for a finished job (redelivered) imports nothing
    assert again["state"] == "done" and Event.objects.count() == 1
    assert import_job_get(job_id=job["id"])["files"][0]["created"] == 1  # type: ignore[index]


def test_the_job_names_files_relative_to_the_upload_folder_and_never_shows_a_server_path(
    senior_analyst, obspy_data, settings
):
    job = api_for(senior_analyst).post("/api/imports/", {"events": upload(obspy_data / QUARRY_BLAST)}).json()
    [entry] = job["files"]
    assert entry["path"] == f"{job['id']}/001-{Path(QUARRY_BLAST).name}"
    import_job_run(job_id=job["id"])
    shown = api_for(senior_analyst).get(f"/api/imports/{job['id']}/").content.decode()
    assert str(settings.DATA_DIR) not in shown and "quarryblast.xml [" in shown


def test_an_import_job_outlives_the_cache_being_emptied(senior_analyst, obspy_data) -> None:
    job = api_for(senior_analyst).post("/api/imports/", {"events": upload(obspy_data / QUARRY_BLAST)}).json()
    cache.clear()  # what a Redis restart without persistence does to the cache
    answer = api_for(senior_analyst).get(f"/api/imports/{job['id']}/")
    assert answer.status_code == 200 and answer.json()["state"] == "queued"
    import_job_run(job_id=job["id"])
    assert import_job_get(job_id=job["id"])["state"] == "done"  # type: ignore[index]


def test_a_file_the_importer_cannot_read_is_reported_with_its_reason_and_the_others_still_import(
    senior_analyst, obspy_data, shared_data
):
    files = {
        "events": [upload(shared_data / SPBG_STATION, "stations-not-events.xml"), upload(obspy_data / QUARRY_BLAST)],
    }
    job = api_for(senior_analyst).post("/api/imports/", files, format="multipart").json()
    import_job_run(job_id=job["id"])
    bad, good = import_job_get(job_id=job["id"])["files"]  # type: ignore[index]
    assert bad["status"] == "failed" and bad["error"].startswith("stations-not-events.xml: ")
    assert good["status"] == "done" and Event.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "source", "name", "problem"),
    [
        ("events", SPBG_RECORD, "record.exe", "record.exe: a events file must end in one of"),
        ("events", SPBG_RECORD, "record.xml", "record.xml: binary content"),
        ("waveforms", SPBG_STATION, "AV.SPBG.mseed", "AV.SPBG.mseed: not a waveform file"),
        ("stations", SPBG_STATION, "big.xml", "big.xml: 13,323 bytes is over the upload limit of 5,000 bytes"),
    ],
)
def test_a_refused_file_refuses_the_whole_upload_naming_it_and_nothing_is_written(
    senior_analyst, obspy_data, shared_data, settings, kind, source, name, problem
):
    settings.SEISTRIAGE_MAX_UPLOAD_BYTES = 5000 if name == "big.xml" else settings.SEISTRIAGE_MAX_UPLOAD_BYTES
    files = {
        "events": [upload(obspy_data / QUARRY_BLAST)] if kind != "events" else [],
        kind: upload(shared_data / source, name),
    }
    answer = api_for(senior_analyst).post("/api/imports/", files, format="multipart")
    assert answer.status_code == 400
    assert answer.json()["files"][0].startswith(problem), answer.json()
    assert uploaded_jobs(settings) == [] and not Event.objects.exists()


def test_an_unknown_job_is_a_404(senior_analyst) -> None:
    assert api_for(senior_analyst).get("/api/imports/0123abcd/").status_code == 404


def _gzip_bomb(path: Path, zeros: int) -> Path:
    """A real gzip bomb: `zeros` zero bytes, gzip-compressed (about 1000 to 1), named like a waveform file."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    with path.open("wb") as handle:
        for _ in range(zeros >> 20):
            handle.write(compressor.compress(block))
        handle.write(compressor.flush())
    return path


def test_a_gzip_bomb_uploaded_as_waveforms_is_refused_quickly_and_leaves_no_file(
    senior_analyst, obspy_data, settings, tmp_path
):
    bomb = _gzip_bomb(tmp_path / "b.mseed.gz", 256 << 20)  # 256 MiB of zeros in about 256 KiB
    assert bomb.stat().st_size < 1 << 20
    system_temp = set(Path(tempfile.gettempdir()).glob("tmp*.waveform"))
    files = {"events": [upload(obspy_data / QUARRY_BLAST)], "waveforms": upload(bomb)}
    started = time.monotonic()
    answer = api_for(senior_analyst).post("/api/imports/", files, format="multipart")
    elapsed = time.monotonic() - started
    assert answer.status_code == 400
    [problem] = answer.json()["files"]
    assert problem.startswith("b.mseed.gz: not a waveform file (gzip content expands more than 100 times"), problem
    assert elapsed < 5.0, f"the refusal took {elapsed:.1f} s"
    assert uploaded_jobs(settings) == [] and not Event.objects.exists()
    data_dir = Path(settings.DATA_DIR)
    assert [p for p in data_dir.rglob("*") if p.is_file()] == []  # no upload, no decompressed copy under tmp/
    assert set(Path(tempfile.gettempdir()).glob("tmp*.waveform")) == system_temp


@pytest.mark.usefixtures("empty_broker")
def test_the_import_sweep_requeues_a_stalled_job_whose_files_remain_and_leaves_one_whose_files_are_gone(
    senior_analyst, obspy_data, settings
) -> None:
    kept, emptied = (
        api_for(senior_analyst).post("/api/imports/", {"events": upload(obspy_data / QUARRY_BLAST)}).json()
        for _ in range(2)
    )
    for saved in (Path(settings.DATA_DIR) / "uploads" / emptied["id"]).iterdir():
        saved.unlink()  # an operator cleaned the upload folder
    assert import_jobs_requeue_stalled(stalled_after_s=3600) == []  # no progress for an hour: not yet
    assert import_jobs_requeue_stalled(stalled_after_s=0) == [kept["id"]]


def test_a_job_held_by_one_task_is_not_taken_by_a_second_message(senior_analyst, obspy_data) -> None:
    job = api_for(senior_analyst).post("/api/imports/", {"events": upload(obspy_data / QUARRY_BLAST)}).json()
    ImportJob.objects.filter(pk=job["id"]).update(state="running", task_id="first-task")  # the first is importing
    answer = import_job_run(job_id=job["id"], task_id="second-task")
    assert answer["state"] == "running" and not Event.objects.exists()
    import_job_run(job_id=job["id"], task_id="first-task")  # the first task's retry takes it back
    assert import_job_get(job_id=job["id"])["state"] == "done" and Event.objects.count() == 1  # type: ignore[index]
