from django.urls import path

from analyst.bulletins.fdsnws import views

urlpatterns = [
    path("query", views.query, name="fdsnws-event-query"),
    path("version", views.version, name="fdsnws-event-version"),
    path("application.wadl", views.application_wadl, name="fdsnws-event-wadl"),
    path("catalogs", views.catalogs, name="fdsnws-event-catalogs"),
    path("contributors", views.contributors, name="fdsnws-event-contributors"),
]
