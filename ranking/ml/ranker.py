"""The tabular ranker: a histogram gradient boosting classifier over the decision classes, calibrated.

Training is time-ordered: the oldest (1 - calibration_share) of the labelled events fit the trees,
the newest share fits one isotonic regression per class (one-vs-rest) on the trees' probabilities,
and calibrated rows are renormalised to sum to one. Calibrating on later events than the trees
saw is what a deployed model meets: tomorrow's events, not a shuffled sample of yesterday's.
Importance is the class-weighted sum of the calibrated probabilities.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.tree_inference import estimator_predict_proba

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ESTIMATORS = ("hist_gradient_boosting", "random_forest", "logistic_regression")
MIN_CALIBRATION_POSITIVES = 3
# Up to this many rows the flat NumPy tree walk beats scikit-learn's per-tree calls; above, scikit-learn wins.
FLAT_WALK_MAX_ROWS = 64


@dataclass(frozen=True)
class IsotonicCurve:
    """A fitted isotonic map as its knots: raw probability -> calibrated probability (np.interp)."""

    x: FloatArray
    y: FloatArray


@dataclass(frozen=True)
class FlatTrees:
    """A fitted HistGradientBoostingClassifier's trees as flat NumPy arrays, walked for all trees at once.

    scikit-learn calls each tree from Python, which costs milliseconds per event for hundreds of
    trees; walking every tree one level per NumPy step costs tens of microseconds for one event.
    Leaves point to themselves, so ``depth`` steps bring every walk to its leaf. The walk follows
    scikit-learn's rule: NaN goes where ``missing_go_to_left`` says, otherwise ``x <= threshold`` goes left.
    """

    feature: IntArray
    threshold: FloatArray
    missing_left: npt.NDArray[np.bool_]
    left: IntArray
    right: IntArray
    value: FloatArray
    roots: IntArray
    tree_output: IntArray
    baseline: FloatArray
    depth: int

    @classmethod
    def from_estimator(cls, estimator: HistGradientBoostingClassifier) -> "FlatTrees":
        # The private tree arrays are stable across scikit-learn 1.x; a test compares this walk with
        # predict_proba on real data, so a change there fails loudly instead of scoring wrongly.
        parts: list[npt.NDArray[Any]] = []
        roots: list[int] = []
        outputs: list[int] = []
        offset = 0
        for iteration in estimator._predictors:
            for output, predictor in enumerate(iteration):
                nodes = predictor.nodes
                if nodes["is_categorical"].any():
                    raise ValueError("categorical splits are not supported by the flat tree walk")
                parts.append(nodes)
                roots.append(offset)
                outputs.append(output)
                offset += len(nodes)
        nodes = np.concatenate(parts)
        starts = np.repeat(np.array(roots), [len(part) for part in parts])
        own = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            feature=nodes["feature_idx"].astype(np.int64),
            threshold=nodes["num_threshold"].astype(np.float64),
            missing_left=nodes["missing_go_to_left"].astype(bool),
            left=np.where(leaf, own, nodes["left"].astype(np.int64) + starts),
            right=np.where(leaf, own, nodes["right"].astype(np.int64) + starts),
            value=nodes["value"].astype(np.float64),
            roots=np.array(roots, dtype=np.int64),
            tree_output=np.array(outputs, dtype=np.int64),
            baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel(),
            depth=int(nodes["depth"].max()),
        )

    def predict_proba(self, features: FloatArray) -> FloatArray:
        """Class probabilities, shape (n, n_trained_classes), for features of shape (n, used columns)."""
        n = features.shape[0]
        index = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            x = features[rows, self.feature[index]]
            go_left = np.where(np.isnan(x), self.missing_left[index], x <= self.threshold[index])
            index = np.where(go_left, self.left[index], self.right[index])
        raw = np.zeros((n, len(self.baseline))) + self.baseline
        leaf_values = self.value[index]
        for output in range(len(self.baseline)):
            raw[:, output] += leaf_values[:, self.tree_output == output].sum(axis=1)
        if raw.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        raw -= raw.max(axis=1, keepdims=True)
        exponentials = np.exp(raw)
        return np.asarray(exponentials / exponentials.sum(axis=1, keepdims=True), dtype=np.float64)


@dataclass
class RankerModel:
    """A trained ranker: the estimator, its calibration, and what it needs to explain itself.

    ``predict_proba`` takes a feature matrix of shape (n, len(feature_names)) and returns shape
    (n, len(DECISION_CLASSES)): classes the training data lacked get probability 0.
    """

    estimator_name: str
    estimator: Any
    feature_names: tuple[str, ...]
    feature_version: str
    trained_classes: tuple[int, ...]
    used_columns: tuple[int, ...]
    calibration: dict[int, IsotonicCurve] = field(default_factory=dict)
    reference_values: FloatArray = field(default_factory=lambda: np.empty(0))
    flat_trees: FlatTrees | None = None

    def raw_proba(self, features: FloatArray) -> FloatArray:
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected features of shape (n, {len(self.feature_names)}), got {features.shape}")
        probabilities = np.zeros((features.shape[0], len(DECISION_CLASSES)))
        if features.shape[0]:
            used = features[:, list(self.used_columns)]
            small = self.flat_trees is not None and features.shape[0] <= FLAT_WALK_MAX_ROWS
            # larger batches: compiled trees, threads suited to the batch and the process (tree_inference.py)
            proba = self.flat_trees.predict_proba(used) if small else estimator_predict_proba(self.estimator, used)  # type: ignore[union-attr]
            probabilities[:, list(self.trained_classes)] = proba
        return probabilities

    def predict_proba(self, features: FloatArray) -> FloatArray:
        return calibrate(self.raw_proba(features), self.calibration)


def calibrate(probabilities: FloatArray, calibration: Mapping[int, IsotonicCurve]) -> FloatArray:
    """Apply the per-class isotonic maps and renormalise each row (rows that calibrate to zero stay raw)."""
    if not calibration:
        return probabilities
    calibrated = probabilities.copy()
    for column, curve in calibration.items():
        calibrated[:, column] = np.interp(probabilities[:, column], curve.x, curve.y)
    totals = calibrated.sum(axis=1, keepdims=True)
    usable = totals[:, 0] > 1e-12
    calibrated[usable] /= totals[usable]
    calibrated[~usable] = probabilities[~usable]
    return calibrated


def importance(probabilities: FloatArray, weights: Mapping[str, float]) -> FloatArray:
    """Importance per event: sum over DECISION_CLASSES of weight x probability, shape (n,)."""
    vector = np.array([weights.get(name, 0.0) for name in DECISION_CLASSES], dtype=np.float64)
    return np.asarray(probabilities @ vector, dtype=np.float64)


def make_estimator(name: str, *, random_state: int = 0) -> Any:
    """A fresh, unfitted classifier of one of the ESTIMATORS families (NaN-tolerant)."""
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=60,
            learning_rate=0.15,
            max_leaf_nodes=16,
            min_samples_leaf=10,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
    if name == "random_forest":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=2, random_state=random_state),
        )
    if name == "logistic_regression":
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(max_iter=2000, C=1.0),
        )
    raise ValueError(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}")


def ranker_fit(
    features: FloatArray,
    labels: IntArray,
    times: FloatArray,
    *,
    feature_names: Sequence[str],
    feature_version: str,
    estimator_name: str = "hist_gradient_boosting",
    calibration_share: float = 0.2,
    random_state: int = 0,
) -> RankerModel:
    """Fit a ranker on labelled events.

    features: shape (n, F) in ``feature_names`` order, NaN for missing; labels: shape (n,), indices
    into DECISION_CLASSES; times: shape (n,), POSIX seconds, used only to order the split.
    """
    if features.shape[0] != labels.shape[0] or labels.shape[0] != times.shape[0]:
        raise ValueError("features, labels and times must have the same number of rows")
    order = np.argsort(times, kind="stable")
    features, labels = features[order], labels[order]
    split = round(len(labels) * (1.0 - calibration_share))
    if len(np.unique(labels)) < 2:
        raise ValueError("the labelled events hold fewer than two decision classes")
    if len(np.unique(labels[:split])) < len(np.unique(labels)):
        # A first catalogue can hold a class only in its newest events (a handful of blasts, say). Learning
        # every class matters more than a calibration holdout then: fit on all of them, leave it uncalibrated.
        split = len(labels)
    fit_rows = slice(0, split)
    # A feature no training event has (no gazetteer, no waveforms yet) carries nothing to learn: leave it out.
    used_columns = tuple(int(c) for c in np.flatnonzero(~np.isnan(features[fit_rows]).all(axis=0)))
    estimator = make_estimator(estimator_name, random_state=random_state)
    estimator.fit(features[fit_rows][:, list(used_columns)], labels[fit_rows])
    trained = tuple(int(value) for value in estimator.classes_)
    model = RankerModel(
        estimator_name=estimator_name,
        estimator=estimator,
        feature_names=tuple(feature_names),
        feature_version=feature_version,
        trained_classes=trained,
        used_columns=used_columns,
        reference_values=_reference_values(features[fit_rows]),
        flat_trees=FlatTrees.from_estimator(estimator) if estimator_name == "hist_gradient_boosting" else None,
    )
    holdout_features, holdout_labels = features[split:], labels[split:]
    if len(holdout_labels):
        raw = model.raw_proba(holdout_features)
        for column in trained:
            positives = int((holdout_labels == column).sum())
            if positives < MIN_CALIBRATION_POSITIVES or positives == len(holdout_labels):
                continue  # too few examples to calibrate this class: leave it raw
            isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            isotonic.fit(raw[:, column], (holdout_labels == column).astype(np.float64))
            model.calibration[column] = IsotonicCurve(
                np.asarray(isotonic.X_thresholds_, dtype=np.float64), np.asarray(isotonic.y_thresholds_, np.float64)
            )
    return model


def _reference_values(features: FloatArray) -> FloatArray:
    """Training medians per feature (NaN where a feature was never present): the explanation's baseline."""
    reference = np.full(features.shape[1], np.nan)
    present = ~np.isnan(features).all(axis=0)
    if present.any():
        reference[present] = np.nanmedian(features[:, present], axis=0)
    return reference
