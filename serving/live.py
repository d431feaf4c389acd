"""Live feature states of model bundles: which state a bundle's scoring folds into.

One live state per bundle (``bundle_source``: its files' checksums), started from the
bundle's fitted feature state and its history's end (``state_end_of``), saved under a
root directory by ``features.live.LiveState``. ``targeting score`` and the API both open
it here, so both fold into the same kind of state with the same code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.live import LiveState
from graph.pipeline_blocks import all_blocks
from models.bundle import BundleError, BundleInfo
from serving.scoring import Scorer


def bundle_source(manifest: dict[str, Any]) -> str:
    """A short stable identity of a bundle: the hash of its files' checksums and spec."""
    content = {"files": manifest.get("files", {}), "spec": manifest.get("feature_spec_hash")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"{manifest.get('model_name', 'model')}-{digest[:16]}"


def state_end_of(manifest: dict[str, Any]) -> int:
    """End of the history a bundle's feature state was fitted on (seconds)."""
    window = manifest.get("training_window") or {}
    if "end" not in window:
        raise BundleError("manifest has no training_window.end: the state's end is unknown")
    return int(pd.Timestamp(window["end"]).timestamp())


@dataclass
class LiveScorer:
    """A scorer reading the live state it folds into."""

    scorer: Scorer
    live: LiveState
    resumed: bool  # True when a saved live state was found, False when it starts anew


def open_live_scorer(info: BundleInfo, root: Path, **scorer_options: Any) -> LiveScorer:
    """The scorer of ``info`` on its saved live state under ``root``, or on the bundle's."""
    source = bundle_source(info.manifest)
    try:
        live = LiveState.load(root, source, blocks=all_blocks())
    except (ValueError, KeyError, OSError) as exc:
        raise BundleError(f"{root / source}: live feature state unusable ({exc})") from exc
    if live is not None:
        scorer = Scorer(info, pipeline=live.pipeline, **scorer_options)
        return LiveScorer(scorer, live, resumed=True)
    scorer = Scorer(info, **scorer_options)
    started = LiveState.start(scorer.pipeline, source, state_end_of(info.manifest))
    return LiveScorer(scorer, started, resumed=False)
