from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class RankingConfig(AppConfig):
    name = "ranking"
    verbose_name = "Importance ranking"

    def ready(self) -> None:
        # Every process (web, worker, command) refuses to start on bad class weights, naming the variable.
        from pathlib import Path

        from ranking.ml.classes import class_weights_parse
        from ranking.ml.tree_inference import compiled_folder_set

        compiled_folder_set(Path(settings.DATA_DIR) / "cache" / "compiled-trees")
        from ranking.ml.importance import PROFILES

        if settings.SEISTRIAGE_PROFILE not in PROFILES:
            raise ImproperlyConfigured(
                f"SEISTRIAGE_PROFILE: {settings.SEISTRIAGE_PROFILE!r} is not one of {', '.join(PROFILES)}"
            )
        try:
            class_weights_parse(settings.SEISTRIAGE_CLASS_WEIGHTS, base=PROFILES[settings.SEISTRIAGE_PROFILE].weights)
        except ValueError as error:
            raise ImproperlyConfigured(f"SEISTRIAGE_CLASS_WEIGHTS: {error}") from None
        if not 0.0 < settings.SEISTRIAGE_TRIAGE_ALPHA < 1.0:
            raise ImproperlyConfigured(f"SEISTRIAGE_TRIAGE_ALPHA: {settings.SEISTRIAGE_TRIAGE_ALPHA} is not in (0, 1)")
