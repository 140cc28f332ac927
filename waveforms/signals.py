"""A removed waveform source takes its summary sidecar with it (however it was deleted)."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from waveforms.models import WaveformSource
from waveforms.summary_store import waveform_summaries_delete


@receiver(post_delete, sender=WaveformSource, dispatch_uid="waveform-source-summaries-delete")
def waveform_source_summaries_delete(sender: type[WaveformSource], instance: WaveformSource, **kwargs: Any) -> None:
    source_id = instance.pk
    transaction.on_commit(lambda: waveform_summaries_delete(source_id=source_id))
