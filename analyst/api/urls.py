"""Every API endpoint, by resource (mounted under /api/)."""

from django.urls import path

from analyst.api import bulletins, events, imports, learning, picks, preferences, presence, tokens, waveforms

urlpatterns = [
    path("token/", tokens.ApiTokenApi.as_view(), name="api-token"),
    # events: the queue, evidence, review, claims, presence
    path("events/", events.EventQueueApi.as_view(), name="api-event-queue"),
    path("events/progress/", events.QueueProgressApi.as_view(), name="api-event-progress"),
    path("events/undo/", events.EventUndoApi.as_view(), name="api-event-undo"),
    path("events/review-batch/", events.EventBatchReviewApi.as_view(), name="api-event-review-batch"),
    path("events/<int:event_id>/", events.EventEvidenceApi.as_view(), name="api-event"),
    path("events/<int:event_id>/review/", events.EventReviewApi.as_view(), name="api-event-review"),
    path("events/<int:event_id>/picks/", picks.EventPicksApi.as_view(), name="api-event-picks"),
    path("events/<int:event_id>/claim/", events.EventClaimApi.as_view(), name="api-event-claim"),
    path("events/<int:event_id>/presence/", presence.EventPresenceApi.as_view(), name="api-event-presence"),
    path("presence/", presence.PresenceApi.as_view(), name="api-presence"),
    # waveforms of an event
    path("events/<int:event_id>/waveforms/", waveforms.EventWaveformsApi.as_view(), name="api-event-waveforms"),
    path("events/<int:event_id>/waveforms/<str:seed_id>/", waveforms.EventTraceApi.as_view(), name="api-event-trace"),
    path(
        "events/<int:event_id>/waveforms/<str:seed_id>/spectrogram/",
        waveforms.EventSpectrogramApi.as_view(),
        name="api-event-spectrogram",
    ),
    # the analyst's own queue settings
    path("filters/", preferences.SavedFilterListApi.as_view(), name="api-saved-filters"),
    path("filters/<int:saved_filter_id>/", preferences.SavedFilterApi.as_view(), name="api-saved-filter"),
    path("preferences/columns/", preferences.QueueColumnsApi.as_view(), name="api-queue-columns"),
    # imports
    path("imports/", imports.ImportJobListApi.as_view(), name="api-imports"),
    path("imports/<str:job_id>/", imports.ImportJobApi.as_view(), name="api-import-job"),
    # models and the learning loop
    path("models/<str:kind>/", learning.ModelDashboardApi.as_view(), name="api-model-dashboard"),
    path("models/<str:kind>/train/", learning.TrainingRunStartApi.as_view(), name="api-model-train"),
    path(
        "models/<str:kind>/versions/<str:version>/promote/",
        learning.ModelPromoteApi.as_view(),
        name="api-model-promote",
    ),
    path(
        "models/<str:kind>/versions/<str:version>/rollback/",
        learning.ModelRollbackApi.as_view(),
        name="api-model-rollback",
    ),
    path("training-runs/<int:run_id>/", learning.TrainingRunApi.as_view(), name="api-training-run"),
    path("learning/informative/", learning.InformativeEventsApi.as_view(), name="api-learning-informative"),
    path("learning/mislabelled/", learning.MislabelledEventsApi.as_view(), name="api-learning-mislabelled"),
    path("learning/labels/", learning.LabelAgreementApi.as_view(), name="api-learning-labels"),
    # bulletins
    path("bulletins/", bulletins.BulletinListApi.as_view(), name="api-bulletins"),
    path("bulletins/<int:bulletin_id>/file/", bulletins.BulletinFileApi.as_view(), name="api-bulletin-file"),
    path("bulletins/drafts/", bulletins.BulletinDraftApi.as_view(), name="api-bulletin-drafts"),
    path("bulletins/jobs/<str:bulletin_job_id>/", bulletins.BulletinJobApi.as_view(), name="api-bulletin-job"),
    path("export/", bulletins.BulletinExportApi.as_view(), name="api-export"),
]
