"""Scoring with a model bundle: the one code path behind ``targeting score`` and the API.

Features come from the live feature state (``features.live``: the bundle's fitted state,
with what was scored and controlled since folded in; the bundle's own state when none
is given), the score from the ONNX scorer (CUDA when available, else CPU), reasons from LightGBM's
TreeSHAP contributions grouped into reason codes.
"""

from __future__ import annotations

import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.inputs import Inputs, inputs_from_frames, inputs_from_records
from features.state_io import load_state
from graph.pipeline_blocks import all_blocks
from models.bundle import (
    ENCODER_DIR,
    FEATURES_DIR,
    SCORER_CPU,
    SCORER_GPU,
    TREES_TEXT,
    BundleError,
    BundleInfo,
    read_bundle,
)
from models.encoding import CategoryEncoder
from models.reasons import Reason, top_reasons
from models.runtime import OnnxScorer
from serving.ens_status import frame_statuses

logger = logging.getLogger("serving.scoring")
SINGLE_THREAD_SHAP_ROWS = 256  # up to this size, TreeSHAP runs on LightGBM threads of one


class TreeShap:
    """TreeSHAP contributions of a booster (``pred_contrib``), without the bias column.

    LightGBM's OpenMP pool costs milliseconds to wake on busy cores, more than a few
    rows' work; so batches up to ``SINGLE_THREAD_SHAP_ROWS`` are split over the cores
    with Python threads, each predicting on one LightGBM thread (the call releases the
    GIL). Rows are independent: the split changes nothing but the time.
    """

    def __init__(self, booster: lgb.Booster, threads: int | None = None) -> None:
        self.booster = booster
        self.threads = threads or os.cpu_count() or 1
        self._pool = (
            ThreadPoolExecutor(self.threads - 1, thread_name_prefix="treeshap")
            if self.threads > 1
            else None
        )

    def _one_thread(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x, pred_contrib=True, num_threads=1)[:, :-1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n > SINGLE_THREAD_SHAP_ROWS:
            return self.booster.predict(x, pred_contrib=True)[:, :-1]
        parts = min(self.threads, n)
        if parts < 2 or self._pool is None:
            return self._one_thread(x)
        bounds = np.linspace(0, n, parts + 1).round().astype(int).tolist()
        others = [
            self._pool.submit(self._one_thread, x[lo:hi])
            for lo, hi in itertools.pairwise(bounds[1:])
        ]
        first = self._one_thread(x[: bounds[1]])
        return np.vstack([first, *(f.result() for f in others)])


@dataclass
class ScoredBatch:
    """Scores of a batch, row-aligned with the input."""

    declaration_id: np.ndarray
    score: np.ndarray
    expected_revenue: np.ndarray
    band: np.ndarray
    risk_type: np.ndarray
    features: np.ndarray
    reasons: list[list[tuple[Reason, float, str]]] | None
    contributions: np.ndarray | None = None  # TreeSHAP, (n, F), when reasons were asked
    inputs: Inputs | None = None


class Scorer:
    """A loaded bundle, ready to score canonical declarations."""

    def __init__(
        self,
        info: BundleInfo,
        device: str = "auto",
        require_gpu: bool = False,
        threads: int | None = None,
        spinning: bool = True,
        pipeline: FeaturePipeline | None = None,
    ) -> None:
        """``pipeline``: a live state of this bundle's features to score from instead of the
        bundle's own (``features.live``); it must have the bundle's feature spec."""
        self.info = info
        self.manifest = info.manifest
        try:
            self.pipeline = pipeline or FeaturePipeline.load(
                info.path(FEATURES_DIR), blocks=all_blocks()
            )
        except (ValueError, KeyError, OSError) as exc:
            raise BundleError(f"{info.directory}: feature state unusable ({exc})") from exc
        if self.pipeline.spec_.hash != self.manifest.get("feature_spec_hash"):
            raise BundleError(
                f"{info.directory}: feature spec hash {self.pipeline.spec_.hash} of this code"
                f" differs from the bundle's {self.manifest.get('feature_spec_hash')}"
            )
        self.encoder = CategoryEncoder.from_state(load_state(info.path(ENCODER_DIR)))
        self.onnx = self._session(device, require_gpu, threads, spinning)
        self.booster = lgb.Booster(model_file=str(info.path(TREES_TEXT)))
        self.treeshap = TreeShap(self.booster)
        # TreeSHAP's base (pred_contrib's bias column): the tree model's mean log-odds, the
        # same for every row; base + contributions = the row's log-odds.
        zero = np.zeros((1, self.booster.num_feature()))
        self.shap_base = float(self.booster.predict(zero, pred_contrib=True, num_threads=1)[0, -1])
        self.names = list(self.pipeline.spec_.names)
        self.bands = self.manifest["bands"]
        self.risk_types = list(self.manifest["risk_types"])

    def _session(
        self, device: str, require_gpu: bool, threads: int | None, spinning: bool
    ) -> OnnxScorer:
        """The GPU graph (pure tensor ops) on CUDA, else the CPU graph (tree operators)."""
        if device != "cpu":
            try:
                return OnnxScorer(
                    self.info.path(SCORER_GPU),
                    device="cuda",
                    intra_op_threads=threads,
                    spinning=spinning,
                )
            except RuntimeError as exc:
                if require_gpu or device == "cuda":
                    raise
                logger.warning("CUDA not in use, scoring on CPU: %s", str(exc).split(";")[0])
        return OnnxScorer(
            self.info.path(SCORER_CPU),
            device="cpu",
            intra_op_threads=threads,
            spinning=spinning,
        )

    @classmethod
    def from_bundle(cls, directory: Path, **kwargs: Any) -> Scorer:
        return cls(read_bundle(directory), **kwargs)

    @property
    def provider(self) -> str:
        return self.onnx.provider

    def band(self, score: np.ndarray) -> np.ndarray:
        return np.where(
            score >= self.bands["high"],
            "high",
            np.where(score >= self.bands["medium"], "medium", "low"),
        )

    def score_inputs(self, inputs: Inputs, reasons: bool = True) -> ScoredBatch:
        if inputs.n == 0:  # LightGBM and ONNX Runtime both refuse empty batches
            empty = np.zeros(0)
            return ScoredBatch(
                declaration_id=np.zeros(0, dtype=object),
                score=empty,
                expected_revenue=empty,
                band=np.zeros(0, dtype=object),
                risk_type=np.zeros(0, dtype=object),
                features=np.zeros((0, len(self.names)), dtype=np.float32),
                reasons=[] if reasons else None,
                contributions=np.zeros((0, len(self.names))) if reasons else None,
                inputs=inputs,
            )
        x = self.pipeline.transform_inputs(inputs)
        codes = self.encoder.transform(inputs)
        out = self.onnx.run(x, codes)
        score = out["score"].astype(np.float64)
        why = None
        if reasons:
            contrib = self.treeshap(x)
            why = top_reasons(contrib, self.names)
        else:
            contrib = None
        risk = np.asarray(self.risk_types, dtype=object)[np.argmax(out["risk_probs"], axis=1)]
        return ScoredBatch(
            declaration_id=inputs.text["declaration_id"],
            score=score,
            expected_revenue=out["expected_revenue"].astype(np.float64),
            band=self.band(score),
            risk_type=risk,
            features=x,
            reasons=why,
            contributions=contrib,
            inputs=inputs,
        )

    def score_frame(
        self,
        declarations: pd.DataFrame,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
        reasons: bool = True,
    ) -> ScoredBatch:
        ens = ens_filings if self.pipeline.with_ens() else None
        return self.score_inputs(inputs_from_frames(declarations, ens, ens_items), reasons)

    def score_records(self, records: list[dict[str, Any]], reasons: bool = True) -> ScoredBatch:
        inputs = inputs_from_records(records, with_ens=self.pipeline.with_ens())
        return self.score_inputs(inputs, reasons)


def scored_table(batch: ScoredBatch, k: int = 3, rounded: bool = True) -> pd.DataFrame:
    """The CSV layout of ``targeting score``: id, score, expected revenue, band, reasons
    (``rounded``: score to 6 and revenue to 2 decimals, for a CSV; Parquet keeps all)."""
    table = pd.DataFrame(
        {
            "declaration_id": batch.declaration_id,
            "score": np.round(batch.score, 6) if rounded else batch.score,
            "expected_revenue": (
                np.round(batch.expected_revenue, 2) if rounded else batch.expected_revenue
            ),
            "risk_band": batch.band,
            "likely_risk_type": batch.risk_type,
        }
    )
    for j in range(k):
        table[f"reason_{j + 1}"] = (
            [(f"{r[j][0].code}:{r[j][2]}" if len(r) > j else "") for r in (batch.reasons or [])]
            if batch.reasons is not None
            else ""
        )
    return table


def served_table(
    batch: ScoredBatch,
    declarations: pd.DataFrame,
    filings: pd.DataFrame | None,
    rounded: bool = True,
) -> pd.DataFrame:
    """``scored_table`` plus each row's ``ens_status`` (scored with ``filings``): what
    ``targeting score`` writes, in one process or per partition."""
    table = scored_table(batch, rounded=rounded)
    statuses = frame_statuses(declarations, filings)
    by_id = dict(zip(declarations["declaration_id"], statuses, strict=True))
    table["ens_status"] = table["declaration_id"].map(by_id)
    return table
