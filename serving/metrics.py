"""Prometheus metrics of one app, in its own registry (no process-global collectors).

Requests by route template and status, latency, the score distribution, decisions by
basis (selection rate = selected / all; also a gauge over the selection window), the
threshold, micro-batch sizes, decision-log commit times, reloads, and the execution
provider and model as labelled gauges.
"""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SCORE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10_000)
PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


class Metrics:
    """The app's collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "targeting_http_requests", "HTTP requests.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "targeting_http_request_duration_seconds",
            "Time to answer a request.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scores = Histogram(
            "targeting_score", "Scores of declarations.", buckets=SCORE_BUCKETS, registry=r
        )
        self.decisions = Counter(
            "targeting_decisions",
            "Decisions by basis (model, random, none).",
            ["basis"],
            registry=r,
        )
        self.selection_rate = Gauge(
            "targeting_selection_rate", "Share selected over the selection window.", registry=r
        )
        self.threshold = Gauge(
            "targeting_selection_threshold", "Score threshold of the model arm.", registry=r
        )
        self.invalid = Counter(
            "targeting_invalid_declarations", "Batch items refused by validation.", registry=r
        )
        self.batch_rows = Histogram(
            "targeting_microbatch_rows",
            "Rows scored per micro-batch.",
            buckets=ROW_BUCKETS,
            registry=r,
        )
        self.commits = Histogram(
            "targeting_decision_log_commit_seconds",
            "Time to commit a micro-batch's decisions to the log, fsync included (answers"
            " wait for it: its tail is the disk's).",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.folds = Histogram(
            "targeting_live_state_fold_seconds",
            "Time to fold the decision log's and control store's news into the live feature"
            " state (the batch after a due fold waits for it).",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.folded = Counter(
            "targeting_live_state_folded",
            "Declarations and control results folded into the live feature state.",
            ["kind"],
            registry=r,
        )
        self.reloads = Counter(
            "targeting_model_reloads", "Model reloads by outcome.", ["outcome"], registry=r
        )
        self.reason_fallbacks = Counter(
            "targeting_reason_text_fallbacks",
            "Batches whose reason texts fell back to codes.",
            registry=r,
        )
        self.provider = Gauge(
            "targeting_execution_provider",
            "1 for the ONNX Runtime provider in use.",
            ["provider"],
            registry=r,
        )
        self.model = Gauge(
            "targeting_model_info",
            "1 for the model in service.",
            ["name", "version", "alias"],
            registry=r,
        )
        self.archived = Counter(
            "targeting_decisions_archived",
            "Decisions moved from the decision log to the Parquet archive (serving.retention).",
            registry=r,
        )

        # Drift of the latest decisions against the model's reference (serving.drift_monitor),
        # set on a schedule; the feature label set is the top few features, cleared each time.
        self.drift_psi = Gauge(
            "targeting_drift_psi",
            "PSI of the most shifted features, latest decisions against the model's reference.",
            ["feature"],
            registry=r,
        )
        self.drift_psi_max = Gauge(
            "targeting_drift_feature_psi_max", "Largest feature PSI.", registry=r
        )
        self.drift_score_psi = Gauge(
            "targeting_drift_score_psi", "PSI of the score distribution.", registry=r
        )
        self.drift_unseen = Gauge(
            "targeting_drift_unseen_rate",
            "Share of party ids / codes (HS6, origin) absent from the training data.",
            ["kind"],
            registry=r,
        )
        self.drift_rows = Gauge(
            "targeting_drift_window_rows",
            "Decisions the drift gauges were computed on.",
            registry=r,
        )
        for gauge in (self.drift_psi_max, self.drift_score_psi):
            gauge.set(math.nan)  # not computed yet (0 would read as "no drift")

    def drift_figures(
        self,
        rows: int,
        score_psi: float,
        feature_psi: dict[str, float],
        psi_max: float,
        unseen: dict[str, float],
    ) -> None:
        """Set the drift gauges (the feature series replaced by ``feature_psi``'s)."""
        self.drift_rows.set(rows)
        self.drift_score_psi.set(score_psi)
        self.drift_psi_max.set(psi_max)
        self.drift_psi.clear()
        for feature, value in feature_psi.items():
            self.drift_psi.labels(feature).set(value)
        for kind, value in unseen.items():
            self.drift_unseen.labels(kind).set(value)

    def serving(self, name: str, version: str, alias: str | None, provider: str) -> None:
        """Point the model and provider gauges at the model now in service."""
        self.model.clear()
        self.model.labels(name, version, alias or "").set(1)
        for p in {*PROVIDERS, provider}:
            self.provider.labels(p).set(1 if p == provider else 0)

    def selection(self, threshold: float, rate: float) -> None:
        self.threshold.set(threshold)
        if not math.isnan(rate):
            self.selection_rate.set(rate)

    def render(self) -> bytes:
        return generate_latest(self.registry)
