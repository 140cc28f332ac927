"""Writing bulletins to a stream, and publishing them: the file kept under DATA_DIR/bulletins with its SHA-256."""

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from analyst.bulletins.selection import CHUNK_SIZE, EventCriteria, events_select, export_chunks
from analyst.bulletins.writers import WRITERS, BulletinHeader, BulletinWriter
from analyst.models import Bulletin
from events.filters import EventFilter
from events.vocabulary import ReviewState

STATUS_CHOICES = {
    "accepted": (ReviewState.ACCEPTED,),
    "all": tuple(ReviewState.values),
}


class BulletinInputError(ValueError):
    """A bulletin that cannot be made as asked; the message names the field."""


def bulletins_dir() -> Path:
    return Path(settings.DATA_DIR) / "bulletins"


# A bulletin being written; a worker killed mid-write leaves one, which the bulletin sweep removes.
PARTIAL_SUFFIX = ".partial"


# A bulletin's selection parameters (the form's, the API's and the command's names) -> their EventFilter fields.
BULLETIN_PARAMETERS = {
    "start": "time_min",
    "end": "time_max",
    "min_latitude": "latitude_min",
    "max_latitude": "latitude_max",
    "min_longitude": "longitude_min",
    "max_longitude": "longitude_max",
    "min_magnitude": "magnitude_min",
    "max_magnitude": "magnitude_max",
    "event_types": "event_types",
}


def bulletin_criteria(
    *, start: dt.datetime, end: dt.datetime, status: str = "accepted", **filters: Any
) -> EventCriteria:
    """The selection of a bulletin; `filters` by their BULLETIN_PARAMETERS names."""
    if status not in STATUS_CHOICES:
        raise BulletinInputError(f"status: must be one of {', '.join(STATUS_CHOICES)}, got {status!r}")
    if end <= start:
        raise BulletinInputError("end: must be after start")
    unknown = sorted(set(filters) - set(BULLETIN_PARAMETERS))
    if unknown:
        raise TypeError(f"bulletin_criteria() got an unexpected keyword argument {unknown[0]!r}")
    chosen = {BULLETIN_PARAMETERS[name]: value for name, value in {"start": start, "end": end, **filters}.items()}
    return EventCriteria(where=EventFilter(review_states=STATUS_CHOICES[status], **chosen))


def bulletin_parameters(criteria: EventCriteria) -> dict[str, Any]:
    """A bulletin's selection by the names it was asked with (status aside), for its header and its record."""
    parameters = {name: getattr(criteria.where, field) for name, field in BULLETIN_PARAMETERS.items()}
    return {**parameters, "order": criteria.order, "limit": criteria.limit, "offset": criteria.offset}


def _selection_text(criteria: EventCriteria, status: str) -> str:
    shown = {k: v for k, v in bulletin_parameters(criteria).items() if v not in (None, (), "", 0)}
    parts = [f"status={status}"] + [f"{k}={_plain(v)}" for k, v in sorted(shown.items())]
    return "selection: " + " ".join(parts)


