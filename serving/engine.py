"""The decision engine: what the micro-batch worker runs on each batch.

For a batch of score jobs (``process``): take the serving model once, score all rows
together, turn reasons into API dicts, decide selection row by row in arrival order.
Then (``commit``, in a thread) append the decision records of the whole batch in one
transaction; the batcher hands back the outcomes only after that (so every answered
decision is on disk). The selector belongs to the model it was started with: a new
model starts a new rolling window from its own warm-up threshold (a previous model's
scores say nothing of the new one's scale), or from the scores of that model already in
the log; with ``sync_s`` > 0 the window also takes in, every ``sync_s`` seconds, the
scores other worker processes logged (``serving.window_tail``), so all processes keep
one threshold.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from features.inputs import Inputs
from features.live import STALE_AFTER_DAYS, rows_past
from serving.decision_log import DecisionLog, DecisionRecord
from serving.ens_status import EnsStatus, ens_status
from serving.ids import IdGenerator
from serving.live import state_end_of
from serving.metrics import Metrics
from serving.model_holder import LoadedModel, ModelHolder
from serving.reason_rows import ExplainRows, reason_rows
from serving.selection import Decision, Policy, RandomArm, Selector
from serving.window_tail import WindowTail

logger = logging.getLogger("serving.engine")


class ScoringError(RuntimeError):
    """The model produced something that is not a probability."""


@dataclass(frozen=True)
class ScoreJob:
    """Declarations of one request: canonical records, their stored form and hashes."""

    records: list[dict[str, Any]]  # as Scorer.score_records takes them
    stored: list[bytes]  # the declarations as JSON (serving.schemas.declaration_json)
    hashes: list[str]
    request_id: str
    reasons: bool


@dataclass(frozen=True)
class Outcome:
    """The decision on one declaration: its log record, and what the answer shows."""

    record: DecisionRecord
    show_reasons: bool
    model: dict[str, Any]  # name, version, alias
    ens_status: EnsStatus = "not_filed"  # see serving.ens_status


def request_hash(stored: bytes) -> str:
    """sha256 of a declaration's stored JSON: the request hash."""
    return hashlib.sha256(stored).hexdigest()


