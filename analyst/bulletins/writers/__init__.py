"""One streaming writer per bulletin format; each writes a header, chunks of events, then a footer."""

from analyst.bulletins.writers.base import BulletinHeader, BulletinWriter
from analyst.bulletins.writers.comcat_csv import ComcatCsvWriter
from analyst.bulletins.writers.geojson import GeoJsonWriter
from analyst.bulletins.writers.ims import Ims10Writer
from analyst.bulletins.writers.kml import KmlWriter
from analyst.bulletins.writers.quakeml import QuakeMLWriter
from analyst.bulletins.writers.sc3ml import Sc3mlWriter

WRITERS: dict[str, type[BulletinWriter]] = {
    "quakeml": QuakeMLWriter,
    "sc3ml": Sc3mlWriter,
    "ims1.0": Ims10Writer,
    "csv": ComcatCsvWriter,
    "geojson": GeoJsonWriter,
    "kml": KmlWriter,
}
BULLETIN_FORMATS = tuple(WRITERS)

__all__ = ["BULLETIN_FORMATS", "WRITERS", "BulletinHeader", "BulletinWriter"]
