from django.urls import path

from analyst import views_models

urlpatterns = [
    path("models/", views_models.models_index, name="models"),
    path("models/<str:kind>/", views_models.model_dashboard_page, name="model-dashboard"),
    path("learning/informative/", views_models.informative_page, name="learning-informative"),
    path("learning/mislabelled/", views_models.mislabelled_page, name="learning-mislabelled"),
    path("learning/labels/", views_models.labels_page, name="learning-labels"),
    path("api/models/<str:kind>/", views_models.ModelDashboardApi.as_view(), name="api-model-dashboard"),
    path("api/models/<str:kind>/train/", views_models.TrainingRunStartApi.as_view(), name="api-model-train"),
    path(
        "api/models/<str:kind>/versions/<str:version>/promote/",
        views_models.ModelPromoteApi.as_view(),
        name="api-model-promote",
    ),
    path(
        "api/models/<str:kind>/versions/<str:version>/rollback/",
        views_models.ModelRollbackApi.as_view(),
        name="api-model-rollback",
    ),
    path("api/training-runs/<int:run_id>/", views_models.TrainingRunApi.as_view(), name="api-training-run"),
    path("api/learning/informative/", views_models.InformativeEventsApi.as_view(), name="api-learning-informative"),
    path("api/learning/mislabelled/", views_models.MislabelledEventsApi.as_view(), name="api-learning-mislabelled"),
    path("api/learning/labels/", views_models.LabelAgreementApi.as_view(), name="api-learning-labels"),
]
