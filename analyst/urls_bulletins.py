from django.urls import path

from analyst import views_bulletins

urlpatterns = [
    path("bulletins/", views_bulletins.bulletins_page, name="bulletins"),
    path("bulletins/draft/", views_bulletins.bulletin_draft_download, name="bulletin-draft"),
    path("bulletins/<int:bulletin_id>/file/", views_bulletins.bulletin_file_download, name="bulletin-file"),
    path("api/bulletins/", views_bulletins.BulletinListApi.as_view(), name="api-bulletins"),
    path("api/bulletins/<int:bulletin_id>/file/", views_bulletins.BulletinFileApi.as_view(), name="api-bulletin-file"),
    path("api/export/", views_bulletins.BulletinExportApi.as_view(), name="api-export"),
]
