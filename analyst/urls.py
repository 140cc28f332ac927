from django.urls import include, path

from analyst import views

urlpatterns = [
    path("events/", views.event_list, name="event-list"),
    path("events/<int:event_id>/", views.event_detail, name="event-detail"),
    path("", include("analyst.urls_api_waveforms")),
    path("api/", include("analyst.api.urls")),
    path("", include("analyst.urls_workbench")),
    path("", include("analyst.urls_models")),
    path("", include("analyst.urls_bulletins")),
]
