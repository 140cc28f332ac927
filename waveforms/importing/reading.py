"""Reading station metadata and waveform headers with ObsPy, with errors that name the file.

The format is detected here, not by `obspy.read`, so that we know its name and so that pickled
streams (ObsPy's PICKLE format runs arbitrary code on load) are never opened.
"""

import datetime as dt
import gzip
import shutil
import tempfile
import warnings
from pathlib import Path

from obspy import Inventory, Stream, UTCDateTime, read, read_inventory
from obspy.core.util.base import ENTRY_POINTS
from obspy.core.util.misc import buffered_load_entry_point

from fileimport.checks import file_check_regular_nonempty, xml_syntax_error
from fileimport.errors import ImportFileError

# SC3ML is ObsPy's deprecated alias of SCML: accepted on the command line, never used for detection.
INVENTORY_FORMATS = tuple(name for name in ENTRY_POINTS["inventory"] if name != "SC3ML")
_FORMAT_ALIASES = {"SC3ML": "SCML"}
UNSAFE_WAVEFORM_FORMATS = frozenset({"PICKLE"})
WAVEFORM_FORMATS = tuple(name for name in ENTRY_POINTS["waveform"] if name not in UNSAFE_WAVEFORM_FORMATS)


def _detect(group: str, names: tuple[str, ...], path: Path) -> str | None:
    for name in names:
        try:
            entry_point = ENTRY_POINTS[group][name]
            is_format = buffered_load_entry_point(entry_point.dist.name, f"obspy.plugin.{group}.{name}", "isFormat")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if is_format(str(path)):
                    return name
        except Exception:  # noqa: S112 - a format checker choking on foreign bytes just means "not this format"
            continue
    return None


def _requested(path: Path, format: str | None, known: tuple[str, ...]) -> str | None:
    if format is None:
        return None
    name = _FORMAT_ALIASES.get(format.upper(), format.upper())
    if name not in known:
        raise ImportFileError(path, f"unknown format {format!r}; known: {', '.join(known)}")
    return name


def read_inventory_file(path: Path, format: str | None = None) -> tuple[Inventory, str]:
    """Read station metadata from `path`; return the Inventory and the format name that read it."""
    file_check_regular_nonempty(path)
    name = _requested(path, format, INVENTORY_FORMATS)
    syntax_error = xml_syntax_error(path)
    if syntax_error:
        raise ImportFileError(path, syntax_error)
    name = name or _detect("inventory", INVENTORY_FORMATS, path)
    if name is None:
        raise ImportFileError(
            path, "not a station metadata format ObsPy reads (StationXML, SC3ML, dataless SEED, RESP)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inventory = read_inventory(str(path), format=name)
    except Exception as error:  # ObsPy's readers raise many exception types for malformed input.
        raise ImportFileError(path, f"unreadable as {name}: {error}") from None
    if not inventory.networks:
        raise ImportFileError(path, f"read as {name} but it holds no networks")
    return inventory, name


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def detect_waveform_format(path: Path) -> str | None:
    """The ObsPy waveform format name of `path`, or None when no (safe) reader recognises it.

    Gzip-compressed files (ObsPy reads them transparently) are detected on their decompressed content.
    """
    if not _is_gzip(path):
        return _detect("waveform", WAVEFORM_FORMATS, path)
    with tempfile.NamedTemporaryFile(suffix=".waveform") as plain:
        try:
            with gzip.open(path, "rb") as compressed:
                shutil.copyfileobj(compressed, plain)
        except (OSError, EOFError) as error:
            raise ImportFileError(path, f"broken gzip compression: {error}") from None
        plain.flush()
        return _detect("waveform", WAVEFORM_FORMATS, Path(plain.name))


def read_waveform_headers(path: Path, format: str | None = None) -> tuple[Stream, str]:
    """Read the trace headers of `path` (no samples where the format allows); return them and the format name."""
    file_check_regular_nonempty(path)
    name = _requested(path, format, WAVEFORM_FORMATS) or detect_waveform_format(path)
    if name is None:
        raise ImportFileError(path, "not a waveform format ObsPy reads")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = read(str(path), format=name, headonly=True)
        except Exception as error:  # ObsPy's readers raise many exception types for malformed input.
            raise ImportFileError(path, f"unreadable as {name}: {error}") from None
    for warning in caught:
        if "end of file" in str(warning.message).lower():
            raise ImportFileError(path, f"truncated {name} file: {warning.message}")
        if "not a seed record" in str(warning.message).lower():
            raise ImportFileError(
                path, f"corrupt {name} file (a record header lies about its length): {warning.message}"
            )
    if name == "MSEED" and not _is_gzip(path):
        _check_mseed_complete(path, stream)
        _check_mseed_decodes(path, stream)
    if not len(stream):
        raise ImportFileError(path, f"read as {name} but it holds no traces")
    return stream, name


def _check_mseed_complete(path: Path, stream: Stream) -> None:
    # libmseed silently drops a partial last record; a size that is not a whole number of records betrays it.
    lengths = {int(getattr(trace.stats, "mseed", {}).get("record_length", 0)) for trace in stream}
    size = path.stat().st_size
    if len(lengths) == 1 and (length := lengths.pop()) > 0 and size % length:
        raise ImportFileError(path, f"truncated MiniSEED: {size} bytes is not a whole number of {length}-byte records")


def _check_mseed_decodes(path: Path, stream: Stream) -> None:
    """Decode the samples once: a header that lies about its sample count or data offset decodes to a different
    number of samples, or fails the compression's integrity check, which reading headers alone cannot see."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            decoded = read(str(path), format="MSEED")
        except Exception as error:  # libmseed's errors for corrupt records
            raise ImportFileError(path, f"corrupt MiniSEED data: {str(error).strip()[:300]}") from None
    for warning in caught:
        if "integrity check" in str(warning.message).lower():
            raise ImportFileError(path, f"corrupt MiniSEED data: {str(warning.message).strip()[:300]}")
    promised = sorted((trace.id, trace.stats.npts) for trace in stream)
    found = sorted((trace.id, trace.stats.npts) for trace in decoded)
    if promised != found or any(npts == 0 for _, npts in promised):
        raise ImportFileError(
            path,
            f"corrupt MiniSEED: the record headers promise {sum(n for _, n in promised)} samples, "
            f"the data decode to {sum(n for _, n in found)}",
        )


def utc_datetime(value: UTCDateTime) -> dt.datetime:
    """An ObsPy UTCDateTime as an aware `datetime` in UTC."""
    return value.datetime.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]


def utc_datetime_or_none(value: UTCDateTime | None) -> dt.datetime | None:
    return None if value is None else utc_datetime(value)
