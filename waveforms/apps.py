from django.apps import AppConfig


class WaveformsConfig(AppConfig):
    name = "waveforms"
    verbose_name = "Stations and waveforms"

    def ready(self) -> None:
        from waveforms import signals  # noqa: F401 - connects the receivers
