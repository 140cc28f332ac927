"""Real events for the workbench tests: a ranker trained on real PNSN reviews scores the 2,047 real
ComCat events of one week of May 2021, all inside one transaction a module rolls back at its end."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import transaction

from analyst.ingest.services import events_ingest_file
from ranking.scoring import events_score
from ranking.training import ranker_train

COMCAT_WEEK = "catalogs/comcat_all_week_2021-05.csv"
PNSN = "catalogs/pnsn_comcat_2018-2022.csv"


def pnsn_head(shared_data: Path, folder: Path, rows: int = 1000) -> Path:
    """The first real PNSN catalogue rows (reviewed decisions), as the importer reads them."""
    lines = (shared_data / PNSN).read_text().splitlines()
    path = folder / "pnsn_head.csv"
    path.write_text("\n".join(lines[: rows + 1]) + "\n")
    return path


def scored_comcat_week(shared_data: Path, folder: Path) -> list[int]:
    """Train and promote a ranker on real reviewed events, import the ComCat week and score it; its event ids."""
    events_ingest_file(path=pnsn_head(shared_data, folder), reviewed=True)
    ranker_train(created_by="workbench-tests", promote=True)
    report = events_ingest_file(path=shared_data / COMCAT_WEEK)
    outcome = events_score(event_ids=report.event_ids)
    assert len(outcome.scored) == len(report.event_ids) == 2047, outcome.as_dict()
    return report.event_ids


@contextmanager
def rolled_back(django_db_blocker: Any) -> Iterator[None]:
    """Data for a whole module, in one transaction that is rolled back afterwards (tests nest inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
