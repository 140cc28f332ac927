from django.apps import AppConfig


class WaveformsConfig(AppConfig):
    name = "waveforms"
    verbose_name = "Stations and waveforms"
