"""Reading any event file into an ObsPy Catalog, with errors that name the file and the place."""

import warnings
from pathlib import Path

from obspy import read_events
from obspy.core.event import Catalog

from events.importers.catalog_csv import CSV_READERS, sniff_csv_layout
from fileimport.checks import file_check_regular_nonempty, xml_syntax_error
from fileimport.errors import ImportFileError

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


def read_event_file(path: Path, format: str | None = None) -> tuple[Catalog, str]:
    """Read `path` into a Catalog and return it with the format name that read it.

    Raises ImportFileError with a message naming the file (and line, where known).
    """
    file_check_regular_nonempty(path)
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            catalog = read_events(str(path), format=requested)
    except ImportFileError:
        raise
    except TypeError as error:
        if "Unknown format" in str(error) or "format" in str(error).lower():
            raise ImportFileError(path, "not an event format ObsPy or Seistriage reads") from None
        raise ImportFileError(path, f"unreadable: {error}") from None
    except Exception as error:  # ObsPy's readers raise many exception types for malformed input.
        raise ImportFileError(path, f"unreadable as {requested or 'any known format'}: {error}") from None
    name = requested or _detected_format(catalog)
    return catalog, name


def _detected_format(catalog: Catalog) -> str:
    # ObsPy records the reading format on each event's `_format`.
    for event in catalog:
        found = getattr(event, "_format", None)
        if found:
            return str(found).upper()
    return "UNKNOWN"
