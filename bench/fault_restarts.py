"""Faults: Redis restarted while events are ingested and scored, PostgreSQL restarted while an analyst reviews.

Against gunicorn + a real `celery worker -Q cpu` (started by bench/load_analysts.py's helpers) on its own
database (seistriage_faults) and Redis db 12. It restarts the SHARED Redis and PostgreSQL servers for a few
seconds each, with the commands an operator would use:

- Redis: `redis-cli shutdown nosave`, 3 s down, then
  `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`
  while an ingester uploads one 10-row file of the real ComCat week CSV per second (POST /api/imports/);
- PostgreSQL: `pg_ctlcluster --skip-systemctl-redirect <version> main restart` while an analyst opens, claims and
  decides events through the API.

Asserted: while a service is down requests fail cleanly (503 or accepted, never another 5xx, never a trace);
the web and the worker recover without a restart of their own (requests succeed again, new uploads are imported
and scored); every event that reached the database ends scored (the periodic sweep, run here as beat would,
requeues those whose messages died with Redis); every decision acknowledged with 200 is in the database.
Redis and PostgreSQL are checked to be running again at the end.

Run once (it disturbs every user of the shared servers for a few seconds):
  DEBUG=true SEISTRIAGE_DATA_DIR=$PWD/var/faults .venv/bin/python bench/fault_restarts.py
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seistriage_faults")
os.environ.setdefault("LOAD_REDIS_URL", "redis://127.0.0.1:6379/12")

# Sets the environment and Django up: first.
from bench.load_analysts import (
    PNSN,
    REDIS_URL,
    free_port,
    ingest_files,
    processes_start,
    processes_stop,
)  # isort: split

import redis
import requests
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import close_old_connections
from rest_framework.authtoken.models import Token

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry
from analyst.roles import roles_ensure
from events.models import Event
from events.vocabulary import UNREVIEWED_STATES
from ranking.models import EventScore
from ranking.scoring import events_scoring_sweep
from ranking.training import ranker_train

PG_VERSION = sorted(os.listdir("/etc/postgresql"))[-1]
REDIS_DOWN = ["redis-cli", "shutdown", "nosave"]
REDIS_UP = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
]
PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "restart"]


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[float, str, int, str]] = []  # (time, what, status, body head)
        self.decided: list[tuple[int, int, str]] = []  # (event, version after, decision) answered 200
        self.uploaded: list[str] = []  # file names answered 202

    def add(self, what: str, response: requests.Response | None, error: str = "") -> None:
        status = response.status_code if response is not None else 0
        body = response.text[:300] if response is not None else error[:300]
        with self.lock:
            self.answers.append((time.time(), what, status, body))


def request(seen: Seen, session: requests.Session, what: str, method: str, url: str, **kw: Any) -> Any:
    try:
        response = session.request(method, url, timeout=30, **kw)
    except requests.RequestException as error:
        seen.add(what, None, str(error))
        return None
    seen.add(what, response)
    return response


def ingester(*, base: str, token: str, files: list[str], seen: Seen, offset: int) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    for number, content in enumerate(files):
        name = f"fault-ingest-{offset + number:04d}.csv"
        answer = request(
            seen,
            session,
            "upload",
            "POST",
            f"{base}/api/imports/",
            files={"events": (name, content.encode(), "text/csv")},
        )
        if answer is not None and answer.status_code == 202:
            with seen.lock:
                seen.uploaded.append(name)
        time.sleep(1.0)


def analyst(*, base: str, token: str, until: float, seen: Seen) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    while time.time() < until:
        page = request(
            seen,
            session,
            "queue",
            "GET",
            f"{base}/api/events/",
            params={"limit": 5, "review_state": "new,scored", "total": "0"},
        )
        if page is None or page.status_code != 200 or not page.json()["results"]:
            time.sleep(0.5)
            continue
        event_id = int(page.json()["results"][0]["id"])
        opened = request(seen, session, "event", "GET", f"{base}/api/events/{event_id}/")
        if opened is None or opened.status_code != 200:
            time.sleep(0.5)
            continue
        request(seen, session, "claim", "POST", f"{base}/api/events/{event_id}/claim/")
        body = {
            "decision": "accept",
            "version": opened.json()["version"],
            "event_type": "earthquake",
            "certainty": "known",
        }
        reviewed = request(seen, session, "review", "POST", f"{base}/api/events/{event_id}/review/", json=body)
        if reviewed is not None and reviewed.status_code == 200:
            with seen.lock:
                seen.decided.append((event_id, int(reviewed.json()["version"]), "accept"))
        time.sleep(0.2)


def outage(seen: Seen, *, label: str, down: list[list[str]], pause_s: float) -> tuple[float, float]:
    time.sleep(5)
    started = time.time()
    for command in down:
        subprocess.run(command, check=False, capture_output=True, timeout=60)
        time.sleep(pause_s)
    ended = time.time()
    print(f"{label}: down/restarted from +0 to +{ended - started:.1f} s")
    return started, ended


def summary(seen: Seen, *, what: str, start: float, end: float) -> list[str]:
    problems = []
    window = [a for a in seen.answers if a[1] == what or what == "*"]
    during = [a for a in window if start - 1 <= a[0] <= end + 15]
    codes: dict[int, int] = {}
    for _, _, status, body in during:
        codes[status] = codes.get(status, 0) + 1
        if status >= 500 and status != 503:
            problems.append(f"{what} {status}: {body!r}")
        if "Traceback" in body or 'File "' in body:
            problems.append(f"{what} {status} carries a trace: {body!r}")
    after = [a for a in window if a[0] > end + 15]
    print(
        f"  {what}: answers from the outage to 15 s after: {dict(sorted(codes.items()))}; afterwards "
        f"{sum(1 for a in after if a[2] < 400)}/{len(after)} succeeded"
    )
    return problems


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(REDIS_URL).flushdb()
    lines = PNSN.read_text().splitlines()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        folder = Path(tmp)
        (folder / "train.csv").write_text("\n".join(lines[:1501]) + "\n")
        events_ingest_file(path=folder / "train.csv", reviewed=True)
        ranker_train(created_by="fault_restarts", promote=True)
        groups = roles_ensure()
        user = User.objects.create_user("fault-analyst")
        user.groups.add(groups["analyst"])
        senior = User.objects.create_user("fault-ingester")
        senior.groups.add(groups["analyst"], groups["senior analyst"])
        analyst_token, ingest_token = Token.objects.create(user=user).key, Token.objects.create(user=senior).key
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes = processes_start(folder=folder, port=port, web_workers=3)
        seen = Seen()
        files = ingest_files(rate=10, seconds=60)
        problems: list[str] = []
        try:
            # 1. Redis restarted while events are uploaded, imported and scored.
            arguments = {"base": base, "token": ingest_token, "files": files[:30], "seen": seen, "offset": 0}
            thread = threading.Thread(target=ingester, kwargs=arguments)
            thread.start()
            redis_start, redis_end = outage(seen, label="Redis", down=[REDIS_DOWN, REDIS_UP], pause_s=3)
            thread.join()
            problems += summary(seen, what="upload", start=redis_start, end=redis_end)

            # 2. PostgreSQL restarted while an analyst reviews (and uploads go on).
            until = time.time() + 30
            threads = [
                threading.Thread(
                    target=analyst, kwargs={"base": base, "token": analyst_token, "until": until, "seen": seen}
                ),
                threading.Thread(
                    target=ingester,
                    kwargs={"base": base, "token": ingest_token, "files": files[30:55], "seen": seen, "offset": 30},
                ),
            ]
            for t in threads:
                t.start()
            pg_start, pg_end = outage(seen, label="PostgreSQL", down=[PG_RESTART], pause_s=0)
            for t in threads:
                t.join()
            for what in ("queue", "event", "claim", "review", "upload"):
                problems += summary(seen, what=what, start=pg_start, end=pg_end)

            # 3. Every event in the database ends scored: the sweep (beat's task, run here) requeues what Redis lost.
            close_old_connections()
            deadline = time.time() + 180
            swept = 0
            while True:
                close_old_connections()
                waiting = Event.objects.filter(review_state__in=UNREVIEWED_STATES).exclude(scoring_state="scored")
                if not waiting.exists() or time.time() > deadline:
                    break
                swept += events_scoring_sweep(stalled_after_s=30)
                time.sleep(10)
            unscored = waiting.count()
        finally:
            processes_stop(processes)
    ingested = Event.objects.filter(source_file__contains="fault-ingest-")
    imported_files = {Path(p).name.split("-", 1)[-1] for p in ingested.values_list("source_file", flat=True)}
    lost_uploads = sorted(set(seen.uploaded) - imported_files)
    scored = EventScore.objects.filter(event__in=ingested).values("event_id").distinct().count()
    print(
        f"uploads acknowledged 202: {len(seen.uploaded)}; imported: {len(imported_files)} files, "
        f"{ingested.count()} events, {scored} scored; unreviewed events left unscored: {unscored} "
        f"(the sweep requeued {swept})"
    )
    if lost_uploads:
        print(f"  acknowledged uploads never imported (their job message died with Redis): {lost_uploads}")
    missing = [
        d
        for d in seen.decided
        if not AuditEntry.objects.filter(
            event_id=d[0], event_version=d[1], action=d[2], user__username="fault-analyst"
        ).exists()
    ]
    print(f"decisions acknowledged 200: {len(seen.decided)}, missing from the database: {len(missing)}")
    problems += [f"unscored events: {unscored}"] * bool(unscored) + [f"lost decisions: {missing}"] * bool(missing)
    ping = subprocess.run(["redis-cli", "ping"], capture_output=True, text=True).stdout.strip()
    ready = subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True, text=True).stdout.strip()
    print(f"afterwards: redis-cli ping -> {ping}; pg_isready -> {ready}")
    for line in problems:
        print(f"PROBLEM {line}")
    print("PASS" if not problems else "FAIL")


if __name__ == "__main__":
    main()
