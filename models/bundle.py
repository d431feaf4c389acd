"""The model bundle: everything serving needs, in one directory, checksummed.

Layout: ``manifest.json`` (versions, window, spec hash, blend, bands, file checksums),
``features/`` (the fitted feature state), ``encoder/`` (embedding codes), ONNX graphs
(``scorer_cpu.onnx``, ``scorer_gpu.onnx`` and their parts), ``trees.txt`` (the LightGBM
model, for TreeSHAP reasons). No pickles.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FEATURES_DIR = "features"
ENCODER_DIR = "encoder"
TREES_TEXT = "trees.txt"
SCORER_CPU = "scorer_cpu.onnx"
SCORER_GPU = "scorer_gpu.onnx"
LIBRARIES = (
    "numpy",
    "pandas",
    "lightgbm",
    "torch",
    "onnx",
    "onnxruntime-gpu",
    "networkx",
    "mlflow",
)


class BundleError(RuntimeError):
    """A bundle that cannot be used: missing or corrupt file, wrong spec."""


def git_commit(repo: Path | None = None) -> str:
    """Commit of the code that trained the model ('unknown' outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo or Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` except the manifest."""
    return {
        str(p.relative_to(directory)): _sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest with the checksums of the files already in the bundle."""
    full = {**manifest, "files": checksums(directory)}
    path = directory / MANIFEST
    path.write_text(json.dumps(full, indent=1, sort_keys=True))
    return path


@dataclass(frozen=True)
class BundleInfo:
    """A verified bundle directory and its manifest."""

    directory: Path
    manifest: dict[str, Any]

    def path(self, name: str) -> Path:
        return self.directory / name


def read_bundle(directory: Path, verify: bool = True) -> BundleInfo:
    """Read the manifest and (by default) verify every file's checksum."""
    path = directory / MANIFEST
    if not path.is_file():
        raise BundleError(f"{directory}: no {MANIFEST}; not a model bundle")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: corrupt manifest ({exc})") from exc
    if verify:
        _verify_files(directory, manifest)
    return BundleInfo(directory, manifest)


def _verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Check every listed file against its checksum; a manifest listing none verifies nothing."""
    expected = manifest.get("files")
    if not isinstance(expected, dict) or not expected:
        raise BundleError(
            f"{directory}: the manifest lists no file checksums ('files' missing or empty); "
            "the bundle cannot be verified"
        )
    for name, digest in expected.items():
        file = directory / name
        if not file.is_file():
            raise BundleError(f"{directory}: file {name} listed in the manifest is missing")
        if _sha256(file) != digest:
            raise BundleError(f"{directory}: file {name} does not match its checksum")
