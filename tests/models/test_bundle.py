"""Bundle verification: a manifest must list the checksums it vouches for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.bundle import MANIFEST, BundleError, read_bundle, write_manifest


def _bundle(directory: Path) -> Path:
    """A tiny bundle: two files and a manifest with their checksums."""
    (directory / "features").mkdir(parents=True)
    (directory / "scorer_cpu.onnx").write_bytes(b"graph")
    (directory / "features" / "state.json").write_text("{}")
    write_manifest(directory, {"model_name": "targeting"})
    return directory


def _rewrite(directory: Path, **changes: object) -> None:
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.update(changes)
    for key, value in changes.items():
        if value is None:
            del manifest[key]
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_a_complete_bundle_verifies(tmp_path: Path) -> None:
    info = read_bundle(_bundle(tmp_path))
    assert set(info.manifest["files"]) == {"scorer_cpu.onnx", "features/state.json"}


@pytest.mark.parametrize("files", [None, {}, []])
def test_a_manifest_without_checksums_is_refused(tmp_path: Path, files: object) -> None:
    """No 'files' (or an empty list) would otherwise pass verification vacuously."""
    directory = _bundle(tmp_path)
    _rewrite(directory, files=files)
    with pytest.raises(BundleError, match="lists no file checksums"):
        read_bundle(directory)
    assert read_bundle(directory, verify=False).manifest["model_name"] == "targeting"


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    directory = _bundle(tmp_path)
    (directory / "scorer_cpu.onnx").write_bytes(b"other graph")
    with pytest.raises(BundleError, match=r"scorer_cpu\.onnx does not match its checksum"):
        read_bundle(directory)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    directory = _bundle(tmp_path)
    (directory / "features" / "state.json").unlink()
    with pytest.raises(
        BundleError, match=r"features/state\.json listed in the manifest is missing"
    ):
        read_bundle(directory)