class DecisionEngine:
    """Scores, selects and logs micro-batches (called by one worker thread at a time)."""

    def __init__(
        self,
        holder: ModelHolder,
        policy: Policy,
        log: DecisionLog,
        metrics: Metrics,
        arm: RandomArm,
        reasons_k: int = 3,
        explainer: ExplainRows | None = None,
        inline_rows: int = 0,
        sync_s: float = 0.0,
    ) -> None:
        self.inline_rows = inline_rows
        self.holder = holder
        self.policy = policy
        self.log = log
        self.metrics = metrics
        self._arm = arm
        self.reasons_k = reasons_k
        self.explainer = explainer
        self._ids = IdGenerator()
        self._tail = WindowTail(log.db.path, self._ids.prefix, sync_s) if sync_s > 0 else None
        self._selector: Selector | None = None
        self._selector_of = ""
        self._warned_stale: set[str] = set()  # load ids already warned of a frozen state

    def light(self, jobs: Sequence[ScoreJob]) -> bool:
        """Whether a batch is small enough to run on the event loop (see batching); a
        batch that folds the live state first never is."""
        live = self.holder.current.live
        if live is not None and live.due():
            return False
        return sum(len(job.records) for job in jobs) <= self.inline_rows

    def fold(self, model: LoadedModel) -> None:
        """Fold what the log and the control store gained into the model's live state,
        when due (on the batch path: never beside a scoring call of the same model)."""
        live = model.live
        if live is None or not live.due():
            return
        report = live.fold()
        self.metrics.folds.observe(report.seconds)
        self.metrics.folded.labels("declarations").inc(report.declarations)
        self.metrics.folded.labels("controls").inc(report.controls)

    def selector(self, model: LoadedModel) -> Selector:
        """The selector of ``model`` (a fresh window after a model change)."""
        if self._selector is None or self._selector_of != model.load_id:
            start = model.warmup_threshold(self.policy.model_rate)
            self._selector = Selector(self.policy, start, self._arm)
            self._selector_of = model.load_id
            if self._tail is not None:
                self._tail.prime(self._selector, model.ref.name, model.ref.version)
        elif self._tail is not None and self._tail.due():
            self._tail.sync(self._selector, model.ref.name, model.ref.version)
        return self._selector

    def peek_selector(self, model: LoadedModel) -> Selector:
        """The selector of ``model`` without changing the engine (for reading its state)."""
        current = self._selector
        if current is not None and self._selector_of == model.load_id:
            return current
        start = model.warmup_threshold(self.policy.model_rate)
        return Selector(self.policy, start, self._arm)

    def process(self, jobs: Sequence[ScoreJob]) -> list[list[Outcome]]:
        """Outcomes per job, not yet logged (``commit`` does that)."""
        model = self.holder.current
        self.fold(model)
        scorer = model.scorer
        records = [r for job in jobs for r in job.records]
        want_reasons = any(job.reasons for job in jobs)
        batch = scorer.score_records(records, reasons=want_reasons)
        if model.live is None and model.load_id not in self._warned_stale:
            self._warn_if_stale(model, batch.inputs)
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
        ids = batch.declaration_id.tolist()
        decisions = selector.decide(batch.score, ids)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        ref = model.ref.as_dict()
        shap = batch.contributions  # computed when a job of the batch asked for reasons
        scores = batch.score.tolist()
        revenue = batch.expected_revenue.tolist()
        bands = batch.band.tolist()
        risks = batch.risk_type.tolist()
        out: list[list[Outcome]] = []
        i = 0
        for job in jobs:
            answers = []
            for stored, digest in zip(job.stored, job.hashes, strict=True):
                d = decisions[i]
                record = DecisionRecord(
                    decision_id=self._ids.next(),
                    declaration_id=str(ids[i]),
                    decided_at=now,
                    request_id=job.request_id,
                    request_hash=digest,
                    model_name=model.ref.name,
                    model_version=model.ref.version,
                    model_alias=model.ref.alias,
                    feature_spec_hash=model.feature_spec_hash,
                    score=scores[i],
                    expected_revenue=revenue[i],
                    risk_band=str(bands[i]),
                    risk_type=str(risks[i]),
                    selected=d.selected,
                    basis=d.basis,
                    propensity=d.propensity,
                    random_probability=d.random_probability,
                    threshold=d.threshold,
                    reasons=reasons[i] if reasons is not None else None,
                    features=batch.features[i],
                    declaration=stored,
                    contributions=None if shap is None else shap[i],
                    shap_base=None if shap is None else scorer.shap_base,
                )
                answers.append(Outcome(record, job.reasons, ref, ens_status(records[i])))
                i += 1
            out.append(answers)
        if model.live is not None and batch.inputs is not None:
            model.live.remember([o.record.decision_id for a in out for o in a], batch.inputs)
        self._observe(scores, decisions, selector)
        return out

    def _warn_if_stale(self, model: LoadedModel, inputs: Inputs | None) -> None:
        """Once per model: rows far past a state that nothing folds into."""
        if inputs is None or inputs.n == 0:
            return
        past = rows_past(state_end_of(model.scorer.manifest), inputs.time)
        if past > STALE_AFTER_DAYS:
            self._warned_stale.add(model.load_id)
            logger.warning(
                "declarations lie %.0f days past the model's feature state and folding is off"
                " (TARGETING_FOLD_INTERVAL_S=0): activity counts read as if parties had gone"
                " quiet",
                past,
            )

    def commit(self, results: Sequence[list[Outcome]]) -> None:
        """Append the decisions of a processed batch to the log, durably (blocking I/O:
        the batcher runs it in a thread before any answer leaves)."""
        began = time.perf_counter()
        self.log.append([o.record for outcomes in results for o in outcomes])
        self.metrics.commits.observe(time.perf_counter() - began)

    def close(self) -> None:
        """Close the window tail's connection (the log is closed by its owner)."""
        if self._tail is not None:
            self._tail.close()

    def _observe(self, scores: list[float], decisions: list[Decision], selector: Selector) -> None:
        for s in scores:
            self.metrics.scores.observe(s)
        for basis in ("model", "random", "none"):
            count = sum(d.basis == basis for d in decisions)
            if count:
                self.metrics.decisions.labels(basis).inc(count)
        self.metrics.selection(selector.threshold, selector.selection_rate)
