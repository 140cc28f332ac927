"""The station importer: one inventory file, one transaction; re-import updates epochs matched on codes + start."""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from obspy import Inventory

from fileimport.errors import ImportFileError
from waveforms.importing.reading import read_inventory_file, utc_datetime_or_none
from waveforms.models import Channel, InventorySource, Network, Station

# Formats that carry no coordinates (ObsPy fills in placeholders we must not store as if measured).
FORMATS_WITHOUT_COORDINATES = frozenset({"RESP"})
_CHANNEL_FIELDS = [
    "latitude",
    "longitude",
    "elevation",
    "depth",
    "azimuth",
    "dip",
    "sample_rate",
    "end_date",
    "inventory_source",
    "has_response",
]


@dataclass
class StationImportReport:
    path: str
    format: str = ""
    has_responses: bool = False
    networks_created: int = 0
    stations_created: int = 0
    stations_updated: int = 0
    channels_created: int = 0
    channels_updated: int = 0
    responses_kept: int = 0

    def summary(self) -> str:
        responses = "with responses" if self.has_responses else "without responses"
        return (
            f"{self.path} [{self.format}, {responses}]: networks {self.networks_created} created; "
            f"stations {self.stations_created} created, {self.stations_updated} updated; "
            f"channels {self.channels_created} created, {self.channels_updated} updated"
            + (f"; {self.responses_kept} stored responses kept" if self.responses_kept else "")
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _has_response(channel: Any) -> bool:
    # A channel-level StationXML may carry only the overall sensitivity: not enough to remove a response.
    response = channel.response
    return response is not None and bool(response.response_stages)


def _coordinate(path: Path, where: str, name: str, value: Any, limit: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or (limit is not None and abs(number) > limit):
        raise ImportFileError(path, f"{where}: field '{name}' has an impossible value {value!r}")
    return number


def _validate(path: Path, inventory: Inventory) -> None:
    for network in inventory:
        for station in network:
            for item, where in [(station, f"station {network.code}.{station.code}")] + [
                (channel, f"channel {network.code}.{station.code}.{channel.location_code}.{channel.code}")
                for channel in station
            ]:
                _coordinate(path, where, "latitude", item.latitude, 90.0)
                _coordinate(path, where, "longitude", item.longitude, 360.0)
                _coordinate(path, where, "elevation", item.elevation, None)
            for channel in station:
                if channel.sample_rate is not None and not (0 <= float(channel.sample_rate) < math.inf):
                    rate = channel.sample_rate
                    raise ImportFileError(
                        path, f"channel {channel.code}: field 'sample_rate' has an impossible value {rate}"
                    )


class _InventoryImport:
    def __init__(self, path: Path, inventory: Inventory, format_name: str, source: InventorySource) -> None:
        self.path = path
        self.inventory = inventory
        self.known_coordinates = format_name not in FORMATS_WITHOUT_COORDINATES
        self.source = source
        self.report = StationImportReport(path=str(path), format=format_name, has_responses=source.has_responses)

    def run(self) -> StationImportReport:
        for obspy_network in self.inventory:
            network, created = Network.objects.get_or_create(code=obspy_network.code)
            self.report.networks_created += created
            network.description = (obspy_network.description or network.description or "")[:256]
            network.start_date = utc_datetime_or_none(obspy_network.start_date) or network.start_date
            network.end_date = utc_datetime_or_none(obspy_network.end_date)
            network.save(update_fields=["description", "start_date", "end_date"])
            for obspy_station in obspy_network:
                station = self.station_upsert(network, obspy_station)
                self.channels_upsert(station, obspy_station)
        return self.report

    def coordinates(self, item: Any, fallback: Any) -> dict[str, float | None]:
        if not self.known_coordinates:
            # Keep what an earlier StationXML said rather than erase it with "unknown".
            return {name: getattr(fallback, name, None) for name in ("latitude", "longitude", "elevation")}
        return {"latitude": item.latitude, "longitude": item.longitude, "elevation": item.elevation}

    def station_upsert(self, network: Network, obspy_station: Any) -> Station:
        start = utc_datetime_or_none(obspy_station.start_date)
        existing = Station.objects.filter(network=network, code=obspy_station.code, start_date=start).first()
        if start is None:
            existing = Station.objects.filter(network=network, code=obspy_station.code, start_date=None).first()
        site = obspy_station.site.name if obspy_station.site is not None else ""
        values: dict[str, Any] = {
            **self.coordinates(obspy_station, existing),
            "site_name": (site or (existing.site_name if existing else ""))[:256],
            "end_date": utc_datetime_or_none(obspy_station.end_date),
        }
        if existing is None:
            self.report.stations_created += 1
            return Station.objects.create(network=network, code=obspy_station.code, start_date=start, **values)
        for name, value in values.items():
            setattr(existing, name, value)
        existing.save(update_fields=list(values))
        self.report.stations_updated += 1
        return existing

    def channels_upsert(self, station: Station, obspy_station: Any) -> None:
        existing = {(c.location_code, c.code, c.start_date): c for c in Channel.objects.filter(station=station)}
        new: list[Channel] = []
        changed: list[Channel] = []
        for obspy_channel in obspy_station:
            key = (
                obspy_channel.location_code or "",
                obspy_channel.code,
                utc_datetime_or_none(obspy_channel.start_date),
            )
            channel = existing.get(key) or Channel(
                station=station, location_code=key[0], code=key[1], start_date=key[2]
            )
            for name, value in self.coordinates(obspy_channel, channel).items():
                setattr(channel, name, value)
            channel.depth = float(obspy_channel.depth or 0.0)
            channel.azimuth = obspy_channel.azimuth
            channel.dip = obspy_channel.dip
            channel.sample_rate = obspy_channel.sample_rate
            channel.end_date = utc_datetime_or_none(obspy_channel.end_date)
            has_response = _has_response(obspy_channel)
            if has_response or not channel.has_response:
                channel.inventory_source = self.source
                channel.has_response = has_response
            else:
                # Merge, never downgrade: a file without responses (a channel-level StationXML of the same
                # epoch) keeps the channel pointing at the file that holds its response.
                self.report.responses_kept += 1
            (changed if channel.pk else new).append(channel)
        Channel.objects.bulk_create(new)
        Channel.objects.bulk_update(changed, _CHANNEL_FIELDS)
        self.report.channels_created += len(new)
        self.report.channels_updated += len(changed)


def stations_import_file(*, path: Path, format: str | None = None) -> StationImportReport:
    """Import one station metadata file; raises ImportFileError (nothing written) when it cannot be read."""
    path = Path(path).absolute()
    inventory, format_name = read_inventory_file(path, format)
    _validate(path, inventory)
    has_responses = any(_has_response(c) for n in inventory for s in n for c in s)
    with transaction.atomic():
        source, _ = InventorySource.objects.update_or_create(
            path=str(path),
            defaults={"format": format_name, "sha256": _sha256(path), "has_responses": has_responses},
        )
        return _InventoryImport(path, inventory, format_name, source).run()
