from django.urls import path

from analyst.api_waveforms import EventSpectrogramApi, EventTraceApi, EventWaveformsApi

urlpatterns = [
    path("api/events/<int:event_id>/waveforms/", EventWaveformsApi.as_view(), name="api-event-waveforms"),
    path("api/events/<int:event_id>/waveforms/<str:seed_id>/", EventTraceApi.as_view(), name="api-event-trace"),
    path(
        "api/events/<int:event_id>/waveforms/<str:seed_id>/spectrogram/",
        EventSpectrogramApi.as_view(),
        name="api-event-spectrogram",
    ),
]
