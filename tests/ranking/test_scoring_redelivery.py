"""Two deliveries of one scoring batch running at once (a redelivery while the first is still running): each
event keeps one score of the active ranker (security review L5)."""

import threading
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count

from events.importers.store import events_import_file
from events.models import Event
from ranking.models import EventScore
from ranking.scoring import ScoringOutcome, events_score
from ranking.training import ranker_train
from tests.conftest import wait_for


def _waiting_for_locks() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is frozen for a transaction otherwise
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_broker")]
BATCH = 600


@pytest.fixture
def pnsn_rows(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """1,500 real reviewed PNSN rows to train on, and the next BATCH rows imported as automatic events."""
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    reviewed, automatic = tmp_path / "reviewed.csv", tmp_path / "automatic.csv"
    reviewed.write_text("\n".join(lines[:1501]) + "\n")
    automatic.write_text("\n".join([lines[0], *lines[1501 : 1501 + BATCH]]) + "\n")
    return reviewed, automatic


def test_two_deliveries_of_one_batch_scoring_at_once_store_one_score_per_event(
    pnsn_rows: tuple[Path, Path],
) -> None:
    reviewed, automatic = pnsn_rows
    events_import_file(path=reviewed, reviewed=True)
    ranker_train(created_by="test", promote=True)
    # Imported without sending them to scoring: a worker of the session must not score them meanwhile, only the
    # two deliveries below.
    ids = events_import_file(path=automatic).event_ids
    assert len(ids) == BATCH and not EventScore.objects.filter(event_id__in=ids).exists()

    outcomes: list[ScoringOutcome] = []
    errors: list[BaseException] = []

    def delivery() -> None:
        try:
            outcomes.append(events_score(event_ids=ids))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=delivery) for _ in range(2)]
    with transaction.atomic():
        # An analyst's transaction holds one of the rows: both deliveries pass the "already scored?" check, score,
        # and wait for the row locks, as two deliveries of one batch do when they overlap.
        Event.objects.select_for_update().filter(pk=ids[-1]).get()
        for thread in threads:
            thread.start()
        wait_for(lambda: _waiting_for_locks() == 2, timeout=240, what="both deliveries waiting for the row locks")
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and len(outcomes) == 2

    per_event = EventScore.objects.filter(event_id__in=ids).values("event_id").annotate(n=Count("id"))
    assert sorted({row["n"] for row in per_event}) == [1] and len(per_event) == BATCH
    assert sum(len(outcome.scored) for outcome in outcomes) == BATCH  # one delivery stored, the other found them
