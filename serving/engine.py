"""The decision engine: what the micro-batch worker runs on each batch, in its thread.

For a batch of score jobs: take the serving model once, score all rows together,
turn reasons into API dicts, decide selection row by row in arrival order, commit the
decision records of the whole batch in one transaction, and only then hand back the
outcomes (so every answered decision is on disk). The selector belongs to the model
it was started with: a new model starts a new rolling window from its own warm-up
threshold (a previous model's scores say nothing of the new one's scale).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from serving.decision_log import DecisionLog, DecisionRecord
from serving.ids import IdGenerator
from serving.metrics import Metrics
from serving.model_holder import LoadedModel, ModelHolder
from serving.reason_rows import ExplainRows, reason_rows
from serving.selection import Decision, Policy, Selector


class ScoringError(RuntimeError):
    """The model produced something that is not a probability."""


@dataclass(frozen=True)
class ScoreJob:
    """Declarations of one request: canonical records, their stored form and hashes."""

    records: list[dict[str, Any]]  # as Scorer.score_records takes them
    stored: list[dict[str, Any]]  # JSON-ready canonical declarations, for the log
    hashes: list[str]
    request_id: str
    reasons: bool


@dataclass(frozen=True)
class Outcome:
    """The decision on one declaration, as answered."""

    decision_id: str
    declaration_id: str
    score: float
    expected_revenue: float
    risk_band: str
    risk_type: str
    decision: Decision
    reasons: list[dict[str, Any]] | None
    model: dict[str, Any]


def request_hash(stored: dict[str, Any]) -> str:
    """sha256 of a declaration's canonical JSON (keys sorted): the request hash."""
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class DecisionEngine:
    """Scores, selects and logs micro-batches (called by one worker thread at a time)."""

    def __init__(
        self,
        holder: ModelHolder,
        policy: Policy,
        log: DecisionLog,
        metrics: Metrics,
        rng: np.random.Generator,
        reasons_k: int = 3,
        explainer: ExplainRows | None = None,
    ) -> None:
        self.holder = holder
        self.policy = policy
        self.log = log
        self.metrics = metrics
        self._rng = rng
        self.reasons_k = reasons_k
        self.explainer = explainer
        self._ids = IdGenerator()
        self._selector: Selector | None = None
        self._selector_of = ""

    def selector(self, model: LoadedModel) -> Selector:
        """The selector of ``model`` (a fresh window after a model change)."""
        if self._selector is None or self._selector_of != model.load_id:
            start = model.warmup_threshold(self.policy.model_rate)
            self._selector = Selector(self.policy, start, self._rng)
            self._selector_of = model.load_id
        return self._selector

    def peek_selector(self, model: LoadedModel) -> Selector:
        """The selector of ``model`` without changing the engine (for reading its state)."""
        current = self._selector
        if current is not None and self._selector_of == model.load_id:
            return current
        start = model.warmup_threshold(self.policy.model_rate)
        return Selector(self.policy, start, np.random.default_rng(0))

    def process(self, jobs: Sequence[ScoreJob]) -> list[list[Outcome]]:
        """Outcomes per job, once the batch's decisions are committed."""
        model = self.holder.current
        scorer = model.scorer
        records = [r for job in jobs for r in job.records]
        want_reasons = any(job.reasons for job in jobs)
        batch = scorer.score_records(records, reasons=want_reasons)
        if not (np.isfinite(batch.score).all() and np.isfinite(batch.expected_revenue).all()):
            raise ScoringError("the model returned a non-finite score or expected revenue")
        reasons = (
            reason_rows(
                scorer, batch, self.reasons_k, self.explainer, self.metrics.reason_fallbacks.inc
            )
            if want_reasons
            else None
        )
        selector = self.selector(model)
        decisions = selector.decide(batch.score)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        ref = model.ref.as_dict()
        logged: list[DecisionRecord] = []
        out: list[list[Outcome]] = []
        i = 0
        for job in jobs:
            answers = []
            for stored, digest in zip(job.stored, job.hashes, strict=True):
                decision = decisions[i]
                why = reasons[i] if reasons is not None else None
                record = DecisionRecord(
                    decision_id=self._ids.next(),
                    declaration_id=str(batch.declaration_id[i]),
                    decided_at=now,
                    request_id=job.request_id,
                    request_hash=digest,
                    model_name=model.ref.name,
                    model_version=model.ref.version,
                    model_alias=model.ref.alias,
                    feature_spec_hash=model.feature_spec_hash,
                    score=float(batch.score[i]),
                    expected_revenue=float(batch.expected_revenue[i]),
                    risk_band=str(batch.band[i]),
                    risk_type=str(batch.risk_type[i]),
                    selected=decision.selected,
                    basis=decision.basis,
                    propensity=decision.propensity,
                    random_probability=decision.random_probability,
                    threshold=decision.threshold,
                    reasons=why,
                    features=batch.features[i],
                    declaration=stored,
                )
                logged.append(record)
                answers.append(
                    Outcome(
                        decision_id=record.decision_id,
                        declaration_id=record.declaration_id,
                        score=record.score,
                        expected_revenue=record.expected_revenue,
                        risk_band=record.risk_band,
                        risk_type=record.risk_type,
                        decision=decision,
                        reasons=why if job.reasons else None,
                        model=ref,
                    )
                )
                i += 1
            out.append(answers)
        self.log.append(logged)  # durable before any answer leaves
        self._observe(batch.score, decisions, selector)
        return out

    def _observe(self, scores: np.ndarray, decisions: list[Decision], selector: Selector) -> None:
        for s in scores.tolist():
            self.metrics.scores.observe(s)
        for basis in ("model", "random", "none"):
            count = sum(d.basis == basis for d in decisions)
            if count:
                self.metrics.decisions.labels(basis).inc(count)
        self.metrics.selection(selector.threshold, selector.selection_rate)
