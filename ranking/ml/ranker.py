"""The tabular ranker: a histogram gradient boosting classifier over the decision classes, calibrated.

Training is time-ordered: the oldest (1 - calibration_share) of the labelled events fit the trees; the
newest share is held out and split in time into two halves. The older half fits the calibration: a
scale and a bias per class on the trees' log-odds (``LogitCalibration``), a smooth map that
keeps every distinction the trees make (the step isotonic maps it replaces sent 65 % of the
probabilities to exactly 0 or 1). The newer half gives the split-conformal scores of
``ranking.ml.conformal``. Calibrating on later events than the trees saw is what a deployed model
meets: tomorrow's events, not a shuffled sample of yesterday's.

Probabilities are kept as log-probabilities (``log_proba``), so that nothing downstream (importance,
explanations) saturates at 0 or 1. A model may carry a generic, location-independent model
(``generic``): its probabilities are pooled with the local ones, the local weight growing with the
number of local labels (cold start, docs/ranking.md).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING
from ranking.ml.false_evidence import CONSENSUS_NAME, PRIOR_NAME
from ranking.ml.tree_inference import estimator_predict_proba

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ESTIMATORS = ("hist_gradient_boosting", "random_forest", "logistic_regression")
LOGIT_BOUND = 30.0
MIN_CALIBRATION_POSITIVES = 3
# Cold start: the local model's weight is n / (n + GENERIC_HALF_WEIGHT_LABELS) for n local labels.
GENERIC_HALF_WEIGHT_LABELS = 300
# The label-free prior P(false) (ranking.ml.false_evidence) and the model's P(false) weigh equally at this many
# false labels; with none the prior alone says how likely an event is not to exist (day one of a deployment).
FALSE_PRIOR_HALF_WEIGHT_LABELS = 50
# Up to this many rows the flat NumPy tree walk beats scikit-learn's per-tree calls; above, scikit-learn wins.
FLAT_WALK_MAX_ROWS = 64


@dataclass(frozen=True)
class LogitCalibration:
    """Calibrated log-odds = raw log-odds x scale + bias, one scale and one bias per trained class
    (vector scaling): a smooth, strictly monotonic map per class, so events the trees tell apart stay apart."""

    scale: FloatArray
    bias: FloatArray

    def apply(self, logits: FloatArray) -> FloatArray:
        return np.asarray(logits * self.scale + self.bias, dtype=np.float64)


# Pulls of the fitted log-scales and biases towards the identity map: a class with few calibration examples
# keeps its raw log-odds rather than a scale near 0 (which would flatten its probabilities into one level).
SCALE_PULL = 0.002
BIAS_PULL = 1e-3


def logit_calibration_fit(logits: FloatArray, targets: IntArray) -> LogitCalibration:
    """Fit scales and biases by minimum negative log-likelihood with small pulls towards the identity.

    logits: shape (n, k) raw log-odds of the k trained classes; targets: shape (n,), column indices.
    """
    n, k = logits.shape

    def loss(parameters: FloatArray) -> float:
        log_scale, bias = parameters[:k], parameters[k:]
        log_p = log_softmax(logits * np.exp(log_scale) + bias, axis=1)
        penalty = SCALE_PULL * (log_scale**2).sum() + BIAS_PULL * (bias**2).sum()
        return float(-log_p[np.arange(n), targets].mean() + penalty)

    bounds = [(-3.0, 1.0)] * k + [(-10.0, 10.0)] * k
    fitted = minimize(loss, np.zeros(2 * k), method="L-BFGS-B", bounds=bounds)
    return LogitCalibration(np.exp(fitted.x[:k]), np.asarray(fitted.x[k:], dtype=np.float64))


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
        raw = self.raw_logits(features)
        if raw.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        raw -= raw.max(axis=1, keepdims=True)
        exponentials = np.exp(raw)
        return np.asarray(exponentials / exponentials.sum(axis=1, keepdims=True), dtype=np.float64)

    def raw_logits(self, features: FloatArray) -> FloatArray:
        """The trees' summed leaf values plus baseline, shape (n, 1) for two classes, else (n, classes)."""
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
        return raw


