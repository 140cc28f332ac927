"""The pages; every API endpoint is in analyst/api/urls.py, the FDSN event service in analyst/bulletins/fdsnws."""

from django.urls import include, path
from django.views.generic import RedirectView

from analyst.views import bulletins, events, learning, workbench

urlpatterns = [
    # The queue is the home page; /queue/ stays for old bookmarks (the query string goes along).
    path("", workbench.queue_page, name="queue"),
    path("queue/", RedirectView.as_view(pattern_name="queue", query_string=True, permanent=True)),
    path("queue/events/<int:event_id>/", workbench.event_review_page, name="event-review"),
    path("import/", workbench.import_page, name="import"),
    path("vendor/plotly.min.js", workbench.plotly_js, name="plotly-js"),
    path("events/", events.event_list, name="event-list"),
    path("events/<int:event_id>/", events.event_detail, name="event-detail"),
    path("models/", learning.models_index, name="models"),
    path("models/<str:kind>/", learning.model_dashboard_page, name="model-dashboard"),
    path("learning/informative/", learning.informative_page, name="learning-informative"),
    path("learning/mislabelled/", learning.mislabelled_page, name="learning-mislabelled"),
    path("learning/labels/", learning.labels_page, name="learning-labels"),
    path("bulletins/", bulletins.bulletins_page, name="bulletins"),
    path("bulletins/<int:bulletin_id>/file/", bulletins.bulletin_file_download, name="bulletin-file"),
    path("api/", include("analyst.api.urls")),
]
