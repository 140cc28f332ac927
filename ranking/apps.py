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

        try:
            class_weights_parse(settings.SEISTRIAGE_CLASS_WEIGHTS)
        except ValueError as error:
            raise ImproperlyConfigured(f"SEISTRIAGE_CLASS_WEIGHTS: {error}") from None