@dataclass
class RankerModel:
    """A trained ranker: the estimator, its calibration, and what it needs to explain itself.

    ``log_proba`` / ``predict_proba`` take a feature matrix of shape (n, len(feature_names)) and return
    shape (n, len(DECISION_CLASSES)): classes the training data lacked get probability 0 (log -inf).
    ``conformal_scores`` are the nonconformity scores (1 - P(true class)) of the newest held-out labels,
    sorted, per true class (ranking.ml.conformal). ``generic`` is a location-independent model pooled in while
    ``local_labels`` is small (cold start).
    """

    estimator_name: str
    estimator: Any
    feature_names: tuple[str, ...]
    feature_version: str
    trained_classes: tuple[int, ...]
    used_columns: tuple[int, ...]
    calibration: LogitCalibration | None = None
    reference_values: FloatArray = field(default_factory=lambda: np.empty(0))
    flat_trees: FlatTrees | None = None
    conformal_scores: dict[int, FloatArray] = field(default_factory=dict)
    magnitude_quantiles: dict[str, float] = field(default_factory=dict)
    generic: "RankerModel | None" = None
    local_labels: int = 0
    false_labels: int = 0

    def raw_logits(self, features: FloatArray) -> FloatArray:
        """Uncalibrated log-odds of the trained classes, shape (n, len(trained_classes))."""
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected features of shape (n, {len(self.feature_names)}), got {features.shape}")
        k = len(self.trained_classes)
        if features.shape[0] == 0:
            return np.zeros((0, k))
        used = features[:, list(self.used_columns)]
        if self.estimator_name == "hist_gradient_boosting":
            small = self.flat_trees is not None and features.shape[0] <= FLAT_WALK_MAX_ROWS
            # Log-odds as log-probabilities (normalised per row): the per-class calibration scales are not
            # invariant to a shift of a row, so both paths must hand it the same normalisation.
            if small:
                raw = np.asarray(self.flat_trees.raw_logits(used), dtype=np.float64)  # type: ignore[union-attr]
                raw = np.column_stack([np.zeros(len(raw)), raw[:, 0]]) if raw.shape[1] == 1 and k == 2 else raw
                return np.asarray(log_softmax(raw, axis=1), dtype=np.float64)
            # Larger batches: compiled trees, threads suited to the batch and the process (tree_inference.py).
            proba = estimator_predict_proba(self.estimator, used)
            return np.asarray(np.log(np.clip(proba, 1e-300, 1.0)), dtype=np.float64)
        proba = np.asarray(self.estimator.predict_proba(used), dtype=np.float64)
        return np.asarray(np.log(np.clip(proba, 1e-12, 1.0)), dtype=np.float64)

    def local_log_proba(self, features: FloatArray) -> FloatArray:
        logits = self.raw_logits(features)
        if self.calibration is not None:
            logits = self.calibration.apply(logits)
        result = np.full((features.shape[0], len(DECISION_CLASSES)), -np.inf)
        result[:, list(self.trained_classes)] = log_softmax(logits, axis=1) if len(logits) else logits
        return result

    def generic_weight(self) -> float:
        """Weight of the generic model in the pooled probabilities (0 without one)."""
        if self.generic is None:
            return 0.0
        return GENERIC_HALF_WEIGHT_LABELS / (GENERIC_HALF_WEIGHT_LABELS + self.local_labels)

    def log_proba(self, features: FloatArray) -> FloatArray:
        """Calibrated log-probabilities, shape (n, len(DECISION_CLASSES)); -inf for untrained classes.

        P(not existing) joins the label-free prior where the event has evidence for it (``false_prior``)."""
        return self.false_prior(features, self.pooled_log_proba(features))

    def false_prior_weight(self) -> float:
        """Weight of the model's own P(false) against the label-free prior: k / (k + 50) for k false labels."""
        return self.false_labels / (self.false_labels + FALSE_PRIOR_HALF_WEIGHT_LABELS)

    def false_prior(self, features: FloatArray, log_proba: FloatArray) -> FloatArray:
        """Join the model's P(false) with the label-free prior of the evidence features on the log-odds scale:

            logit P(false) = w logit P_model(false) + (1 - w) logit P_prior(false),   w = false_prior_weight()

        and share P(real) = 1 - P(false) among the other classes as the model does. An event with no evidence (no
        waveforms, no picks: prior NaN), or a model without the prior feature, keeps the model's probabilities.
        With no false labels (w = 0) the prior alone gives P(false), so a new deployment's queue can already
        sink and hide events that show no onset anywhere; each false label moves the weight to the model. Only
        events with waveform evidence take the prior (``CONSENSUS_NAME`` measured)."""
        if PRIOR_NAME not in self.feature_names or not len(log_proba):
            return log_proba
        prior = features[:, self.feature_names.index(PRIOR_NAME)]
        rows = np.isfinite(prior)
        if CONSENSUS_NAME in self.feature_names:
            # Only a prior that rests on waveforms is a probability (docs/false_events.md): from picks alone it
            # gives real earthquakes about 0.5 and stays a feature for the trees to weigh once labels exist.
            rows &= np.isfinite(features[:, self.feature_names.index(CONSENSUS_NAME)])
        if not rows.any():
            return log_proba
        false = DECISION_CLASSES.index(NOT_EXISTING)
        real = [c for c in range(len(DECISION_CLASSES)) if c != false]
        weight = self.false_prior_weight()
        model_false = np.clip(log_proba[rows, false], -LOGIT_BOUND, -1e-12)
        prior_false = np.clip(prior[rows], 1e-12, 1.0 - 1e-12)
        logit = (1.0 - weight) * (np.log(prior_false) - np.log1p(-prior_false))
        if weight > 0.0:
            logit = logit + weight * (model_false - np.log(-np.expm1(model_false)))
        logit = np.clip(logit, -LOGIT_BOUND, LOGIT_BOUND)
        result = log_proba.copy()
        log_false, log_real = -np.logaddexp(0.0, -logit), -np.logaddexp(0.0, logit)
        # P(c | real) from the model; where it is sure the event is false (every real class underflows to 0),
        # it says nothing about the real classes: share evenly among those it was trained on.
        real_log = log_proba[rows][:, real]
        total = logsumexp(real_log, axis=1, keepdims=True)
        trained_real = np.isin(real, self.trained_classes)
        even = np.where(trained_real, -np.log(max(int(trained_real.sum()), 1)), -np.inf)
        with np.errstate(invalid="ignore"):
            conditional = np.where(np.isfinite(total), real_log - total, even[None, :])
        block = result[rows]
        block[:, real] = conditional + log_real[:, None]
        block[:, false] = log_false
        result[rows] = block
        return result

    def pooled_log_proba(self, features: FloatArray) -> FloatArray:
        """The local model's log-probabilities pooled with the generic model's (cold start), before the prior."""
        local = self.local_log_proba(features)
        weight = self.generic_weight()
        if self.generic is None or weight == 0.0:
            return local
        generic = self.generic.pooled_log_proba(features)
        # The generic model speaks only about the classes it was trained on. A class only the local labels hold
        # (typically not_existing: analyst rejections and synthetic_false events are local) keeps the local
        # probability, and the pooling shares out the rest: p(c) = (1 - w) p_loc(c) + w (1 - p_loc(U)) p_gen(c | K)
        # for the classes K it knows, p(u) = p_loc(u) for the others U; the result still sums to 1.
        unknown = sorted(set(self.trained_classes) - set(self.generic.trained_classes))
        with np.errstate(divide="ignore", invalid="ignore"):
            if not unknown:
                return np.asarray(np.logaddexp(np.log1p(-weight) + local, np.log(weight) + generic), dtype=np.float64)
            local_p, generic_p = np.exp(local), np.exp(generic)
            known = [c for c in range(len(DECISION_CLASSES)) if c not in unknown]
            local_unknown = local_p[:, unknown].sum(axis=1, keepdims=True)
            generic_known = np.clip(generic_p[:, known].sum(axis=1, keepdims=True), 1e-300, None)
            pooled = local_p.copy()
            pooled[:, known] = (1.0 - weight) * local_p[:, known] + weight * (1.0 - local_unknown) * (
                generic_p[:, known] / generic_known
            )
            return np.asarray(np.log(pooled), dtype=np.float64)

    def predict_proba(self, features: FloatArray) -> FloatArray:
        return np.asarray(np.exp(self.log_proba(features)), dtype=np.float64)

    def raw_proba(self, features: FloatArray) -> FloatArray:
        """The trees' uncalibrated probabilities (local model only), shape (n, len(DECISION_CLASSES))."""
        result = np.zeros((features.shape[0], len(DECISION_CLASSES)))
        if features.shape[0]:
            result[:, list(self.trained_classes)] = np.exp(log_softmax(self.raw_logits(features), axis=1))
        return result


