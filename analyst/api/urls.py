from django.urls import path

from analyst.api import views

urlpatterns = [
    path("events/", views.EventQueueApi.as_view(), name="api-event-queue"),
    path("events/<int:event_id>/", views.EventEvidenceApi.as_view(), name="api-event"),
    path("events/<int:event_id>/review/", views.EventReviewApi.as_view(), name="api-event-review"),
    path("events/<int:event_id>/claim/", views.EventClaimApi.as_view(), name="api-event-claim"),
    path("events/<int:event_id>/presence/", views.EventPresenceApi.as_view(), name="api-event-presence"),
    path("presence/", views.PresenceApi.as_view(), name="api-presence"),
    path("imports/", views.ImportJobListApi.as_view(), name="api-imports"),
    path("imports/<str:job_id>/", views.ImportJobApi.as_view(), name="api-import-job"),
    path("filters/", views.SavedFilterListApi.as_view(), name="api-saved-filters"),
    path("filters/<int:saved_filter_id>/", views.SavedFilterApi.as_view(), name="api-saved-filter"),
    path("preferences/columns/", views.QueueColumnsApi.as_view(), name="api-queue-columns"),
]
