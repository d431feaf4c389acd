"""Where a model comes from: a bundle directory, or the MLflow registry by alias/version.

``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` are resolved with MLflow's client
on the SQLite store under ``mlruns_dir`` and the version's bundle downloaded once into
``cache_dir/NAME/VERSION`` (atomically: a half-written copy is never used; checksums
are verified when the bundle is read). Serving does not import ``training``: this is
the read side of ``training.tracking``'s registry layout (a version's source is the
bundle directory of its run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.bundle import MANIFEST, BundleError

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


class RegistryError(BundleError):
    """A model URI that does not resolve to a bundle."""


@dataclass(frozen=True)
class Resolved:
    """A local bundle directory and the identity it was resolved to."""

    directory: Path
    name: str
    version: str
    alias: str | None
    source: str


def tracking_uri(mlruns_dir: Path) -> str:
    """The SQLite tracking store of ``targeting train`` (``mlruns_dir/mlflow.db``)."""
    return f"sqlite:///{(mlruns_dir / 'mlflow.db').resolve()}"


def _client(mlruns_dir: Path) -> Any:
    database = mlruns_dir / "mlflow.db"
    if not database.is_file():
        raise RegistryError(f"no model registry at {database}: run `targeting train` first")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    uri = tracking_uri(mlruns_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _parse(uri: str) -> tuple[str, str | None, str | None]:
    match = _URI.match(uri)
    if match is None:
        raise RegistryError(
            f"{uri!r} is neither a bundle directory nor models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    return match["name"], match["alias"], match["version"]


def _version(client: Any, name: str, alias: str | None, version: str | None) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, version)
    except MlflowException as exc:
        wanted = f"alias {alias!r}" if alias else f"version {version}"
        raise RegistryError(f"model {name!r} has no {wanted} in the registry") from exc


def registered_version(uri: str, mlruns_dir: Path) -> str:
    """The version a registry URI points at now (cheap: no download)."""
    name, alias, version = _parse(uri)
    return str(_version(_client(mlruns_dir), name, alias, version).version)


def bundle_identity(directory: Path) -> tuple[str, str]:
    """(name, version) of a bundle read from a path: the manifest's model name and
    ``bundle-<12 hex>``, a digest of the manifest (which holds every file's checksum)."""
    text = (directory / MANIFEST).read_bytes()
    name = json.loads(text).get("model_name", "targeting")
    return str(name), f"bundle-{hashlib.sha256(text).hexdigest()[:12]}"


def _download(client: Any, source: str, target: Path) -> Path:
    """Copy the version's bundle to ``target`` unless a complete copy is there."""
    if (target / MANIFEST).is_file():
        return target
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        local = Path(download_artifacts(artifact_uri=source, dst_path=str(scratch)))
        if not (local / MANIFEST).is_file():
            raise RegistryError(f"{source}: the registered artifacts hold no {MANIFEST}")
        try:
            local.rename(target)
        except OSError:
            if not (target / MANIFEST).is_file():  # another process won the race: fine
                raise
    except MlflowException as exc:
        raise RegistryError(f"cannot download {source}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def resolve(uri: str, mlruns_dir: Path, cache_dir: Path) -> Resolved:
    """A local bundle for a directory path or a models:/ URI."""
    if not uri.startswith("models:/"):
        directory = Path(uri)
        if not (directory / MANIFEST).is_file():
            raise RegistryError(f"{directory}: no {MANIFEST}; not a model bundle")
        name, version = bundle_identity(directory)
        return Resolved(directory, name, version, None, str(directory.resolve()))
    name, alias, version = _parse(uri)
    client = _client(mlruns_dir)
    found = _version(client, name, alias, version)
    number = str(found.version)
    directory = _download(client, found.source, cache_dir / name / number)
    return Resolved(directory, name, number, alias, found.source)
