"""``{% cnn_value_panel %}``: the model page's section on whether the ranker stacks the CNN
(templates/analyst/_model_cnn_value.html; the proof of value stored by ``evaluate --kind ranker --cnn-value``)."""

from typing import Any

from django import template

from ranking.inputs import ranker_uses_cnn_features
from ranking.models import ModelVersion
from ranking.registry import model_version_active

register = template.Library()


@register.inclusion_tag("analyst/_model_cnn_value.html")
def cnn_value_panel() -> dict[str, Any]:
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    metrics = active.metrics if active is not None else {}
    return {
        "cnn": active,
        "value": metrics.get("cnn_value"),
        "peer": metrics.get("latest_peer"),
        "cv": metrics.get("latest_cross_validation"),
        "uses_cnn": ranker_uses_cnn_features(),
    }