def importance(probabilities: FloatArray, weights: Mapping[str, float]) -> FloatArray:
    """Expected class value per event: sum over DECISION_CLASSES of weight x probability, shape (n,).

    This is one term of the queue's importance (ranking.ml.importance), not the importance itself."""
    vector = np.array([weights.get(name, 0.0) for name in DECISION_CLASSES], dtype=np.float64)
    return np.asarray(probabilities @ vector, dtype=np.float64)


def make_estimator(name: str, *, random_state: int = 0) -> Any:
    """A fresh, unfitted classifier of one of the ESTIMATORS families (NaN-tolerant)."""
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.1,
            max_leaf_nodes=31,
            min_samples_leaf=20,
            l2_regularization=0.1,  # a class with a handful of labels otherwise gets log-odds in the thousands
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
    excluded_features: Sequence[str] = (),
) -> RankerModel:
    """Fit a ranker on labelled events.

    features: shape (n, F) in ``feature_names`` order, NaN for missing; labels: shape (n,), indices
    into DECISION_CLASSES; times: shape (n,), POSIX seconds, used only to order the split.
    ``excluded_features`` are left out of the model (ablation, the generic model).
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
    excluded = {feature_names.index(name) for name in excluded_features if name in feature_names}
    # A feature no training event has (no gazetteer, no waveforms yet) carries nothing to learn: leave it out.
    present = ~np.isnan(features[fit_rows]).all(axis=0)
    used_columns = tuple(int(c) for c in np.flatnonzero(present) if int(c) not in excluded)
    estimator = make_estimator(estimator_name, random_state=random_state)
    if estimator_name == "hist_gradient_boosting":
        # 20 events per leaf suits thousands of labels; a first few dozen (a new network, its first rejections)
        # could then not be split at all, and every event would get the class shares of the training set.
        estimator.set_params(min_samples_leaf=int(np.clip(split // 10, 3, 20)))
    estimator.fit(features[fit_rows][:, list(used_columns)], labels[fit_rows])
    trained = tuple(int(value) for value in estimator.classes_)
    magnitudes = features[:, list(feature_names).index("magnitude")] if "magnitude" in feature_names else None
    known = magnitudes[np.isfinite(magnitudes)] if magnitudes is not None else np.empty(0)
    model = RankerModel(
        estimator_name=estimator_name,
        estimator=estimator,
        feature_names=tuple(feature_names),
        feature_version=feature_version,
        trained_classes=trained,
        used_columns=used_columns,
        reference_values=_reference_values(features[fit_rows]),
        flat_trees=FlatTrees.from_estimator(estimator) if estimator_name == "hist_gradient_boosting" else None,
        magnitude_quantiles=(
            {"median": float(np.median(known)), "q999": float(np.quantile(known, 0.999))} if known.size else {}
        ),
        local_labels=len(labels),
        false_labels=int((labels == DECISION_CLASSES.index(NOT_EXISTING)).sum()),
    )
    # The held-out newest labels: the older half calibrates, the newer half gives the conformal scores.
    middle = split + (len(labels) - split) // 2
    calibration_labels = labels[split:middle]
    column_of = {cls: column for column, cls in enumerate(trained)}
    known_rows = np.array([label in column_of for label in calibration_labels], dtype=bool)
    if known_rows.sum() >= MIN_CALIBRATION_POSITIVES and len(np.unique(calibration_labels[known_rows])) >= 2:
        logits = model.raw_logits(features[split:middle][known_rows])
        targets = np.array([column_of[label] for label in calibration_labels[known_rows]], dtype=np.int64)
        model.calibration = logit_calibration_fit(logits, targets)
    if middle < len(labels):
        from ranking.ml.conformal import nonconformity

        newest = labels[middle:]
        scores = nonconformity(model.local_log_proba(features[middle:]), newest)
        model.conformal_scores = {int(c): np.sort(scores[newest == c]) for c in np.unique(newest)}
    return model


def _reference_values(features: FloatArray) -> FloatArray:
    """Training medians per feature (NaN where a feature was never present): the explanation's baseline."""
    reference = np.full(features.shape[1], np.nan)
    present = ~np.isnan(features).all(axis=0)
    if present.any():
        reference[present] = np.nanmedian(features[:, present], axis=0)
    return reference
