"""The diagnostic model: clinical network + parameter draws + compiled engine.

A patient is answered in two engine passes: one for the target, the other
reported variables and the mechanisms (every parameter draw kept, so the
decision layer ranks treatments from the same draws), and one for the
leave-one-out explanation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from npprob._checks import Options, check_parameters
from npprob.diagnosis.heterogeneity import population_draws, population_rng, population_shift
from npprob.diagnosis.neupsig import judged_against_history, neupsig_grade
from npprob.diagnosis.predictive import (
    draw_weights,
    effective_draws,
    weighted_mean,
    weighted_quantiles,
)
from npprob.diagnosis.result import Diagnosis, FindingEffect
from npprob.errors import (
    EvidenceError,
    ModelFileError,
    NetworkError,
    ParameterError,
    ZeroProbabilityEvidenceError,
)
from npprob.inference.engine import Engine
from npprob.io.artifacts import SHIPPED_MODELS, ModelFolder
from npprob.io.findings import decode_codes
from npprob.io.patient_record import SETTING_KEY, PatientRecord
from npprob.io.patients import PatientTable
from npprob.io.resources import clinical_spec, models_dir
from npprob.io.settings import (
    CASE_MIX_VARIABLE,
    care_setting_names,
    care_settings,
    case_mix,
    get_setting,
)
from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.spec import ClinicalSpec

__all__ = [
    "MECHANISMS",
    "DiagnosticModel",
    "TableDiagnosis",
    "diagnose",
    "load_model",
    "setting_of",
]

#: Latent mechanisms reported with every diagnosis.
MECHANISMS = ("peripheral_sensitisation", "ectopic_activity", "central_sensitisation")
#: Pain components reported next to the target: Diagnosis field to variable.
COMPONENTS = {
    "p_mixed": "mixed_pain",
    "p_nociplastic": "nociplastic",
    "p_nociceptive": "nociceptive",
}

#: Patients diagnosed per engine pass in a batch.
BATCH_CHUNK = 256

#: Folder name of the shipped trained model.
DEFAULT_MODEL = SHIPPED_MODELS[0]

#: Draws taken from the specification's prior when no trained model exists.
PRIOR_DRAWS = 1000
PRIOR_SEED = 20261127


@dataclass(frozen=True)
class TableDiagnosis:
    """The answers for a table of patients, bad rows kept apart.

    Attributes
    ----------
    ids : list of str
        Every row's identifier, in file order.
    diagnoses : list of Diagnosis or None
        None for rows listed in ``errors``.
    errors : dict of int to str
        0-based row to what is wrong with it (unreadable, outside the
        diagnosed context, or findings of probability zero).
    """

    ids: list[str]
    diagnoses: list[Diagnosis | None]
    errors: dict[int, str]


@dataclass(frozen=True)
class DiagnosticModel:
    """A clinical network with parameter draws, ready to diagnose.

    Build it with :func:`load_model`.

    Attributes
    ----------
    spec : ClinicalSpec
        The network specification (structure, prior, sources, roles).
    engine : Engine
        Exact inference over the parameter draws.
    name, kind : str
        Which model this is; ``kind`` is ``"prior"`` (draws from the
        specification's Dirichlet prior) or ``"posterior"`` (trained).
    card : dict, optional
        The trained model's card (None for the prior model).
    """

    spec: ClinicalSpec
    engine: Engine
    name: str
    kind: str
    card: dict | None = field(default=None, repr=False, compare=False)
    setting: dict | None = field(default=None, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_draws(
        cls,
        spec: ClinicalSpec,
        draws: Mapping[str, np.ndarray],
        *,
        name: str,
        kind: str,
        card: dict | None = None,
    ) -> DiagnosticModel:
        """A model from CPT draws, each shaped ``(n_draws, *cpt_shape)``."""
        return cls(spec, Engine(spec.network, draws), name, kind, card)

    @property
    def network(self):
        """The clinical network."""
        return self.spec.network

    @property
    def n_draws(self) -> int:
        """Number of parameter draws."""
        return self.engine.n_draws

    def in_setting(self, name: str | None) -> DiagnosticModel:
        """The model with a care setting's case mix as the prior of the patient's condition.

        Only the distribution of the condition (the root ``aetiology``) changes, in
        every draw; a recorded condition therefore gives the same answer in every
        setting, and the setting matters when the condition is not recorded.

        Parameters
        ----------
        name : str or None
            A single-group setting of ``models/cohort_settings.toml``; None keeps the
            model's own distribution (the case mix it was trained on).

        Raises
        ------
        ParameterError
            For an unknown setting (valid names listed) or a study design (a
            setting split into groups with required latent states).
        """
        if name is None:
            return self
        names = care_setting_names(self.network)
        if name not in names and name in care_settings(self.network):
            raise ParameterError(
                f"Setting '{name}' is a study design (groups selected on the truth), not a care "
                f"setting; care settings: {', '.join(names)}.",
                parameter="setting",
            )
        setting = get_setting({n: care_settings(self.network)[n] for n in names}, name)
        # Every condition stays possible (SETTING_FLOOR): a recorded one the setting does
        # not list must not make the record impossible (its prior cancels once recorded).
        weights = case_mix(self.network, setting)
        described = {
            "name": setting.name,
            "description": setting.description,
            "source": setting.source,
            "tag": setting.tag,
        }
        return replace(
            self,
            engine=self.engine.with_root_distribution(CASE_MIX_VARIABLE, weights),
            setting=described,
            _cache={},
        )

    def info(self) -> dict[str, object]:
        """Which model answered.

        ``spec_sha256`` is the digest of the specification text the model was
        trained on (the loaded one for the prior model); ``spec_content_sha256``
        the digest of the content it depends on, which the loaded specification
        matches.
        """
        trained_on = (self.card or {}).get("spec_sha256", self.spec.digest)
        info: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "n_draws": self.n_draws,
            "spec_version": str(self.spec.meta.get("version", "")),
            "spec_sha256": trained_on,
            "spec_content_sha256": self.spec.content_digest,
            "setting": self.setting or self._own_case_mix(),
        }
        diagnostics = (self.card or {}).get("diagnostics") or {}
        if diagnostics.get("passed") is False:
            # Loaded with allow_unconverged: every answer says so.
            info["diagnostics_passed"] = False
        return info

    def _own_case_mix(self) -> dict[str, object]:
        """What the condition's distribution is when no setting is chosen."""
        # A cohort without a data card (a study's own file) records None here.
        cohort_card = (((self.card or {}).get("training_cohort") or {}).get("card")) or {}
        trained = cohort_card.get("setting")
        if trained:
            where = f"the training cohort's case mix ({trained.get('name')})"
        elif self.kind == "prior" or (self.card or {}).get("likelihood") == "evidence":
            # Published statistics are each taken in their own setting, so none of them
            # informs the condition's own distribution: it stays the specification's.
            where = "the specification's prior case mix (chronic pain in the community)"
        else:
            where = "the case mix of the model's training data"
        return {"name": None, "description": where}

    # -- evidence -------------------------------------------------------------------

    def record(self, record: Mapping[str, object] | PatientRecord) -> PatientRecord:
        """A patient record for this model's network (mappings read by the JSON-record rules)."""
        if isinstance(record, PatientRecord):
            if record.network is not self.network and (
                record.network.structure_digest() != self.network.structure_digest()
            ):
                raise EvidenceError("The patient record was made for a different network.")
            return record
        return PatientRecord.from_mapping(self.network, record)

    def evidence(
        self, record: Mapping[str, object] | PatientRecord | EvidenceBatch
    ) -> EvidenceBatch:
        """One patient's findings as a one-row batch, the context observed (see :meth:`with_context`)."""
        batch = record if isinstance(record, EvidenceBatch) else self.record(record).evidence
        return self.with_context(batch)

    def context_problems(self, codes: np.ndarray) -> np.ndarray:
        """Rows whose recorded context contradicts the diagnosed population (0-based)."""
        bad = np.zeros(len(codes), dtype=bool)
        for var in self.network.context:
            column = np.asarray(codes)[:, self.network.index(var.name)]
            bad |= (column >= 0) & (column != var.positive_index)
        return np.flatnonzero(bad)

    def context_message(self) -> str:
        """What a patient's context must be, for messages."""
        listed = " and ".join(f"'{k}' must be '{v}'" for k, v in self.spec.context.items())
        return f"{listed} (or left out): npprob diagnoses only patients in this context"

    def with_context(self, batch: EvidenceBatch) -> EvidenceBatch:
        """The batch with every context variable observed in its positive state.

        Raises
        ------
        EvidenceError
            When a row records a context variable in another state.
        """
        bad = self.context_problems(batch.codes)
        if len(bad):
            first = self.network.context[0].name
            if batch.n_patients > 1:
                where = f" (rows {bad.tolist()[:10]}, 0-based)"
            else:
                given = {
                    v.name: v.states[batch.codes[0, self.network.index(v.name)]]
                    for v in self.network.context
                    if batch.codes[0, self.network.index(v.name)] >= 0
                }
                where = "; got " + ", ".join(f"{k} = {s!r}" for k, s in given.items())
            raise EvidenceError(
                f"{self.context_message()}{where}.", variable=first, row=int(bad[0])
            )
        codes = batch.codes.copy()
        for var in self.network.context:
            codes[:, self.network.index(var.name)] = var.positive_index
        return EvidenceBatch(self.network, codes)

    # -- answers --------------------------------------------------------------------

    def diagnose(
        self,
        record: Mapping[str, object] | PatientRecord | EvidenceBatch,
        *,
        explain: bool = True,
    ) -> Diagnosis:
        """Diagnose one patient.

        Parameters
        ----------
        record : PatientRecord, mapping or EvidenceBatch
            A record, or ``{finding: state}`` (missing or ``None`` means
            unobserved; ``id``, ``comment``, ``notes`` and ``patient_factors``
            are carried along, not used), or a one-row batch.
        explain : bool, default=True
            Rank the findings by how much each moved P(target).

        Returns
        -------
        Diagnosis
            With the posterior draws of P(target) in ``p_neuropathic_draws``.
        """
        if isinstance(record, EvidenceBatch):
            batch, record_id = record, None
        else:
            rec = self.record(record)
            batch, record_id = rec.evidence, rec.id
        if batch.n_patients != 1:
            raise EvidenceError(f"diagnose takes one patient; got {batch.n_patients}.")
        return self.diagnose_batch(batch, explain=explain, ids=[record_id])[0]

    def diagnose_batch(
        self,
        batch: EvidenceBatch,
        *,
        explain: bool = True,
        ids: Sequence[str | None] | None = None,
        on_zero: str = "raise",
    ) -> list[Diagnosis | None]:
        """Diagnose every patient of a batch (engine passes of up to 256 patients).

        Parameters
        ----------
        batch : EvidenceBatch
            The patients' findings; the context variables are set to their
            positive states.
        explain : bool, default=True
            Rank each patient's findings (leave one out, all patients in one pass).
        ids : sequence of str or None, optional
            Identifiers carried into the results.
        on_zero : {"raise", "skip"}, default="raise"
            Findings of probability zero raise
            :class:`~npprob.errors.ZeroProbabilityEvidenceError`, or with
            ``"skip"`` give ``None`` for those patients.

        Returns
        -------
        list of Diagnosis (or None for skipped patients)
        """
        check_parameters({"on_zero": Options(("raise", "skip"))}, {"on_zero": on_zero})
        batch = self.with_context(batch)
        ids = list(ids) if ids is not None else [None] * batch.n_patients
        out: list[Diagnosis | None] = []
        # Chunks bound the memory of (draws x patients x leave-one-out rows).
        for start in range(0, batch.n_patients, BATCH_CHUNK):
            rows = np.arange(start, min(start + BATCH_CHUNK, batch.n_patients))
            out.extend(self._diagnose_chunk(batch.take(rows), explain, ids[start : rows[-1] + 1]))
        zero = [i for i, d in enumerate(out) if d is None]
        if zero and on_zero == "raise":
            raise ZeroProbabilityEvidenceError(
                f"The findings of {len(zero)} patient(s) have probability zero under the model "
                f"(rows {', '.join(map(str, zero[:10]))}; 0-based): contradictory findings.",
                rows=np.array(zero),
            )
        return out

    def diagnose_table(self, table: PatientTable, *, explain: bool = True) -> TableDiagnosis:
        """Diagnose every readable row of a patients table; bad rows are reported, not fatal.

        Parameters
        ----------
        table : PatientTable
            From :func:`~npprob.io.patients.read_patients_csv`.
        explain : bool, default=True

        Returns
        -------
        TableDiagnosis
        """
        # Row numbers count from the file's start; a block's own rows from its first.
        errors = {e.row - table.first_row: e.message for e in table.errors}
        for i in self.context_problems(table.batch.codes):
            errors.setdefault(int(i), self.context_message())
        good = [i for i in range(len(table)) if i not in errors]
        diagnoses: list[Diagnosis | None] = [None] * len(table)
        if good:
            answers = self.diagnose_batch(
                table.batch.take(good), explain=explain, ids=[table.ids[i] for i in good],
                on_zero="skip",
            )  # fmt: skip
            for i, d in zip(good, answers, strict=True):
                if d is None:
                    errors[i] = "the findings have probability zero under the model (contradictory)"
                diagnoses[i] = d
        return TableDiagnosis(list(table.ids), diagnoses, dict(sorted(errors.items())))

    def p_neuropathic(self, batch: EvidenceBatch) -> np.ndarray:
        """P(target | findings, context) under the posterior predictive, per patient.

        The draws weighted by P(findings, context | draw) (see
        :mod:`npprob.diagnosis.predictive`); what :meth:`diagnose` reports.

        Returns
        -------
        ndarray, shape (n_patients,)
            NaN for patients whose findings have probability zero.
        """
        values, weights = self.weighted_draws(batch)
        return weighted_mean(values, weights)

    def p_neuropathic_draws(self, batch: EvidenceBatch) -> np.ndarray:
        """P(target | findings, context) under every parameter draw, per patient.

        The draws do not count equally for a patient: weigh them with
        :meth:`weighted_draws` (or resample them with
        :func:`~npprob.diagnosis.predictive.resample_indices`) before averaging.

        Returns
        -------
        ndarray, shape (n_draws, n_patients)
            NaN for patients whose findings have probability zero.
        """
        return self.weighted_draws(batch)[0]

    def p_neuropathic_interval(self, batch: EvidenceBatch, level: float = 0.95) -> np.ndarray:
        """Equal-tailed credible interval of P(target | findings, context) per patient.

        Returns
        -------
        ndarray, shape (n_patients, 2)
            Weighted quantiles of the per-draw posteriors (see
            :func:`~npprob.diagnosis.predictive.weighted_quantiles`).
        """
        values, weights = self.weighted_draws(batch)
        tail = (1.0 - level) / 2.0
        return weighted_quantiles(values, weights, [tail, 1.0 - tail]).T

    def weighted_draws(self, batch: EvidenceBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw P(target | findings, context) and the draws' predictive weights.

        Returns
        -------
        values, weights : ndarray, shape (n_draws, n_patients)
            ``weights`` from :func:`~npprob.diagnosis.predictive.draw_weights`
            (columns sum to 1; NaN where the findings are impossible).
        """
        batch = self.with_context(batch)
        target = self.spec.target
        values = np.empty((self.n_draws, batch.n_patients))
        log_evidence = np.empty((self.n_draws, batch.n_patients))
        for start in range(0, batch.n_patients, 4096):
            rows = np.arange(start, min(start + 4096, batch.n_patients))
            result = self.engine.query(batch.take(rows), [target.name], on_zero="nan")
            values[:, rows] = result.marginal(target.name)[..., target.positive_index]
            log_evidence[:, rows] = result.log_evidence
        return values, self._draw_weights(log_evidence, batch.codes)

    @property
    def between_population_spread(self) -> float | None:
        """How much the neuropathic share varies between populations, or None.

        The intra-study correlation rho of neuropathic shares (posterior mean)
        that an evidence-synthesis fit learned from studies of the same quantity
        (``likelihood_details.heterogeneity.target`` of its card). None for models
        without it (the prior model, cohort fits, a spread per family).
        """
        card = self.card or {}
        details = card.get("likelihood_details") or {}
        if card.get("likelihood") != "evidence" or details.get("heterogeneity_by") != "kind":
            return None
        rho = (details.get("heterogeneity") or {}).get("target")
        return float(rho) if isinstance(rho, (int, float)) and 0.0 < rho < 1.0 else None

    def prediction_draws(self, values: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
        """Per-draw P(target | findings) in a new population (prediction intervals).

        Each draw's prior odds for the patient's condition are moved to a share
        drawn from the between-population spread the evidence fit learned (see
        :mod:`npprob.diagnosis.heterogeneity`). Weigh them with the same
        predictive weights as ``values``.

        Parameters
        ----------
        values : ndarray, shape (n_draws, n_patients)
            Per-draw P(target | findings, context) of the patients (``weighted_draws``).
        codes : ndarray, shape (n_patients, n_variables)
            The patients' evidence codes (only the recorded condition is used).

        Returns
        -------
        ndarray, shape (n_draws, n_patients), or None
            None when the model has no between-population spread.
        """
        rho = self.between_population_spread
        if rho is None:
            return None
        column = codes[:, self.network.index(CASE_MIX_VARIABLE)]
        conditions, group = np.unique(column, return_inverse=True)
        shift = self._population_shift(rho)
        # One shift per condition and draw (UNOBSERVED: the case mix's share).
        return population_draws(values, shift[:, conditions + 1][:, group.ravel()])

    def _population_shift(self, rho: float) -> np.ndarray:
        """Shifts of log-odds per draw, column 0 for no condition, k + 1 for condition k."""
        if "population_shift" not in self._cache:
            net = self.network
            n_conditions = len(net.variable(CASE_MIX_VARIABLE).states)
            rows = np.full((n_conditions + 1, len(net)), UNOBSERVED, dtype=np.int16)
            rows[1:, net.index(CASE_MIX_VARIABLE)] = np.arange(n_conditions)
            target = self.spec.target
            batch = self.with_context(EvidenceBatch(net, rows))
            result = self.engine.query(batch, [target.name], on_zero="nan")
            mu = result.marginal(target.name)[..., target.positive_index]
            self._cache["population_shift"] = population_shift(mu, rho, population_rng())
        return self._cache["population_shift"]

    def draw_weights(self, log_evidence: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Predictive weights of the draws for patients answered by an engine query (see below)."""
        return self._draw_weights(log_evidence, codes)

    def _draw_weights(self, log_evidence: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Predictive weights of the draws: P(findings | context, condition, draw).

        The model was trained on patients selected for the context (chronic
        pain), with the likelihood of each conditional on it, so a new patient
        weighs a draw by P(findings | context, draw), not P(findings, context |
        draw): an empty record gives equal weights. Where the condition is
        recorded it is conditioned on too, because the case mix belongs to the
        care setting, not to the patient: a recorded condition then gives the
        same answer in every setting.

        Parameters
        ----------
        log_evidence : ndarray, shape (n_draws, n_patients)
            log P(findings, context | draw) from the engine.
        codes : ndarray, shape (n_patients, n_variables)
            The patients' state codes (context set).
        """
        log_base = self._log_base()
        index = np.zeros(len(codes), dtype=np.intp)
        if CASE_MIX_VARIABLE in self.network:
            column = np.asarray(codes)[:, self.network.index(CASE_MIX_VARIABLE)]
            index = np.where(column >= 0, column + 1, 0)
        with np.errstate(invalid="ignore"):
            log_w = np.where(np.isneginf(log_evidence), -np.inf, log_evidence - log_base[:, index])
        return draw_weights(log_w)

    def _log_base(self) -> np.ndarray:
        """log P(context | draw) and log P(context, condition = k | draw) for every k.

        Shape (n_draws, 1 + number of conditions); computed once per engine.
        """
        cached = self._cache.get("log_base")
        if cached is not None and cached[0] is self.engine:
            return cached[1]
        empty = np.full((1, len(self.network)), -1, dtype=np.int16)
        context = self.with_context(EvidenceBatch(self.network, empty)).codes[0]
        rows = [context]
        if CASE_MIX_VARIABLE in self.network:
            j = self.network.index(CASE_MIX_VARIABLE)
            for k in range(self.network.variable(CASE_MIX_VARIABLE).cardinality):
                row = context.copy()
                row[j] = k
                rows.append(row)
        value = self.engine.log_evidence(EvidenceBatch(self.network, np.array(rows)))
        self._cache["log_base"] = (self.engine, value)
        return value

    def p_draws_if_not_target(self, batch: EvidenceBatch, variable: str) -> np.ndarray:
        """P(variable positive | findings, context, target absent) for every draw and patient.

        What treatment ranking needs to split the non-neuropathic effect between
        a nociplastic and a nociceptive component; one engine pass. Draw ``k``
        pairs with draw ``k`` of :meth:`weighted_draws`.

        Returns
        -------
        ndarray, shape (n_draws, n_patients)
            NaN where the findings and an absent target have probability zero.
        """
        batch = self.with_context(batch)
        target = self.spec.target
        codes = batch.codes.copy()
        negative = next(i for i in range(len(target.states)) if i != target.positive_index)
        codes[:, self.network.index(target.name)] = negative
        var = self.network.variable(variable)
        result = self.engine.query(EvidenceBatch(self.network, codes), [variable], on_zero="nan")
        return result.marginal(variable)[..., var.positive_index]

    def _reported(self) -> dict[str, str]:
        """Diagnosis fields and the variables answering them, the target first."""
        return {
            "p_neuropathic": self.spec.target.name,
            **{k: v for k, v in COMPONENTS.items() if v in self.network},
            **{m: m for m in MECHANISMS if m in self.network},
        }

    def _diagnose_chunk(
        self, batch: EvidenceBatch, explain: bool, ids: Sequence[str | None]
    ) -> list[Diagnosis | None]:
        reported = self._reported()
        variables = list(dict.fromkeys(reported.values()))
        result = self.engine.query(batch, variables, on_zero="nan")
        p = {  # (n_draws, n_patients)
            v: result.marginal(v)[..., self.network.variable(v).positive_index] for v in variables
        }
        target = p[reported["p_neuropathic"]]
        ok = ~result.zero_probability
        # The posterior predictive: each draw weighted by P(findings | draw).
        weights = self._draw_weights(result.log_evidence, batch.codes)
        low, high = weighted_quantiles(target, weights, [0.025, 0.975])
        moved = self.prediction_draws(target, batch.codes)
        if moved is not None:
            pred_low, pred_high = weighted_quantiles(moved, weights, [0.025, 0.975])
        means = {v: weighted_mean(p[v], weights) for v in variables}
        n_effective = effective_draws(weights)
        p_full = means[reported["p_neuropathic"]][ok]
        effects = (
            self._explain(batch.codes[ok], p_full) if explain else [[] for _ in range(ok.sum())]
        )
        info = self.info()

        def component(key: str, i: int) -> float:
            return float(means[reported[key]][i]) if key in reported else float("nan")

        out: list[Diagnosis | None] = []
        k = 0
        for i in range(batch.n_patients):
            if not ok[i]:
                out.append(None)
                continue
            findings = decode_codes(self.network, batch.codes[i])
            out.append(
                Diagnosis(
                    p_neuropathic=float(means[reported["p_neuropathic"]][i]),
                    credible_interval=(float(low[i]), float(high[i])),
                    # A network without a component or mechanism reports NaN / omits it.
                    p_mixed=component("p_mixed", i),
                    p_nociplastic=component("p_nociplastic", i),
                    p_nociceptive=component("p_nociceptive", i),
                    mechanisms={m: float(means[m][i]) for m in MECHANISMS if m in means},
                    neupsig=neupsig_grade(findings),
                    explanation=effects[k],
                    findings=findings,
                    model=dict(info),
                    id=ids[i],
                    p_neuropathic_draws=np.ascontiguousarray(target[:, i]),
                    draw_weights=np.ascontiguousarray(weights[:, i]),
                    effective_draws=float(n_effective[i]),
                    prediction_interval=(
                        None if moved is None else (float(pred_low[i]), float(pred_high[i]))
                    ),
                )
            )
            k += 1
        return out

    def _explain(self, codes: np.ndarray, p_full: np.ndarray) -> list[list[FindingEffect]]:
        """Leave-one-out effect of each finding on the predictive P(target).

        The history is left out together with the recorded findings judged
        against it (:func:`~npprob.diagnosis.neupsig.judged_against_history`).

        ``codes`` holds several patients and ``p_full`` their P(target) with
        every finding; all leave-one-out variants go through the engine in one pass.
        """
        context = {self.network.index(v.name) for v in self.network.context}
        target = self.spec.target
        judged = {
            self.network.index(h): [self.network.index(r) for r in rel if r in self.network]
            for h, rel in judged_against_history().items()
            if h in self.network
        }
        rows, owners = [], []
        for i, patient in enumerate(codes):
            observed = [j for j in np.flatnonzero(patient >= 0) if j not in context]
            together = []
            for j in observed:
                # The history goes with the findings read against it; see
                # judged_against_history.
                others = [r for r in judged.get(j, ()) if patient[r] >= 0 and r not in context]
                variant = patient.copy()
                variant[[j, *others]] = -1
                rows.append(variant)
                together.append(tuple(self.network.variables[r].name for r in others))
            owners.append((i, observed, together))
        p = np.empty(0)
        if rows:
            variants = np.array(rows)
            result = self.engine.query(variants, [target.name])
            values = result.marginal(target.name)[..., target.positive_index]
            p = weighted_mean(values, self._draw_weights(result.log_evidence, variants))
        out, start = [], 0
        for i, observed, together in owners:
            full = float(p_full[i])
            effects = []
            for k, j in enumerate(observed):
                var = self.network.variables[j]
                without = float(p[start + k])
                effects.append(
                    FindingEffect(
                        finding=var.name,
                        state=var.states[codes[i, j]],
                        p_without=without,
                        change=full - without,
                        log_odds_change=_logit(full) - _logit(without),
                        removed_with=together[k],
                    )
                )
            effects.sort(key=lambda e: -abs(e.log_odds_change))
            out.append(effects)
            start += len(observed)
        return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-15), 1 - 1e-15)
    return float(np.log(p) - np.log1p(-p))


def load_model(
    name: str | None = None,
    *,
    spec_path: str | os.PathLike[str] | None = None,
    n_draws: int = PRIOR_DRAWS,
    seed: int = PRIOR_SEED,
    allow_unconverged: bool = False,
) -> DiagnosticModel:
    """Load a diagnostic model.

    Parameters
    ----------
    name : str, optional
        ``None`` gives the shipped default (``models/default``, trained) when
        it exists, else the prior model; ``"prior"`` gives draws from the
        specification's Dirichlet prior; any other name is a path to a model
        folder written by ``npprob train``, a folder under ``./models/``, or a
        shipped model (see :meth:`~npprob.io.artifacts.ModelFolder.find`).
    spec_path : path, optional
        A network specification other than the shipped one.
    n_draws : int, default=1000
        Prior draws (prior model only).
    seed : int, default=20261127
        Seed of the prior draws (the same seed gives the same model).
    allow_unconverged : bool, default=False
        Load a model whose card says its sampler diagnostics failed (written by
        ``npprob train --exploratory`` or ``--min-ess``); refused otherwise.

    Returns
    -------
    DiagnosticModel

    Raises
    ------
    ModelFileError
        When a model folder is missing, fails its checksums, cannot be read,
        or was trained on a different network specification.
    """
    spec = clinical_spec(spec_path)
    if name is None:
        shipped = ModelFolder(models_dir() / DEFAULT_MODEL)
        if not shipped.is_model():
            name = "prior"
    else:
        shipped = None
    if name == "prior":
        draws = spec.prior_draws(n_draws, seed)
        return DiagnosticModel.from_draws(spec, draws, name="prior", kind="prior")
    folder = shipped if shipped is not None else ModelFolder.find(name)
    draws, card = folder.load(spec)
    diagnostics = card.get("diagnostics") or {}
    if diagnostics.get("passed") is False and not allow_unconverged:
        problems = (
            "; ".join(str(p).rstrip(".") for p in diagnostics.get("problems") or [])
            or "see its card"
        )
        raise ModelFileError(
            f"Model '{folder.path}' did not pass its sampler diagnostics ({problems}): it was "
            "written as an exploratory fit, and its probabilities may not be reliable. Use "
            "--allow-unconverged to diagnose with it anyway."
        )
    try:
        return DiagnosticModel.from_draws(
            spec, draws, name=str(card.get("name", folder.name)), kind="posterior", card=card
        )
    except NetworkError as exc:
        raise ModelFileError(f"Model '{folder.path}' holds invalid probabilities: {exc}") from None


_DEFAULT: list[DiagnosticModel] = []


def diagnose(
    record: PatientRecord | Mapping[str, object],
    model: DiagnosticModel | None = None,
    *,
    explain: bool = True,
    setting: str | None = None,
) -> Diagnosis:
    """P(neuropathic) with its credible interval and posterior draws, the NeuPSIG grade and why.

    Parameters
    ----------
    record : PatientRecord or mapping
        One patient (see :class:`~npprob.io.patient_record.PatientRecord`;
        a mapping is read by the JSON-record rules).
    model : DiagnosticModel, optional
        Default: the shipped default model, loaded once per process.
    explain : bool, default=True
        Rank the findings by how much each moved the probability.
    setting : str, optional
        A care setting (see :meth:`DiagnosticModel.in_setting`); default: the
        model's if it is in one, else the record's ``"setting"``, else the
        model's own case mix.

    Returns
    -------
    Diagnosis

    Examples
    --------
    >>> import npprob
    >>> d = npprob.diagnose({"aetiology": "herpes_zoster", "distribution_plausible": "yes"})
    >>> 0 < d.credible_interval[0] < d.p_neuropathic < d.credible_interval[1] < 1
    True
    >>> d.p_neuropathic_draws.shape == (npprob.load_model().n_draws,)
    True
    """
    if model is None:
        if not _DEFAULT:
            _DEFAULT.append(load_model())
        model = _DEFAULT[0]
    rec = model.record(record)
    # An explicit setting, else the model's if it was put in one, else the record's.
    chosen = setting or (None if model.setting else setting_of(rec))
    return model.in_setting(chosen).diagnose(rec, explain=explain)


def setting_of(record: PatientRecord) -> str | None:
    """The care setting a record names, checked to be text (None when it names none)."""
    value = record.setting
    if value is None or isinstance(value, str):
        return value
    raise EvidenceError(
        f"'{SETTING_KEY}' must be the name of a care setting (text); got {type(value).__name__}.",
        variable=SETTING_KEY,
    )
