from pathlib import Path

from celery import shared_task

from analyst.importers.errors import ImportFileError
from analyst.importers.events import events_import_file


@shared_task(acks_late=True, max_retries=0)
def import_events_file(path: str, format: str | None = None, reviewed: bool = False) -> dict[str, object]:
    """Import one event file in the background (uploads, watched folder); bad files report, never retry."""
    try:
        report = events_import_file(path=Path(path), format=format, reviewed=reviewed)
    except ImportFileError as error:
        return {"path": path, "error": str(error)}
    return {"path": path, "summary": report.summary(), "events": len(report.event_ids)}
