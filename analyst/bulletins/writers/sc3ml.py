"""SC3ML 0.12 (SeisComP 5), through ObsPy's QuakeML -> SCML transform applied one chunk at a time.

SeisComP's EventParameters is an unordered choice of picks, amplitudes, origins and events, so the
transformed chunks can be concatenated into one document.
"""

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import obspy.io.seiscomp
from lxml import etree
from obspy.io.quakeml.core import Pickler

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.writers.base import BulletinWriter, split_wrapper
from analyst.bulletins.writers.quakeml import header_catalog, quakeml_chunk

SCML_VERSION = "0.12"
SEISCOMP_DATA = Path(obspy.io.seiscomp.__file__).parent / "data"
EVENT_PARAMETERS = b"EventParameters"


@lru_cache(maxsize=1)
def _transform() -> etree.XSLT:
    return etree.XSLT(etree.parse(str(SEISCOMP_DATA / f"quakeml_1.2__sc3ml_{SCML_VERSION}.xsl")))


def _to_scml(quakeml: bytes) -> bytes:
    result = _transform()(etree.fromstring(quakeml, parser=etree.XMLParser(resolve_entities=False)))
    return bytes(result)


class Sc3mlWriter(BulletinWriter):
    extension: ClassVar[str] = "scml"
    content_type: ClassVar[str] = "application/xml"

    def begin(self) -> None:
        head, _, self._tail = split_wrapper(_to_scml(Pickler().dumps(header_catalog(self))), EVENT_PARAMETERS)
        self.out.write(head + b"\n")

    def write(self, items: Sequence[ExportItem]) -> None:
        if not items:
            return
        _, inner, _ = split_wrapper(_to_scml(quakeml_chunk(items, self.header.public_id)), EVENT_PARAMETERS)
        self.out.write(b"    " + inner.strip() + b"\n")
        self.count += len(items)

    def end(self) -> None:
        self.out.write(self._tail)
