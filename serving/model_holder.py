"""The model in service: loading and validating a bundle, and swapping it atomically.

``load_model`` resolves the URI, reads the bundle (checksums), builds the scorer
(feature spec hash, execution provider) and runs the smoke test; any failure is a
``ModelLoadError`` naming the cause, and nothing changes; then its live feature state is
opened (the latest checkpoint, else the bundle's state) and caught up with the decision
log and the control store (``serving.folding``), and it is warmed up
(``serving.warmup``). ``ModelHolder.current`` is one attribute read: a micro-batch
takes the model once and finishes on it, so a swap never interrupts a request; the
old scorer is freed when its last batch ends.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.live import LiveState
from graph.pipeline_blocks import all_blocks
from models.bundle import BundleError
from serving.bundle_check import smoke_test
from serving.folding import LiveFolder
from serving.live import bundle_source, state_end_of
from serving.registry import resolve
from serving.scoring import Scorer
from serving.selection import warmup_threshold
from serving.settings import ServingSettings
from serving.warmup import warm_up

logger = logging.getLogger("serving.model")


class ModelLoadError(RuntimeError):
    """A model that cannot serve; the message says why."""


@dataclass(frozen=True)
class ModelRef:
    """The identity responses carry: registered name, version, alias it was loaded by."""

    name: str
    version: str
    alias: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "alias": self.alias}


@dataclass(frozen=True)
class LoadedModel:
    """A validated scorer and where it came from."""

    scorer: Scorer
    ref: ModelRef
    source: str
    directory: Path
    loaded_at: datetime
    load_id: str  # distinguishes two loads of the same version
    live: LiveFolder | None = None  # None: scores from the bundle's state (folding off)

    @property
    def feature_spec_hash(self) -> str:
        return str(self.scorer.manifest["feature_spec_hash"])

    def warmup_threshold(self, share: float) -> float:
        return warmup_threshold(self.scorer.manifest, share)


def load_model(uri: str, settings: ServingSettings) -> LoadedModel:
    """Resolve, read, build and smoke-test a model; ModelLoadError if it cannot serve."""
    try:
        found = resolve(uri, settings.mlruns_dir, settings.model_cache_dir)
        scorer = Scorer.from_bundle(
            found.directory,
            device=settings.device,
            require_gpu=settings.require_gpu,
            threads=settings.onnx_threads,
            spinning=False,  # a server's other threads need the cores between runs
        )
        smoke_test(scorer)  # on the bundle's own state: the figures the manifest holds
        live = open_folder(scorer, settings) if settings.fold_interval_s > 0 else None
        warm_up(scorer, settings.warmup_rows)
        warmup_threshold(scorer.manifest, settings.model_rate)
    except BundleError as exc:
        raise ModelLoadError(f"model {uri} refused: {exc}") from exc
    except Exception as exc:  # ONNX Runtime, LightGBM, JSON, I/O: any failure refuses it
        raise ModelLoadError(f"model {uri} refused: {type(exc).__name__}: {exc}") from exc
    logger.info("model %s version %s loaded on %s", found.name, found.version, scorer.provider)
    return LoadedModel(
        scorer=scorer,
        ref=ModelRef(found.name, found.version, found.alias),
        source=found.source,
        directory=found.directory,
        loaded_at=datetime.now(UTC),
        load_id=uuid.uuid4().hex,
        live=live,
    )


def open_folder(scorer: Scorer, settings: ServingSettings) -> LiveFolder:
    """The live state of ``scorer``'s bundle (checkpoint or bundle state), caught up with
    the log; the scorer reads it from now on."""
    source = bundle_source(scorer.manifest)
    live = LiveState.load(settings.live_state_dir, source, blocks=all_blocks())
    if live is None:
        live = LiveState.start(scorer.pipeline, source, state_end_of(scorer.manifest))
    elif live.pipeline.spec_.hash != scorer.pipeline.spec_.hash:
        raise BundleError(f"live state {source}: feature spec differs from the bundle's")
    scorer.pipeline = live.pipeline
    folder = LiveFolder(
        live,
        settings.decision_db,
        settings.fold_interval_s,
        settings.live_state_dir,
        settings.checkpoint_interval_s,
    )
    folder.catch_up()
    return folder


class ModelHolder:
    """Holds the serving model; ``swap`` replaces it in one assignment."""

    def __init__(self, model: LoadedModel) -> None:
        self._model = model

    @property
    def current(self) -> LoadedModel:
        return self._model

    def swap(self, model: LoadedModel) -> LoadedModel:
        """Serve ``model`` from now on; returns the previous one."""
        previous, self._model = self._model, model
        return previous
