from django.urls import path
from django.views.generic import RedirectView

from analyst import views_workbench

urlpatterns = [
    # The queue is the home page; /queue/ stays for old bookmarks (the query string goes along).
    path("", views_workbench.queue_page, name="queue"),
    path("queue/", RedirectView.as_view(pattern_name="queue", query_string=True, permanent=True)),
    path("queue/events/<int:event_id>/", views_workbench.event_review_page, name="event-review"),
    path("import/", views_workbench.import_page, name="import"),
    path("vendor/plotly.min.js", views_workbench.plotly_js, name="plotly-js"),
]
