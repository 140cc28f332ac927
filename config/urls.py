from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analyst.web.ratelimit import RateLimitedLoginView, login_rate_limited

urlpatterns = [
    path("admin/login/", login_rate_limited(admin.site.login), name="admin-login"),  # before the admin's own
    path("admin/", admin.site.urls),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),  # before Django's, which it replaces
    path("accounts/", include("django.contrib.auth.urls")),
    path("fdsnws/event/1/", include("analyst.bulletins.fdsnws.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("", include("analyst.urls")),
]
