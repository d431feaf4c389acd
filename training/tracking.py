"""MLflow tracking: a SQLite store under mlruns/ with artifacts beside it, the run of
each training, and the model registry (``targeting``, aliases challenger/champion).

The bundle is logged as run artifacts and registered by source URI (a model version
whose source is the bundle directory), so serving reads plain files, never a pickle.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_NAME = "targeting"
EXPERIMENT = "targeting"
CHALLENGER = "challenger"
CHAMPION = "champion"
CONFIG_ARTIFACT = "config.json"
PARAMS_ARTIFACT = "params.json"
HISTORY_TAG = "champion_history"  # past champions, oldest first (JSON list)


def tracking_uri(mlruns_dir: Path) -> str:
    """SQLite backend under ``mlruns_dir`` (the file store is deprecated)."""
    mlruns_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(mlruns_dir / 'mlflow.db').resolve()}"


def _client(mlruns_dir: Path) -> Any:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(mlruns_dir))
    return mlflow


def mlflow_at(mlruns_dir: Path) -> Any:
    """The mlflow module pointed at the store under ``mlruns_dir``."""
    return _client(mlruns_dir)


def experiment_id(mlruns_dir: Path, name: str = EXPERIMENT) -> str:
    """The id of experiment ``name``, created (artifacts under mlruns/artifacts) if new."""
    mlflow = _client(mlruns_dir)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifacts = (mlruns_dir / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=artifacts.as_uri())


@dataclass(frozen=True)
class Registered:
    """A logged run and the model version registered from it."""

    run_id: str
    version: str
    source: str


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level, keys joined with dots (``tree.learning_rate``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _log_params(mlflow: Any, params: dict[str, Any]) -> list[str]:
    """Log every param MLflow can hold whole; the names of those too long (never truncated)."""
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

    text = {k: str(v) for k, v in params.items()}
    fits = {k: v for k, v in text.items() if len(v) <= MAX_PARAM_VAL_LENGTH}
    names = list(fits)
    for start in range(0, len(names), MAX_PARAMS_TAGS_PER_BATCH):
        mlflow.log_params({k: fits[k] for k in names[start : start + MAX_PARAMS_TAGS_PER_BATCH]})
    return sorted(set(text) - set(fits))


def log_run(
    mlruns_dir: Path,
    params: dict[str, Any],
    metrics: dict[str, float],
    plots: list[Path],
    bundle: Path,
    tags: dict[str, str],
    config: dict[str, Any] | None = None,
    artifacts: dict[str, list[Path]] | None = None,
) -> Registered:
    """One run with params, metrics, plots and the bundle; a new version aliased challenger.

    ``config`` (nested hyper-parameters) is logged whole as the ``config.json`` artifact and
    flattened into one param per hyper-parameter; every param is also in ``params.json``,
    and one too long for an MLflow param is only there (its name in the tag
    ``params_in_artifact_only``). ``artifacts`` are further files by run folder
    (evaluation tables, the evaluated model before its refit).
    """
    mlflow = _client(mlruns_dir)
    eid = experiment_id(mlruns_dir)
    config = config or {}
    everything = {**flatten(config), **params}
    with mlflow.start_run(experiment_id=eid, tags=tags) as run:
        mlflow.log_dict(config, CONFIG_ARTIFACT)
        mlflow.log_dict({k: str(v) for k, v in everything.items()}, PARAMS_ARTIFACT)
        too_long = _log_params(mlflow, everything)
        if too_long:
            mlflow.set_tag("params_in_artifact_only", ",".join(too_long))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if not math.isnan(v)})
        for plot in plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        for folder, paths in (artifacts or {}).items():
            for path in paths:
                mlflow.log_artifact(str(path), artifact_path=folder)
        mlflow.log_artifacts(str(bundle), artifact_path="bundle")
        source = mlflow.get_artifact_uri("bundle")
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(MODEL_NAME)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(MODEL_NAME, description="Customs irregularity risk scorer")
    version = client.create_model_version(MODEL_NAME, source=source, run_id=run.info.run_id)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)
    return Registered(run.info.run_id, str(version.version), source)


def champion_history(mlruns_dir: Path) -> list[str]:
    """The versions that were champion before the current one, oldest first (the
    registered model's ``champion_history`` tag)."""
    mlflow = _client(mlruns_dir)
    try:
        tags = mlflow.MlflowClient().get_registered_model(MODEL_NAME).tags
    except mlflow.exceptions.MlflowException:
        return []
    return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]


def _set_history(client: Any, history: list[str]) -> None:
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(history))


def local_artifact_path(uri: str) -> Path:
    """The local directory of a ``file:`` artifact URI (the store under ``mlruns/``)."""
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri}: not a local artifact location")
    return Path(url2pathname(unquote(parsed.path)))


