from django.urls import path

from analyst import views_workbench

urlpatterns = [
    path("queue/", views_workbench.queue_page, name="queue"),
    path("queue/events/<int:event_id>/", views_workbench.event_review_page, name="event-review"),
    path("vendor/plotly.min.js", views_workbench.plotly_js, name="plotly-js"),
]
