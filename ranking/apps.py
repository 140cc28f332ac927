from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class RankingConfig(AppConfig):
    name = "ranking"
    verbose_name = "Importance ranking"

    def ready(self) -> None:
        # Every process (web, worker, command) refuses to start on bad class weights, naming the variable.
        from ranking.inputs import class_weights

        try:
            class_weights()
        except ValueError as error:
            raise ImproperlyConfigured(f"SEISTRIAGE_CLASS_WEIGHTS: {error}") from None
