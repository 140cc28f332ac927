"""Reading any event file into an ObsPy Catalog, with errors that name the file and the place."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from obspy import read_events
from obspy.core.event import Catalog
from obspy.core.util.base import ENTRY_POINTS

from events.importers.catalog_csv import CSV_READERS, sniff_csv_layout
from events.importers.quakeml_stream import quakeml_event_records, quakeml_streamable
from events.importers.records import EventRecord, event_record_from_obspy
from fileimport.checks import file_check_regular_nonempty, xml_syntax_error
from fileimport.compression import GzipLimits, gzip_plain_file
from fileimport.errors import ImportFileError
from fileimport.formats import format_detect

# Formats ObsPy reads events from, as its `format=` names them; `--format` accepts these too.
OBSPY_EVENT_FORMATS = (
    "QUAKEML",
    "SC3ML",
    "IMS10BULLETIN",
    "ISF",
    "NORDIC",
    "NLLOC_HYP",
    "GSE2",
    "CSV",
    "CNV",
    "JSON",
    "KML",
    "ZMAP",
    "NDK",
    "CMTSOLUTION",
    "EVT",
    "FNETMT",
    "HYPODDPHA",
    "SCARDEC",
)
EVENT_FORMATS = tuple(sorted({*OBSPY_EVENT_FORMATS, *(name.upper() for name in CSV_READERS)}))
# What detection tries: ObsPy's own list and order (none unpickles; SC3ML is its deprecated alias of SCML).
DETECTABLE_EVENT_FORMATS = tuple(name for name in ENTRY_POINTS["event"] if name != "SC3ML")


@dataclass
class EventRecords:
    """A file's events as the store's records, and the format name that read them."""

    format: str
    records: Iterator[EventRecord]
    streamed: bool


@contextmanager
def event_records_opened(path: Path, format: str | None = None, *, streaming: bool = True) -> Iterator[EventRecords]:
    """The events of `path` as records, for use inside the block (a gzip file's plain copy lasts as long).

    A QuakeML 1.2 file is read as a stream (events.importers.quakeml_stream) when `streaming`, in constant memory;
    every other file, and QuakeML the stream leaves to ObsPy, is read whole by ObsPy (read_event_file). Raises
    ImportFileError naming the file (and line, where known), also while the records are iterated (a QuakeML syntax
    error is met only there, so iterate inside a transaction)."""
    file_check_regular_nonempty(path)
    limits = GzipLimits(max_bytes=settings.SEISTRIAGE_GZIP_MAX_BYTES, max_ratio=settings.SEISTRIAGE_GZIP_MAX_RATIO)
    with gzip_plain_file(path, folder=Path(settings.DATA_DIR) / "tmp", limits=limits) as plain:
        requested = format.upper() if format else None
        if streaming and requested in (None, "QUAKEML") and quakeml_streamable(plain):
            # No syntax check first (a second pass over the file): the stream meets any error itself.
            yield EventRecords(format="QUAKEML", records=quakeml_event_records(plain), streamed=True)
            return
        catalog, name = _read_plain_event_file(plain, format)
        yield EventRecords(format=name, records=map(event_record_from_obspy, catalog), streamed=False)


def read_event_file(path: Path, format: str | None = None) -> tuple[Catalog, str]:
    """Read `path` into a Catalog and return it with the format name that read it.

    Raises ImportFileError with a message naming the file (and line, where known). A gzip file is decompressed
    under DATA_DIR/tmp within SEISTRIAGE_GZIP_MAX_BYTES and SEISTRIAGE_GZIP_MAX_RATIO, and read like a plain one.
    """
    file_check_regular_nonempty(path)
    limits = GzipLimits(max_bytes=settings.SEISTRIAGE_GZIP_MAX_BYTES, max_ratio=settings.SEISTRIAGE_GZIP_MAX_RATIO)
    with gzip_plain_file(path, folder=Path(settings.DATA_DIR) / "tmp", limits=limits) as plain:
        return _read_plain_event_file(plain, format)


def _read_plain_event_file(path: Path, format: str | None) -> tuple[Catalog, str]:
    requested = format.upper() if format else None
    if requested is not None and requested not in EVENT_FORMATS:
        raise ImportFileError(path, f"unknown format {format!r}; known: {', '.join(EVENT_FORMATS)}")

    layout = requested.lower() if requested and requested.lower() in CSV_READERS else None
    if requested is None:
        layout = sniff_csv_layout(path)
    if layout is not None:
        try:
            return CSV_READERS[layout](path), layout.upper()
        except (ValueError, TypeError, OverflowError) as error:  # a value no field check above foresaw
            raise ImportFileError(path, f"unreadable as {layout.upper()} CSV: {error}") from None

    syntax_error = xml_syntax_error(path)
    if syntax_error:
        raise ImportFileError(path, syntax_error)
    # Always a named format: ObsPy's auto-detection would run whatever reader accepts the bytes.
    name = requested or format_detect("event", DETECTABLE_EVENT_FORMATS, path)
    if name is None:
        raise ImportFileError(path, "not an event format ObsPy or Seistriage reads")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            catalog = read_events(str(path), format=name)
    except ImportFileError:
        raise
    except TypeError as error:
        if "Unknown format" in str(error) or "format" in str(error).lower():
            raise ImportFileError(path, "not an event format ObsPy or Seistriage reads") from None
        raise ImportFileError(path, f"unreadable: {error}") from None
    except Exception as error:  # ObsPy's readers raise many exception types for malformed input.
        raise ImportFileError(path, f"unreadable as {name}: {error}") from None
    return catalog, name
