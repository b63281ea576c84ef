"""The diagnostic model: clinical network + parameter draws + compiled engine."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npprob.diagnosis.neupsig import neupsig_grade
from npprob.diagnosis.result import Diagnosis, FindingEffect
from npprob.errors import (
    EvidenceError,
    ModelFileError,
    NetworkError,
    ZeroProbabilityEvidenceError,
)
from npprob.inference.engine import Engine
from npprob.io.artifacts import CHECKSUMS, read_model_dir
from npprob.io.patients import METADATA_KEYS, PATIENT_FACTORS_KEY
from npprob.io.resources import clinical_spec_path, models_dir
from npprob.network.evidence import EvidenceBatch
from npprob.network.spec import ClinicalSpec, load_spec

__all__ = ["MECHANISMS", "DiagnosticModel", "load_model"]

#: Latent mechanisms reported with every diagnosis.
MECHANISMS = ("peripheral_sensitisation", "ectopic_activity", "central_sensitisation")
_TARGETS = ("neuropathic", "mixed_pain", "nociplastic", "nociceptive", *MECHANISMS)

#: Observed for every patient: the population diagnosed is people in chronic pain.
CONTEXT = "chronic_pain"
PRESENT = "present"

#: Patients diagnosed per engine pass in a batch.
BATCH_CHUNK = 256

#: Folder name of the shipped trained model.
DEFAULT_MODEL = "default"

#: Draws taken from the specification's prior when no trained model exists.
PRIOR_DRAWS = 1000
PRIOR_SEED = 20261127


@dataclass(frozen=True)
class DiagnosticModel:
    """A clinical network with parameter draws, ready to diagnose.

    Build it with :func:`load_model`.

    Attributes
    ----------
    spec : ClinicalSpec
        The network specification (structure, prior, sources).
    engine : Engine
        Exact inference over the parameter draws.
    name, kind : str
        Which model this is; ``kind`` is ``"prior"`` (draws from the
        specification's Dirichlet prior) or ``"posterior"`` (trained).
    """

    spec: ClinicalSpec
    engine: Engine
    name: str
    kind: str

    @classmethod
    def from_draws(
        cls, spec: ClinicalSpec, draws: Mapping[str, np.ndarray], *, name: str, kind: str
    ) -> DiagnosticModel:
        """A model from CPT draws, each shaped ``(n_draws, *cpt_shape)``."""
        return cls(spec, Engine(spec.network, draws), name, kind)

    @property
    def network(self):
        """The clinical network."""
        return self.spec.network

    @property
    def n_draws(self) -> int:
        """Number of parameter draws."""
        return self.engine.n_draws

    def info(self) -> dict[str, object]:
        """Which model answered."""
        return {
            "name": self.name,
            "kind": self.kind,
            "n_draws": self.n_draws,
            "spec_version": str(self.spec.meta.get("version", "")),
            "spec_sha256": self.spec.digest,
        }

    def evidence(self, record: Mapping[str, object] | EvidenceBatch) -> EvidenceBatch:
        """One patient's findings as a one-row batch (see :meth:`Engine.evidence`)."""
        if isinstance(record, EvidenceBatch):
            return record
        # Patient factors belong to the record but inform treatment, not diagnosis.
        findings = {
            k: v for k, v in record.items() if k not in (*METADATA_KEYS, PATIENT_FACTORS_KEY)
        }
        if findings.get(CONTEXT, PRESENT) != PRESENT:
            raise EvidenceError(
                f"npprob diagnoses patients with chronic pain: '{CONTEXT}' must be "
                f"'{PRESENT}' (or left out); got {findings[CONTEXT]!r}.",
                variable=CONTEXT,
            )
        findings[CONTEXT] = PRESENT
        batch = self.engine.evidence(findings)
        observed = np.flatnonzero(batch.codes[0] >= 0)
        for j in observed:
            var = self.network.variables[j]
            if var.role in ("latent", "derived"):
                raise EvidenceError(
                    f"'{var.name}' is a {var.role} variable and cannot be observed.",
                    variable=var.name,
                )
        return batch

    def diagnose(
        self, record: Mapping[str, object] | EvidenceBatch, *, explain: bool = True
    ) -> Diagnosis:
        """Diagnose one patient.

        Parameters
        ----------
        record : mapping or EvidenceBatch
            ``{finding: state}``; missing or ``None`` means unobserved. Keys
            ``id`` and ``comment`` are carried along, not used.
        explain : bool, default=True
            Rank the findings by how much each moved P(neuropathic).

        Returns
        -------
        Diagnosis
        """
        batch = self.evidence(record)
        if batch.n_patients != 1:
            raise EvidenceError(f"diagnose takes one patient; got {batch.n_patients}.")
        record_id = record.get("id") if isinstance(record, Mapping) else None
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
            The patients' findings; ``chronic_pain`` is set present.
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
        if on_zero not in ("raise", "skip"):
            raise ValueError(f"on_zero must be 'raise' or 'skip'; got {on_zero!r}.")
        batch = self._with_context(batch)
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

    def p_neuropathic_draws(self, batch: EvidenceBatch) -> np.ndarray:
        """P(neuropathic | findings, chronic pain) for every draw and patient.

        Returns
        -------
        ndarray, shape (n_draws, n_patients)
            NaN for patients whose findings have probability zero.
        """
        batch = self._with_context(batch)
        out = np.empty((self.n_draws, batch.n_patients))
        for start in range(0, batch.n_patients, 4096):
            rows = np.arange(start, min(start + 4096, batch.n_patients))
            result = self.engine.query(batch.take(rows), ["neuropathic"], on_zero="nan")
            out[:, rows] = result.marginal("neuropathic")[..., 1]
        return out

    def _diagnose_chunk(
        self, batch: EvidenceBatch, explain: bool, ids: Sequence[str | None]
    ) -> list[Diagnosis | None]:
        result = self.engine.query(batch, list(_TARGETS), on_zero="nan")
        p = {t: result.marginal(t)[..., 1] for t in _TARGETS}  # (n_draws, n_patients)
        ok = ~result.zero_probability
        with np.errstate(invalid="ignore"):
            low, high = np.percentile(p["neuropathic"], [2.5, 97.5], axis=0)
            means = {t: p[t].mean(axis=0) for t in _TARGETS}
        effects = self._explain(batch.codes[ok]) if explain else [[] for _ in range(ok.sum())]
        names = self.network.names
        out: list[Diagnosis | None] = []
        k = 0
        for i in range(batch.n_patients):
            if not ok[i]:
                out.append(None)
                continue
            findings = {
                names[j]: self.network.variables[j].states[c]
                for j, c in enumerate(batch.codes[i])
                if c >= 0
            }
            out.append(
                Diagnosis(
                    p_neuropathic=float(means["neuropathic"][i]),
                    credible_interval=(float(low[i]), float(high[i])),
                    p_mixed=float(means["mixed_pain"][i]),
                    p_nociplastic=float(means["nociplastic"][i]),
                    p_nociceptive=float(means["nociceptive"][i]),
                    mechanisms={m: float(means[m][i]) for m in MECHANISMS},
                    neupsig=neupsig_grade(findings),
                    explanation=effects[k],
                    findings=findings,
                    model=self.info(),
                    id=ids[i],
                )
            )
            k += 1
        return out

    def _with_context(self, batch: EvidenceBatch) -> EvidenceBatch:
        """The batch with chronic pain observed present (rows saying absent are refused)."""
        j = self.network.index(CONTEXT)
        present = self.network.variables[j].states.index(PRESENT)
        column = batch.codes[:, j]
        bad = np.flatnonzero((column >= 0) & (column != present))
        if len(bad):
            raise EvidenceError(
                f"'{CONTEXT}' must be '{PRESENT}' for every patient (rows {bad.tolist()[:10]}).",
                variable=CONTEXT,
                row=int(bad[0]),
            )
        codes = batch.codes.copy()
        codes[:, j] = present
        return EvidenceBatch(self.network, codes)

    def _explain(self, codes: np.ndarray) -> list[list[FindingEffect]]:
        """Leave-one-out effect of each finding on the posterior mean of P(neuropathic).

        ``codes`` holds several patients; all their leave-one-out variants go
        through the engine in one pass.
        """
        context = self.network.index(CONTEXT)
        rows, owners = [], []
        for i, patient in enumerate(codes):
            observed = np.flatnonzero(patient >= 0)
            observed = observed[observed != context]
            rows.append(patient)
            for j in observed:
                variant = patient.copy()
                variant[j] = -1
                rows.append(variant)
            owners.append((i, observed))
        if not rows:
            return []
        p = self.engine.query(np.array(rows), ["neuropathic"]).marginal("neuropathic")
        p = p[..., 1].mean(axis=0)
        out, start = [], 0
        for i, observed in owners:
            p_full = float(p[start])
            effects = []
            for k, j in enumerate(observed):
                var = self.network.variables[j]
                without = float(p[start + 1 + k])
                effects.append(
                    FindingEffect(
                        finding=var.name,
                        state=var.states[codes[i, j]],
                        p_without=without,
                        change=p_full - without,
                        log_odds_change=_logit(p_full) - _logit(without),
                    )
                )
            effects.sort(key=lambda e: -abs(e.log_odds_change))
            out.append(effects)
            start += 1 + len(observed)
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
) -> DiagnosticModel:
    """Load a diagnostic model.

    Parameters
    ----------
    name : str, optional
        ``None`` gives the shipped default (``models/default``, trained) when
        it exists, else the prior model; ``"prior"`` gives draws from the
        specification's Dirichlet prior; any other name is a folder under
        ``models/`` or a path to a model folder written by ``npprob train``.
    spec_path : path, optional
        A network specification other than the shipped one.
    n_draws : int, default=1000
        Prior draws (prior model only).
    seed : int, default=20261127
        Seed of the prior draws (the same seed gives the same model).

    Returns
    -------
    DiagnosticModel

    Raises
    ------
    ModelFileError
        When a model folder is missing, fails its checksums, cannot be read,
        or was trained on a different network specification.
    """
    spec = load_spec(Path(spec_path) if spec_path is not None else clinical_spec_path())
    if name is None:
        name = DEFAULT_MODEL if (models_dir() / DEFAULT_MODEL / CHECKSUMS).is_file() else "prior"
    if name == "prior":
        draws = spec.prior_draws(n_draws, seed)
        return DiagnosticModel.from_draws(spec, draws, name="prior", kind="prior")
    folder = Path(name) if ("/" in name or Path(name).is_dir()) else models_dir() / name
    if not folder.is_dir():
        available = sorted(p.name for p in models_dir().iterdir() if (p / CHECKSUMS).is_file())
        raise ModelFileError(
            f"Unknown model '{name}'; available: {', '.join(['prior', *available])}."
        )
    arrays, card = read_model_dir(folder)
    if card.get("spec_sha256") != spec.digest:
        raise ModelFileError(
            f"Model '{folder}' was trained on a different network specification "
            f"(spec SHA-256 {str(card.get('spec_sha256'))[:12]}..., current {spec.digest[:12]}...); "
            "retrain it with npprob train."
        )
    draws = {}
    for var in spec.network.names:
        if var not in arrays:
            raise ModelFileError(f"Model '{folder}' has no draws for '{var}'.")
        arr = arrays[var]
        if arr.ndim != len(spec.network.cpt_shape(var)) + 1 or arr.shape[
            1:
        ] != spec.network.cpt_shape(var):
            raise ModelFileError(f"Model '{folder}': draws of '{var}' have shape {arr.shape}.")
        draws[var] = arr
    try:
        model = DiagnosticModel.from_draws(
            spec, draws, name=str(card.get("name", folder.name)), kind="posterior"
        )
    except NetworkError as exc:
        raise ModelFileError(f"Model '{folder}' holds invalid probabilities: {exc}") from None
    return model
