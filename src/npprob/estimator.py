"""A scikit-learn classifier over the clinical network.

:class:`NpprobClassifier` takes a table of clinical findings (one column per
observable network variable, cells holding state names) and a class label, and
returns P(neuropathic | findings, chronic pain) under the posterior
predictive (the draws weighted by P(findings | draw)): the same number
``npprob diagnose`` reports, without any
threshold warping, so ``CalibrationDisplay`` and ``cross_val_score`` see the
model's own probabilities.

Fitting learns the network's conditional probability tables from the table by
NUTS on the marginal likelihood (missing findings and the latent mechanisms are
summed out exactly), the same path as ``npprob train --likelihood
pymc-marginal`` (the label is the truth) or ``latent-class`` (the label is a
clinician's noisy call). ``method="pretrained"`` skips learning and uses a
trained model folder, which is how a shipped model is evaluated with
scikit-learn's tools.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from npprob._extras import require

# scikit-learn is not in the core install: one clear ImportError instead of sklearn's own.
require("evaluate", "npprob.NpprobClassifier", modules=("sklearn",))

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets, unique_labels  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

from npprob._checks import (  # noqa: E402
    Interval,
    Options,
    check_parameters,
    format_choices,
    unknown_name_hint,
)
from npprob.errors import EvidenceError  # noqa: E402

__all__ = ["EXPECTED_FAILED_CHECKS", "METHODS", "NpprobClassifier", "load_cohort_frame"]

#: What ``fit`` learns from: the label as the truth, as a noisy clinician call,
#: or nothing (a trained model folder is used as it is).
METHODS = ("marginal", "latent-class", "pretrained")


_NUMERIC = (
    "fits random real-valued features; npprob's features are clinical findings (state names, "
    "booleans or integer state codes) matched to network variables, so it refuses them with "
    "an error naming the column"
)
_BINARY = (
    "fits a multiclass target; npprob answers one binary question (neuropathic or not) and "
    "refuses more than two classes with an error (its features are also random reals: "
    + _NUMERIC
    + ")"
)
_LABELS = (
    "uses class labels such as 1/2 or 'one'/'two', which do not say which class is "
    "neuropathic; npprob asks for positive_class instead of guessing (and the features are "
    "random reals)"
)

#: Checks of :func:`sklearn.utils.estimator_checks.check_estimator` that fail
#: by design, each with the reason. The others (cloning, parameters, repr,
#: tags, unfitted errors, empty, complex, sparse and 1-d input, one-class and
#: continuous targets, y=None and NaN targets) pass.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    **{
        name: "The check " + _NUMERIC + "."
        for name in (
            "check_classifiers_train",
            "check_estimators_pickle",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_n_features_in",
            "check_pipeline_consistency",
            "check_positive_only_tag_during_fit",
        )
    },
    **{
        name: "The check " + _BINARY + "."
        for name in (
            "check_dict_unchanged",
            "check_dont_overwrite_parameters",
            "check_dtype_object",
            "check_estimators_fit_returns_self",
            "check_estimators_overwrite_params",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit2d_predict1d",
            "check_fit_score_takes_y",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_n_features_in_after_fitting",
            "check_readonly_memmap_input",
            "check_supervised_y_2d",
        )
    },
    **{
        name: "The check " + _LABELS + "."
        for name in (
            "check_classifier_data_not_an_array",
            "check_classifiers_classes",
            "check_estimators_dtypes",
        )
    },
}


class NpprobClassifier(ClassifierMixin, BaseEstimator):
    """P(neuropathic | findings) from the clinical Bayesian network, with credible intervals.

    Parameters
    ----------
    method : {"marginal", "latent-class", "pretrained"}, default="marginal"
        ``"marginal"``: ``y`` is the true class, the network's ``neuropathic``
        variable. ``"latent-class"``: ``y`` is a clinician's label, modelled as
        a noisy child of ``neuropathic`` with the published agreement as its
        prior. ``"pretrained"``: nothing is learned; ``fit`` checks the data and
        stores the classes, and predictions come from ``model``.
    model : str or path, optional
        With ``"pretrained"``: a trained model folder (default: the shipped
        model). Otherwise unused.
    findings : sequence of str, optional
        The network variable of each column when ``X`` is an array without
        column names; default: every observable variable, in network order.
        DataFrame columns are matched by name.
    positive_class : optional
        The label meaning neuropathic. Default: inferred when the two classes
        are ``0/1``, ``False/True``, ``"absent"/"present"`` or
        ``"nociceptive"/"neuropathic"``.
    selected_on_chronic_pain : bool, default=True
        Everyone in the training data was sampled because they have chronic
        pain (as in every clinic cohort); the likelihood models that selection.
    draws, tune, chains : int, default=500, 500, 2
        NUTS draws and tuning steps per chain, and the number of chains.
    target_accept : float, default=0.9
    threshold : float, default=0.5
        ``predict`` calls neuropathic when the probability reaches it.
        ``predict_proba`` is never affected.
    random_state : int or None, default=0
        Seed of the sampler (the same seed gives the same probabilities); None
        draws a fresh seed, recorded in ``seed_``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had column names.
    findings_ : tuple of str
        The network variable of each column.
    draws_ : dict of str to ndarray or None
        Learned CPT draws, ``(n_draws, *cpt_shape)`` (None for ``"pretrained"``).
    diagnostics_ : dict or None
        r-hat, ESS and divergences of the fit (None for ``"pretrained"``).
    seed_ : int or None
        The seed the fit used (None for ``"pretrained"``).
    model_ : DiagnosticModel
        The compiled model that answers (rebuilt when the estimator is unpickled;
        unpickling fails if a pretrained folder has changed since ``fit``).

    Examples
    --------
    >>> import pandas as pd
    >>> from npprob.estimator import NpprobClassifier
    >>> X = pd.DataFrame({"aetiology": ["herpes_zoster", "osteoarthritis"],
    ...                   "brush_allodynia": ["present", None]})
    >>> clf = NpprobClassifier(method="pretrained").fit(X, [1, 0])
    >>> p = clf.predict_proba(X)[:, 1]
    >>> bool(p[0] > p[1])
    True
    """

    def __init__(
        self,
        method: str = "marginal",
        *,
        model: str | os.PathLike[str] | None = None,
        findings: Sequence[str] | None = None,
        positive_class=None,
        selected_on_chronic_pain: bool = True,
        draws: int = 500,
        tune: int = 500,
        chains: int = 2,
        target_accept: float = 0.9,
        threshold: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.model = model
        self.findings = findings
        self.positive_class = positive_class
        self.selected_on_chronic_pain = selected_on_chronic_pain
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.threshold = threshold
        self.random_state = random_state

    #: The rule of every parameter, checked in ``fit`` (and the threshold in ``predict``).
    _parameter_constraints: ClassVar[dict] = {
        "method": Options(METHODS),
        "draws": Interval(int, 1),
        "tune": Interval(int, 0),
        "chains": Interval(int, 1),
        "target_accept": Interval(float, 0.0, 1.0, closed="neither"),
        "threshold": Interval(float, 0.0, 1.0),
        "random_state": Interval(int, 0, none=True),
        "selected_on_chronic_pain": Options((False, True)),
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    # -- fitting --------------------------------------------------------------

    def fit(self, X, y) -> NpprobClassifier:
        """Learn the network's tables from findings ``X`` and labels ``y``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_patients, n_findings)
            State names, booleans (two-state findings), integer state codes,
            or missing (NaN/None) for findings not recorded.
        y : array-like of shape (n_patients,)
            Two classes; see ``positive_class``.

        Returns
        -------
        self
        """
        self._check_params()
        # Generic checks of X and y first, then the mapping of columns to findings.
        values, y = validate_data(
            self, X, y, dtype=None, ensure_all_finite=False, multi_output=False, y_numeric=False
        )
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) != 2:
            n = len(self.classes_)
            raise ValueError(
                "NpprobClassifier needs exactly two classes in y (neuropathic or not); got "
                f"{n} class{'' if n == 1 else 'es'}: {self.classes_.tolist()}."
            )
        positive = self._positive_index()
        label = (y == self.classes_[positive]).astype(np.int64)
        values = np.asarray(values, dtype=object)
        names = getattr(self, "feature_names_in_", None)
        self.findings_ = _check_findings(self.findings if names is None else names, values.shape[1])
        spec = _load_spec()
        codes = self._encode(spec.network, values)
        if self.method == "pretrained":
            self.draws_, self.diagnostics_, self.seed_ = None, None, None
        else:
            self.draws_, self.diagnostics_ = self._learn(spec, codes, label)
        # Built now (a pretrained folder's checksums and specification are checked here),
        # so prediction never changes the estimator.
        self.model_ = self._build_model()
        self.model_info_ = self.model_.info()
        return self

    def _learn(self, spec, codes: np.ndarray, label: np.ndarray):
        from npprob.io.cohort import CohortData
        from npprob.learning import TrainConfig, train
        from npprob.learning.problem import default_conditioned

        marginal = self.method == "marginal"
        # None asks for a fresh seed, as in scikit-learn; it is recorded so the fit can be redone.
        self.seed_ = (
            int(np.random.SeedSequence().generate_state(1)[0])
            if self.random_state is None
            else int(self.random_state)
        )
        selection = spec.context if self.selected_on_chronic_pain else None
        config = TrainConfig(
            name="NpprobClassifier", label="truth" if marginal else "noisy",
            draws=self.draws * self.chains, chain_draws=self.draws, tune=self.tune,
            chains=self.chains, target_accept=self.target_accept, seed=self.seed_,
            selected=self.selected_on_chronic_pain,
            # A table may leave the history out for some patients: condition only on the
            # root findings every row records, and sum the others out.
            conditioned=default_conditioned(spec.network, codes, selection),
        )  # fmt: skip
        trained = train(
            spec,
            CohortData(spec.network, codes, label=label),
            likelihood="pymc-marginal" if marginal else "latent-class",
            config=config,
        )
        if not trained.ok:
            warnings.warn(
                "NpprobClassifier: the sampler's diagnostics failed ("
                + "; ".join(trained.problems)
                + "); increase draws/tune or check the data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return trained.draws, trained.card["diagnostics"]

    # -- prediction -----------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the posterior predictive P(neuropathic | findings, chronic pain).

        Returns
        -------
        ndarray of shape (n_patients, 2)
            Columns in the order of ``classes_``.
        """
        p = self._predictive(X)[0]
        out = np.empty((len(p), 2))
        positive = self._positive_index()
        out[:, positive] = p
        out[:, 1 - positive] = 1.0 - p
        return out

    def predict(self, X) -> np.ndarray:
        """The positive class where P(neuropathic) >= ``threshold``, else the other."""
        check_parameters(self._parameter_constraints, {"threshold": self.threshold})
        p = self.predict_proba(X)[:, self._positive_index()]
        positive = self._positive_index()
        return self.classes_[np.where(p >= self.threshold, positive, 1 - positive)]

    def predict_interval(self, X, level: float = 0.9) -> np.ndarray:
        """Equal-tailed credible interval of P(neuropathic) per patient.

        Parameters
        ----------
        level : float
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        ndarray of shape (n_patients, 2)
            Lower and upper bounds, probability scale.
        """
        check_parameters({"level": Interval(float, 0.0, 1.0, closed="neither")}, {"level": level})
        from npprob.diagnosis.predictive import weighted_quantiles

        _, values, weights = self._predictive(X)
        tail = (1.0 - level) / 2.0
        return weighted_quantiles(values, weights, [tail, 1.0 - tail]).T

    def p_neuropathic_draws(self, X) -> np.ndarray:
        """Equally weighted draws of P(neuropathic | findings) per patient.

        The parameter draws resampled (systematically, without randomness) in
        proportion to P(findings | draw), so that their mean is
        :meth:`predict_proba` up to a resampling error of at most the draws' total
        variation (in draw order) divided by the number of draws.

        Returns
        -------
        ndarray of shape (n_draws, n_patients)
        """
        from npprob.diagnosis.predictive import resample_indices

        _, draws, weights = self._predictive(X)
        return np.take_along_axis(draws, resample_indices(weights), axis=0)

    def _predictive(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The predictive P(neuropathic) per patient, with the weighted draws behind it."""
        check_is_fitted(self, "classes_")
        values = self._validated(X)
        model = self.model_
        from npprob.diagnosis.predictive import weighted_mean
        from npprob.network import EvidenceBatch

        codes = self._encode(model.network, values)
        draws, weights = model.weighted_draws(EvidenceBatch(model.network, codes))
        _check_possible(np.isnan(weights).any(axis=0))
        return weighted_mean(draws, weights), draws, weights

    # -- helpers --------------------------------------------------------------

    def _build_model(self):
        if self.method == "pretrained":
            from npprob.diagnosis import load_model

            model = load_model(None if self.model is None else str(self.model))
        else:
            from npprob.diagnosis import DiagnosticModel

            model = DiagnosticModel.from_draws(
                _load_spec(), self.draws_, name="NpprobClassifier", kind="posterior"
            )
        return model

    def __getstate__(self):
        # The compiled engine is plain data plus numba plans: rebuilt on unpickling.
        state = dict(self.__dict__)
        state.pop("model_", None)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        if "model_info_" in state:
            self.model_ = self._build_model()
            if self.model_.info() != self.model_info_:
                from npprob.errors import ModelFileError

                raise ModelFileError(
                    f"The model this estimator was fitted with ({self.model_info_}) is not the "
                    f"one found now ({self.model_.info()}); refit it."
                )

    def _check_params(self) -> None:
        check_parameters(self._parameter_constraints, self.get_params(deep=False))

    def _positive_index(self) -> int:
        classes = list(self.classes_)
        if self.positive_class is not None:
            if self.positive_class not in classes:
                raise ValueError(
                    f"positive_class {self.positive_class!r} is not one of the classes {classes}."
                )
            return classes.index(self.positive_class)
        target = _load_spec().target
        negative_state = (
            target.states[1 - target.positive_index] if target.cardinality == 2 else None
        )
        pairs = ((0, 1), (False, True), (negative_state, target.positive),
                 ("nociceptive", target.name))  # fmt: skip
        for negative, positive in pairs:
            if set(classes) == {negative, positive} and len(classes) == 2:
                return classes.index(positive)
        raise ValueError(
            f"Cannot tell which of the classes {classes} means neuropathic; set positive_class."
        )

    def _validated(self, X) -> np.ndarray:
        """X as a 2-d object array, checked against the columns seen in ``fit``."""
        values = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        return np.asarray(values, dtype=object)

    def _encode(self, net, values: np.ndarray) -> np.ndarray:
        return encode_findings(net, self.findings_, values)


def _check_possible(impossible: np.ndarray) -> None:
    bad = np.flatnonzero(impossible)
    if len(bad):
        raise EvidenceError(
            f"Rows {bad.tolist()[:10]} hold findings that are impossible together "
            "under the model (probability zero).",
            row=int(bad[0]),
        )


def _load_spec():
    from npprob.io.resources import clinical_spec

    return clinical_spec()


def _check_findings(names, n_columns: int) -> tuple[str, ...]:
    net = _load_spec().network
    allowed = [v.name for v in net.observable]
    if names is None:
        names = allowed
    names = tuple(str(n) for n in names)
    if len(names) != n_columns:
        raise EvidenceError(
            f"X has n_features={n_columns} columns but {len(names)} finding names; name the columns "
            "(a DataFrame) or pass findings=[...] with one network variable per column."
        )
    for name in names:
        if name not in allowed:
            raise EvidenceError(
                f"Unknown finding {name!r} in X's columns{unknown_name_hint(name, allowed)}; "
                f"expected observable network variables: {format_choices(allowed)}.",
                variable=name,
            )
    if len(set(names)) != len(names):
        raise EvidenceError("X names a finding twice.")
    return names


def encode_findings(net, findings: Sequence[str], values: np.ndarray) -> np.ndarray:
    """State codes (-1 = not recorded) of a findings table (:func:`npprob.io.findings.encode_table`).

    Parameters
    ----------
    net : Network
    findings : sequence of str
        The network variable of each column.
    values : ndarray of object, shape (n_patients, len(findings))
        State names, booleans (two-state variables), integer state codes, or
        missing (None, NaN).

    Returns
    -------
    ndarray of int16, shape (n_patients, n_variables)

    Raises
    ------
    EvidenceError
        For a value that is none of these, naming the column, row and value.
    """
    from npprob.io.findings import encode_table

    codes, problems = encode_table(net, findings, values, medium="values", integer_codes=True)
    if problems:
        first = problems[0]
        raise EvidenceError(f"Row {first.row}: {first.message}.", variable=first.variable,
                            row=first.row)  # fmt: skip
    return codes


def load_cohort_frame(path: str | os.PathLike[str], target: str = "truth"):
    """A synthetic cohort's findings table and one label, ready for :class:`NpprobClassifier`.

    Parameters
    ----------
    path : str or path
        A cohort folder written by ``npprob simulate`` or its ``cohort.csv``.
    target : {"truth", "label"}
        ``"truth"``: the generator's truth of the network's target; ``"label"``:
        the recorded 0/1 label (rows without one are dropped).

    Returns
    -------
    X : DataFrame
        The network's observable findings present in the file, missing as NaN.
    y : ndarray of int
        1 = the target (neuropathic) is present.
    """
    from npprob.io.cohort import TRUTH_PREFIX, label_column, read_cohort_data

    check_parameters({"target": Options(("truth", "label"))}, {"target": target})
    net = _load_spec().network
    data = read_cohort_data(path, net, truth=target == "truth", label=target == "label")
    y = data.truth if target == "truth" else data.label
    if y is None:
        column = TRUTH_PREFIX + net.target.name if target == "truth" else label_column(net)
        raise EvidenceError(f"Cohort {data.path} has no column {column!r}.")
    keep = y >= 0
    frame = data.findings_frame()
    return frame[keep].reset_index(drop=True), np.asarray(y)[keep].astype(np.int64)
