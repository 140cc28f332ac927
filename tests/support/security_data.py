"""Real objects for the security tests: one of every kind a URL can name, built from real files.

The ESEC lahar (Mount Spurr, 2014-09-10) with its StationXML and MiniSEED gives an event with waveforms, the
first real PNSN reviewed rows train and promote a ranker, a published bulletin, a queued training run, an
upload job holding the SeisComP mining-explosion QuakeML and a saved queue filter. Everything lives inside one
transaction that the test module rolls back at its end.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obspy
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction

from analyst.bulletins.jobs import bulletin_job_create
from analyst.bulletins.services import bulletin_criteria, bulletin_publish
from analyst.ingest.services import events_ingest_file
from analyst.ingest.uploads import UploadedPart, import_job_create
from analyst.models import Bulletin, SavedFilter
from analyst.roles import roles_ensure
from events.models import Event
from ranking.models import ModelVersion, TrainingRun
from ranking.training import ranker_train
from ranking.training_runs import training_run_start

LAHAR_ORIGIN = dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC)
QUARRY_BLAST = Path(obspy.__path__[0]) / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml"
PNSN = "catalogs/pnsn_comcat_2018-2022.csv"
ROLES = ("anonymous", "outsider", "analyst", "senior", "admin")


@dataclass(frozen=True)
class SecurityWorld:
    users: dict[str, User | None]
    event: Event
    seed_id: str
    model: ModelVersion
    bulletin: Bulletin
    training_run: TrainingRun
    import_job_id: str
    saved_filter: SavedFilter
    bulletin_job_id: str  # the senior's (a job is seen by the user who asked for it only)


def role_users() -> dict[str, User | None]:
    """The personas: nobody, a logged-in user without a role, analyst, senior analyst and a superuser."""
    groups = roles_ensure()
    outsider = User.objects.create_user("sec-outsider", password="outsider-password-1")
    analyst = User.objects.create_user("sec-analyst", password="analyst-password-1")
    analyst.groups.add(groups["analyst"])
    senior = User.objects.create_user("sec-senior", password="senior-password-1")
    senior.groups.add(groups["senior analyst"], groups["analyst"])
    admin = User.objects.create_superuser("sec-admin", password="admin-password-1")
    return {"anonymous": None, "outsider": outsider, "analyst": analyst, "senior": senior, "admin": admin}


def _pnsn_head(shared_data: Path, folder: Path, rows: int) -> Path:
    lines = (shared_data / PNSN).read_text().splitlines()
    path = folder / "pnsn_head.csv"
    path.write_text("\n".join(lines[: rows + 1]) + "\n")
    return path


def build_world(shared_data: Path, folder: Path) -> SecurityWorld:
    users = role_users()
    senior = users["senior"]
    analyst = users["analyst"]
    assert senior is not None and analyst is not None
    call_command("import_events", str(shared_data / "esec/IRISExoticEventCatalog.txt"), verbosity=0)
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / "esec/waveforms/1").glob("*.mseed"))), verbosity=0)
    event = Event.objects.get(origin_time=LAHAR_ORIGIN)
    seed_id = sorted(p.name.split("__")[0] for p in (shared_data / "esec/waveforms/1").glob("*.mseed"))[0]
    events_ingest_file(path=_pnsn_head(shared_data, folder, 200), reviewed=True)
    model = ranker_train(created_by="security-tests", promote=True)
    window = bulletin_criteria(
        start=dt.datetime(1990, 1, 1, tzinfo=dt.UTC), end=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), status="all"
    )
    bulletin = bulletin_publish(user=senior, format="quakeml", criteria=window, status="all", published=True)
    bulletin_job = bulletin_job_create(user=senior, format="csv", criteria=window, status="all", published=False)
    run = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by=senior.get_username())
    upload = SimpleUploadedFile(QUARRY_BLAST.name, QUARRY_BLAST.read_bytes(), content_type="application/xml")
    job = import_job_create(user=senior, parts=[UploadedPart("events", upload)])
    saved = SavedFilter.objects.create(user=analyst, name="quarries", query="event_type=quarry+blast")
    return SecurityWorld(
        users=users,
        event=event,
        seed_id=seed_id,
        model=model,
        bulletin=bulletin,
        training_run=run,
        import_job_id=str(job["id"]),
        saved_filter=saved,
        bulletin_job_id=bulletin_job["id"],
    )


@contextmanager
def security_world(django_db_blocker: Any, shared_data: Path, folder: Path) -> Iterator[SecurityWorld]:
    """The world for a whole module, in one transaction rolled back afterwards (each test nests inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world(shared_data, folder)
        transaction.set_rollback(True)
