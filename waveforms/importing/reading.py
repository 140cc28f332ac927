"""Reading station metadata and waveform headers with ObsPy, with errors that name the file.

The format is detected here, not by `obspy.read`, so that we know its name and so that pickled
streams (ObsPy's PICKLE format runs arbitrary code on load) are never opened.
"""

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from obspy import Inventory, Stream, Trace, UTCDateTime, read, read_inventory
from obspy.core.util.base import ENTRY_POINTS
from obspy.io.sac.util import SacHeaderTimeError, get_sac_reftime

from fileimport.checks import file_check_regular_nonempty, xml_syntax_error
from fileimport.compression import GzipLimits, gzip_decompressed, gzip_is, gzip_plain_file
from fileimport.errors import ImportFileError
from fileimport.formats import format_detect

# SC3ML is ObsPy's deprecated alias of SCML: accepted on the command line, never used for detection.
INVENTORY_FORMATS = tuple(name for name in ENTRY_POINTS["inventory"] if name != "SC3ML")
_FORMAT_ALIASES = {"SC3ML": "SCML"}
UNSAFE_WAVEFORM_FORMATS = frozenset({"PICKLE"})
WAVEFORM_FORMATS = tuple(name for name in ENTRY_POINTS["waveform"] if name not in UNSAFE_WAVEFORM_FORMATS)
# Headers outside these bounds are corrupt or crafted (SAC b=1e30, a MiniSEED ending in year 13179): they overflow
# datetime conversions and, below about 0.05 Hz, used to reach ObsPy's C STA/LTA with zero-length windows.
SAMPLING_RATE_LIMITS_HZ = (1e-3, 1e4)
TIME_LIMITS = (UTCDateTime(1900, 1, 1), UTCDateTime(2100, 1, 1))
# Format detection needs only the start of a file (a MiniSEED record, a SAC header, ...).
DETECT_HEAD_BYTES = 4 * 1024 * 1024
SAC_NULL_INTEGER = -12345
SAC_REFERENCE_TIME_FIELDS = ("nzyear", "nzjday", "nzhour", "nzmin", "nzsec", "nzmsec")


def _requested(path: Path, format: str | None, known: tuple[str, ...]) -> str | None:
    if format is None:
        return None
    name = _FORMAT_ALIASES.get(format.upper(), format.upper())
    if name not in known:
        raise ImportFileError(path, f"unknown format {format!r}; known: {', '.join(known)}")
    return name


def _gzip_limits() -> GzipLimits:
    return GzipLimits(max_bytes=settings.SEISTRIAGE_GZIP_MAX_BYTES, max_ratio=settings.SEISTRIAGE_GZIP_MAX_RATIO)


def _temporary_folder() -> Path:
    return Path(settings.DATA_DIR) / "tmp"


@contextmanager
def plain_waveform_file(path: Path) -> Iterator[Path]:
    """`path`, or for a gzip file its decompressed copy under DATA_DIR/tmp (within the gzip limits), removed
    afterwards: ObsPy would otherwise decompress it, without limits, into the system temp folder."""
    with gzip_plain_file(path, folder=_temporary_folder(), limits=_gzip_limits()) as plain:
        yield plain


def read_inventory_file(path: Path, format: str | None = None) -> tuple[Inventory, str]:
    """Read station metadata from `path` (gzip allowed); return the Inventory and the format name that read it."""
    file_check_regular_nonempty(path)
    with gzip_plain_file(path, folder=_temporary_folder(), limits=_gzip_limits()) as plain:
        return _read_inventory_plain(plain, format)


def _read_inventory_plain(path: Path, format: str | None) -> tuple[Inventory, str]:
    name = _requested(path, format, INVENTORY_FORMATS)
    syntax_error = xml_syntax_error(path)
    if syntax_error:
        raise ImportFileError(path, syntax_error)
    name = name or format_detect("inventory", INVENTORY_FORMATS, path)
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


def detect_waveform_format(path: Path) -> str | None:
    """The ObsPy waveform format name of `path`, or None when no (safe) reader recognises it.

    Gzip-compressed files (ObsPy reads them transparently) are detected on the start of their decompressed
    content, within the gzip limits; only a format whose detector needs the whole file (SAC compares its size
    with the header) makes it decompress all of it.
    """
    if not gzip_is(path):
        return format_detect("waveform", WAVEFORM_FORMATS, path)
    folder, limits = _temporary_folder(), _gzip_limits()
    with gzip_decompressed(path, folder=folder, limits=limits, head_bytes=DETECT_HEAD_BYTES) as (head, complete):
        name = format_detect("waveform", WAVEFORM_FORMATS, head)
    if name is None and not complete:
        with gzip_decompressed(path, folder=folder, limits=limits) as (plain, _):
            name = format_detect("waveform", WAVEFORM_FORMATS, plain)
    return name


def read_waveform_headers(path: Path, format: str | None = None) -> tuple[Stream, str]:
    """Read the trace headers of `path` (no samples where the format allows; gzip allowed, decompressed within
    the gzip limits); return them and the format name."""
    file_check_regular_nonempty(path)
    with plain_waveform_file(path) as plain:
        return _read_waveform_headers_plain(plain, format)


def _read_waveform_headers_plain(path: Path, format: str | None) -> tuple[Stream, str]:
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
    if name == "MSEED":
        _check_mseed_complete(path, stream)
        _check_mseed_decodes(path, stream)
    if not len(stream):
        raise ImportFileError(path, f"read as {name} but it holds no traces")
    _check_trace_headers(path, stream)
    return stream, name


def _check_trace_headers(path: Path, stream: Stream) -> None:
    """Refuse sampling rates and times no real recording has, naming the trace and the field."""
    low_rate, high_rate = SAMPLING_RATE_LIMITS_HZ
    first, last = TIME_LIMITS
    for trace in stream:
        where = f"trace {trace.id}"
        try:
            rate = float(trace.stats.sampling_rate)
            if not low_rate <= rate <= high_rate:
                raise ImportFileError(
                    path, f"{where}: field 'sampling_rate' is {rate:g} Hz, outside {low_rate:g}..{high_rate:g} Hz"
                )
            for field in ("starttime", "endtime"):
                # Compared in nanoseconds: a crafted header overflows every float or datetime conversion.
                value: UTCDateTime = trace.stats[field]
                if not first.ns <= value.ns <= last.ns:
                    raise ImportFileError(
                        path, f"{where}: field '{field}' is outside {first.year}..{last.year - 1} ({value.ns} ns)"
                    )
                utc_datetime(value)
            _check_sac_reference_time(path, trace)
        except (OverflowError, ValueError) as error:
            raise ImportFileError(path, f"{where}: impossible header value: {error}") from None


def _check_sac_reference_time(path: Path, trace: Trace) -> None:
    # ObsPy silently dates a SAC trace from 1970 when its reference time (nzyear, nzjday, ...) is invalid.
    sac = trace.stats.get("sac")
    if sac is None or sac.get("nzyear", SAC_NULL_INTEGER) == SAC_NULL_INTEGER:
        return
    try:
        get_sac_reftime(sac)
    except SacHeaderTimeError:
        fields = ", ".join(f"{name}={sac.get(name)}" for name in SAC_REFERENCE_TIME_FIELDS)
        raise ImportFileError(path, f"trace {trace.id}: SAC reference time is not a date ({fields})") from None


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
