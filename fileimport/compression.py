"""Gzip-compressed input, decompressed with a cap on size and ratio, into a temporary file that is always removed.

ObsPy reads gzip transparently by decompressing the whole stream to the system temp folder first: a few MiB of
compressed zeros become gigabytes there (a gzip bomb). Every importer decompresses through here instead, and
hands the plain copy to the reader.
"""

import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fileimport.errors import ImportFileError

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024
# Below this much output the ratio is not judged: a small file of zeros is harmless and can compress very well.
_RATIO_FLOOR_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GzipLimits:
    """The most a gzip file may decompress to (bytes), and the most it may expand (decompressed / compressed)."""

    max_bytes: int
    max_ratio: float


def gzip_is(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _decompress_into(path: Path, target: Path, limits: GzipLimits, head_bytes: int | None) -> bool:
    """Write the decompressed content of `path` into `target`; True when all of it was written."""
    written = read = 0
    decompressor = zlib.decompressobj(wbits=31)
    in_member = False
    pending = b""
    with path.open("rb") as compressed, target.open("wb") as plain:
        while True:
            if not pending:
                pending = compressed.read(_CHUNK)
                read += len(pending)
                if not pending:
                    break
            # Bounded output per step, so a bomb never holds more than one chunk in memory.
            output = decompressor.decompress(pending, _CHUNK)
            pending, in_member = decompressor.unconsumed_tail, True
            if decompressor.eof:  # one gzip member ended; a concatenated next member may follow
                pending, in_member = decompressor.unused_data + pending, False
                decompressor = zlib.decompressobj(wbits=31)
            if head_bytes is not None and written + len(output) >= head_bytes:
                plain.write(output[: head_bytes - written])
                return False
            written += len(output)
            consumed = read - len(pending)
            if written > limits.max_bytes:
                raise ImportFileError(
                    path, f"gzip content is over the limit of {limits.max_bytes:,} bytes decompressed (a gzip bomb?)"
                )
            if written > _RATIO_FLOOR_BYTES and written > limits.max_ratio * consumed:
                raise ImportFileError(
                    path,
                    f"gzip content expands more than {limits.max_ratio:g} times "
                    f"({consumed:,} compressed bytes became {written:,}; a gzip bomb?)",
                )
            plain.write(output)
    if in_member:
        raise ImportFileError(path, "broken gzip compression: the compressed stream ends early")
    return True


@contextmanager
def gzip_decompressed(
    path: Path, *, folder: Path, limits: GzipLimits, head_bytes: int | None = None
) -> Iterator[tuple[Path, bool]]:
    """The plain content of the gzip file `path` as a temporary file in `folder`, and whether it is complete.

    With `head_bytes`, only that many bytes are decompressed (enough to detect a format). The temporary file is
    removed on leaving the block, also on an exception. Raises ImportFileError naming `path` when the stream is
    broken or exceeds `limits`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix="gunzip-", suffix=suffix, delete=False)  # noqa: SIM115
    handle.close()
    target = Path(handle.name)
    try:
        try:
            complete = _decompress_into(path, target, limits, head_bytes)
        except zlib.error as error:
            raise ImportFileError(path, f"broken gzip compression: {error}") from None
        yield target, complete
    finally:
        target.unlink(missing_ok=True)


@contextmanager
def gzip_plain_file(path: Path, *, folder: Path, limits: GzipLimits) -> Iterator[Path]:
    """`path` itself, or for a gzip file its whole decompressed content (within `limits`) as a temporary file in
    `folder`, removed afterwards. An ImportFileError raised inside the block about the copy names `path`."""
    if not gzip_is(path):
        yield path
        return
    with gzip_decompressed(path, folder=folder, limits=limits) as (plain, _):
        try:
            yield plain
        except ImportFileError as error:
            raise ImportFileError(path, error.reason.replace(str(plain), str(path)), line=error.line) from None
