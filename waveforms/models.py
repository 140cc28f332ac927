"""Station metadata and registered waveform data (files and SDS archives)."""

from django.db import models


class InventorySource(models.Model):
    """A station metadata file (StationXML, SC3ML, dataless SEED, RESP) as imported."""

    path = models.CharField(max_length=1024, unique=True)
    format = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    has_responses = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.path


class Network(models.Model):
    code = models.CharField(max_length=8, unique=True)
    description = models.CharField(max_length=256, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.code


class Station(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="stations")
    code = models.CharField(max_length=8)
    # RESP files carry no coordinates: unknown stays NULL rather than a made-up 0.
    latitude = models.FloatField(null=True, blank=True, help_text="degrees north, WGS84")
    longitude = models.FloatField(null=True, blank=True, help_text="degrees east, WGS84")
    elevation = models.FloatField(null=True, blank=True, help_text="metres above sea level")
    site_name = models.CharField(max_length=256, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "code", "start_date"], name="unique_station_epoch"),
        ]
        indexes = [models.Index(fields=["code"])]

    def __str__(self) -> str:
        return f"{self.network.code}.{self.code}"


class Channel(models.Model):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="channels")
    location_code = models.CharField(max_length=8, blank=True)
    code = models.CharField(max_length=8)
    latitude = models.FloatField(null=True, blank=True, help_text="degrees north, WGS84")
    longitude = models.FloatField(null=True, blank=True, help_text="degrees east, WGS84")
    elevation = models.FloatField(null=True, blank=True, help_text="metres above sea level")
    depth = models.FloatField(default=0.0, help_text="metres below the surface")
    azimuth = models.FloatField(null=True, blank=True, help_text="degrees clockwise from north")
    dip = models.FloatField(null=True, blank=True, help_text="degrees down from horizontal")
    sample_rate = models.FloatField(null=True, blank=True, help_text="samples per second")
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    inventory_source = models.ForeignKey(InventorySource, on_delete=models.SET_NULL, null=True, blank=True)
    has_response = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["station", "location_code", "code", "start_date"], name="unique_channel_epoch"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station}.{self.location_code}.{self.code}"


class WaveformSource(models.Model):
    """A registered waveform file, or the root of an SDS archive."""

    class Kind(models.TextChoices):
        FILE = "file", "file"
        SDS = "sds", "SDS archive"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    path = models.CharField(max_length=1024, unique=True)
    format = models.CharField(max_length=32, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    modified_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


class WaveformTrace(models.Model):
    """One contiguous trace header inside a registered file (data are read from the file on demand)."""

    source = models.ForeignKey(WaveformSource, on_delete=models.CASCADE, related_name="traces")
    network = models.CharField(max_length=8)
    station = models.CharField(max_length=8)
    location = models.CharField(max_length=8, blank=True)
    channel = models.CharField(max_length=8)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    sampling_rate = models.FloatField()
    npts = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["start_time", "end_time"]),
            models.Index(fields=["network", "station", "channel"]),
            models.Index(fields=["end_time"]),
        ]

    def __str__(self) -> str:
        return f"{self.seed_id} {self.start_time:%Y-%m-%dT%H:%M:%S}"

    @property
    def seed_id(self) -> str:
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"