def promote(mlruns_dir: Path, version: str) -> str:
    """Move the champion alias to ``version``; returns the previous champion ('' if none),
    which joins the alias history (``targeting rollback`` restores it)."""
    require_store(mlruns_dir)
    mlflow = _client(mlruns_dir)
    client = mlflow.MlflowClient()
    client.get_model_version(MODEL_NAME, version)  # raises if it does not exist
    try:
        previous = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    except mlflow.exceptions.MlflowException:
        previous = ""
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    if previous and str(previous) != str(version):
        _set_history(client, [*champion_history(mlruns_dir), str(previous)])
    return str(previous)


def rollback(mlruns_dir: Path) -> tuple[str, str]:
    """Give the champion alias back to the previous champion (the last of the alias
    history, which it leaves); returns (restored version, demoted version)."""
    mlflow = _client(mlruns_dir)
    client = mlflow.MlflowClient()
    history = champion_history(mlruns_dir)
    if not history:
        raise LookupError("no previous champion to restore: the alias history is empty")
    try:
        current = str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        current = ""
    restored = history.pop()
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, restored)
    _set_history(client, history)
    return restored, current


class ModelNotFoundError(FileNotFoundError):
    """A model the user named (path, version, alias) or the default one does not exist."""


def require_store(mlruns_dir: Path) -> Path:
    """The tracking database under ``mlruns_dir``; an error (never a new, empty store) if
    there is none, so a command run in the wrong directory says so."""
    database = mlruns_dir / "mlflow.db"
    if not database.is_file():
        raise ModelNotFoundError(
            f"no tracking store at {database.resolve()}: run `targeting train` first, or set"
            " TARGETING_MLRUNS_DIR"
        )
    return database


def resolve_model_ref(mlruns_dir: Path, uri: str | None, destination: Path) -> tuple[Path, str]:
    """A local bundle directory and a name for it (``targeting version 3 (champion)`` or the
    bundle path) for a bundle path, a models:/ URI, or (None) the champion, else the latest
    version. A missing bundle, store or version raises ``ModelNotFoundError``."""
    if uri and not uri.startswith("models:/"):
        if not Path(uri).is_dir():
            raise ModelNotFoundError(
                f"{uri}: no such bundle directory (or give models:/NAME/VERSION)"
            )
        return Path(uri), str(uri)
    require_store(mlruns_dir)
    mlflow = _client(mlruns_dir)
    client = mlflow.MlflowClient()
    label = ""
    if uri is None:
        try:
            version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
            label = f" ({CHAMPION})"
        except mlflow.exceptions.MlflowException:
            versions = client.search_model_versions(f"name='{MODEL_NAME}'")
            if not versions:
                raise ModelNotFoundError(
                    "no registered model: run `targeting train` first"
                ) from None
            version = max(int(v.version) for v in versions)
            label = " (latest; no champion)"
        uri = f"models:/{MODEL_NAME}/{version}"
    destination.mkdir(parents=True, exist_ok=True)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination))
    except mlflow.exceptions.MlflowException as exc:
        raise ModelNotFoundError(
            f"{uri}: not in the registry at {mlruns_dir} ({exc.message.splitlines()[0]})"
        ) from None
    name = uri.removeprefix("models:/")
    if "@" in name:
        name, alias = name.split("@", 1)
        described = f"{name} version {client.get_model_version_by_alias(name, alias).version}"
        return Path(local), f"{described} ({alias})"
    name, _, number = name.partition("/")
    return Path(local), f"{name} version {number}{label}"


def resolve_model(mlruns_dir: Path, uri: str | None, destination: Path) -> Path:
    """A local bundle directory for a bundle path, a models:/ URI, or (None) the champion,
    else the latest version (see ``resolve_model_ref``)."""
    return resolve_model_ref(mlruns_dir, uri, destination)[0]


def recent_runs(mlruns_dir: Path, limit: int = 10) -> list[dict[str, Any]]:
    """Recent runs with their key metrics and registered version, newest first (an error,
    never a new empty store, when ``mlruns_dir`` holds none)."""
    require_store(mlruns_dir)
    mlflow = _client(mlruns_dir)
    eid = experiment_id(mlruns_dir)
    runs = mlflow.search_runs(
        [eid], max_results=limit, order_by=["start_time DESC"], output_format="list"
    )
    client = mlflow.MlflowClient()
    versions = {v.run_id: v for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    try:
        by_alias = dict(client.get_registered_model(MODEL_NAME).aliases)
    except mlflow.exceptions.MlflowException:
        by_alias = {}
    out = []
    for run in runs:
        m = run.data.metrics
        v = versions.get(run.info.run_id)
        aliases = [a for a, ver in by_alias.items() if v is not None and str(ver) == str(v.version)]
        out.append(
            {
                "run_id": run.info.run_id[:8],
                "started": run.info.start_time,
                "version": str(v.version) if v else "",
                "aliases": ",".join(sorted(aliases)),
                "precision_at_5": m.get("test_blend_precision_at_5"),
                "recall_at_5": m.get("test_blend_recall_at_5"),
                "revenue_at_5": m.get("test_blend_revenue_at_5"),
                "pr_auc": m.get("test_blend_pr_auc"),
                "window": run.data.params.get("data_window", ""),
            }
        )
    return out
