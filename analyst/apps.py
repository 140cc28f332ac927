from django.apps import AppConfig


class AnalystConfig(AppConfig):
    name = "analyst"
    verbose_name = "Events and review"

    def ready(self) -> None:
        from analyst import signals  # noqa: F401  (connects the receivers)