def _plain(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _header(
    *, criteria: EventCriteria, status: str, author: str, public_id: str | None, created_at: dt.datetime | None
) -> BulletinHeader:
    return BulletinHeader(
        public_id=public_id or f"smi:seistriage.local/bulletin/{uuid.uuid4()}",
        title="Seistriage bulletin",
        author=author,
        agency=settings.SEISTRIAGE_AGENCY_ID,
        created_at=created_at or timezone.now(),
        selection=_selection_text(criteria, status),
    )


class _Pieces:
    """A file-like sink whose written bytes are taken away after each step, for streaming responses."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _writer(
    *,
    sink: Any,
    format: str,
    criteria: EventCriteria,
    status: str,
    author: str,
    public_id: str | None,
    created_at: dt.datetime | None,
) -> BulletinWriter:
    """The bulletin writer of ``format`` on ``sink``, with its header; BulletinInputError for an unknown format."""
    if format not in WRITERS:
        raise BulletinInputError(f"format: must be one of {', '.join(WRITERS)}, got {format!r}")
    header = _header(criteria=criteria, status=status, author=author, public_id=public_id, created_at=created_at)
    return WRITERS[format](sink, header)


def _write_chunks(writer: BulletinWriter, criteria: EventCriteria, chunk_size: int) -> Iterator[None]:
    """Write the selected events through ``writer`` (begin, chunks, end), pausing after each chunk and at the end."""
    writer.begin()
    for chunk in export_chunks(events_select(criteria=criteria), chunk_size=chunk_size):
        writer.write(chunk)
        yield
    writer.end()
    yield


def bulletin_stream(
    *,
    format: str,
    criteria: EventCriteria,
    status: str,
    author: str,
    public_id: str | None = None,
    created_at: dt.datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """The bulletin's bytes, one piece per chunk of events (a streaming HTTP response iterates this).

    The format is checked at once, before the first piece is asked for, so a bad request fails before
    any byte is sent.
    """
    sink = _Pieces()
    writer = _writer(
        sink=sink,
        format=format,
        criteria=criteria,
        status=status,
        author=author,
        public_id=public_id,
        created_at=created_at,
    )
    return (sink.take() for _ in _write_chunks(writer, criteria, chunk_size))


def bulletin_write(
    *,
    out: BinaryIO,
    format: str,
    criteria: EventCriteria,
    status: str,
    author: str,
    public_id: str | None = None,
    created_at: dt.datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Stream the selected events to `out` in `format`; return how many were written."""
    writer = _writer(
        sink=out,
        format=format,
        criteria=criteria,
        status=status,
        author=author,
        public_id=public_id,
        created_at=created_at,
    )
    for _ in _write_chunks(writer, criteria, chunk_size):
        pass
    return writer.count


class _HashingFile:
    """Write-through to a file while hashing and counting, so the SHA-256 needs no second read."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def bulletin_publish(
    *,
    user: User | None,
    format: str,
    criteria: EventCriteria,
    status: str,
    published: bool,
    on_recorded: Callable[[Bulletin], None] | None = None,
) -> Bulletin:
    """Write a bulletin file under DATA_DIR/bulletins (drafts under drafts/) and record it (who, when, selection,
    count, SHA-256); ``on_recorded`` runs in the transaction that records it (a job marks itself done there).

    The file is written to a temporary name and renamed only when complete, and removed again when its record
    cannot be stored, so nothing half-written and nothing unrecorded is kept.
    """
    if format not in WRITERS:
        raise BulletinInputError(f"format: must be one of {', '.join(WRITERS)}, got {format!r}")
    created_at = timezone.now()
    key = uuid.uuid4()
    public_id = f"smi:seistriage.local/bulletin/{key}"
    folder = Path(f"{created_at:%Y/%m}") if published else Path("drafts") / f"{created_at:%Y/%m}"
    relative = folder / f"{created_at:%Y%m%dT%H%M%S}_{key}.{WRITERS[format].extension}"
    target = bulletins_dir() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    try:
        with partial.open("wb") as handle:
            hashing = _HashingFile(handle)
            count = bulletin_write(
                out=hashing,  # type: ignore[arg-type]
                format=format,
                criteria=criteria,
                status=status,
                author=user.get_username() if user is not None else "",
                public_id=public_id,
                created_at=created_at,
            )
        partial.rename(target)
        with transaction.atomic():
            bulletin = Bulletin.objects.create(
                public_id=public_id,
                kind=Bulletin.Kind.PUBLISHED if published else Bulletin.Kind.DRAFT,
                format=format,
                created_by=user,
                created_at=created_at,
                filters={"status": status, **_json_criteria(criteria)},
                event_count=count,
                sha256=hashing.digest.hexdigest(),
                size_bytes=hashing.size,
                file_path=str(relative),
            )
            if on_recorded is not None:
                on_recorded(bulletin)
            return bulletin
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        partial.unlink(missing_ok=True)


def _json_criteria(criteria: EventCriteria) -> dict[str, Any]:
    return {
        k: _plain(v) if isinstance(v, dt.datetime | tuple) else v
        for k, v in bulletin_parameters(criteria).items()
        if v not in (None, (), "")
    }


def bulletin_file(*, bulletin: Bulletin) -> Path:
    """The stored file of a bulletin; raises FileNotFoundError if it was removed from disk."""
    path = (bulletins_dir() / bulletin.file_path).resolve()
    if bulletins_dir().resolve() not in path.parents or not path.is_file():
        raise FileNotFoundError(f"bulletin file {bulletin.file_path} is missing")
    return path
