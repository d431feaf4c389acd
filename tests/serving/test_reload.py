"""Model lifecycle: atomic reloads under load, refused bundles, registry aliases."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.bundle import MANIFEST, write_manifest
from serving.app import create_app
from serving.examples import smoke_sample
from serving.scoring import Scorer
from tests.serving.conftest import ADMIN, RISK, headers, make_settings


def _copy(bundle: Path, target: Path, **manifest_changes) -> Path:
    shutil.copytree(bundle, target)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest.update(manifest_changes)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return target


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    """An app on bundle A, and a bundle B (same model, another manifest: another version)."""
    root = tmp_path_factory.mktemp("reload")
    other = _copy(trained.bundle, root / "b", created_at="2030-01-01T00:00:00+00:00")
    settings = make_settings(trained, root, batch_max_wait_ms=1.0)
    with TestClient(create_app(settings)) as client:
        yield client, trained.bundle, other, root


def _version(client) -> str:
    return client.get("/v1/model", headers=headers(ADMIN)).json()["version"]


def _reload(client, uri):
    return client.post("/v1/admin/reload", json={"model_uri": str(uri)}, headers=headers(ADMIN))


def test_reload_under_concurrent_requests_fails_none(served, records) -> None:
    client, a, b, _ = served
    first = _version(client)
    statuses: list[int] = []
    versions: set[str] = set()
    scores: dict[str, set[float]] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def hammer(offset: int) -> None:
        i = offset
        while not stop.is_set():
            record = records[i % 50]
            r = client.post(
                "/v1/score", json=record, params={"reasons": "false"}, headers=headers(RISK)
            )
            with lock:
                statuses.append(r.status_code)
                if r.status_code == 200:
                    body = r.json()
                    versions.add(body["model"]["version"])
                    scores.setdefault(body["declaration_id"], set()).add(round(body["score"], 9))
            i += 1

    threads = [threading.Thread(target=hammer, args=(k * 13,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for uri in (b, a, b, a, b):
            time.sleep(0.15)
            r = _reload(client, uri)
            assert r.status_code == 200, r.text
    finally:
        time.sleep(0.15)
        stop.set()
        for t in threads:
            t.join()
    assert len(statuses) > 50
    assert set(statuses) == {200}
    assert len(versions) == 2
    assert first in versions
    assert all(len(s) == 1 for s in scores.values())  # same model: same scores throughout
    assert _version(client) != first


def _still_serving(client, records, version) -> None:
    r = client.post("/v1/score", json=records[0], headers=headers(RISK))
    assert r.status_code == 200
    assert r.json()["model"]["version"] == version


def test_corrupt_file_is_refused_and_the_old_model_serves(served, records) -> None:
    client, a, _, root = served
    before = _version(client)
    bad = _copy(a, root / "corrupt")
    onnx = bad / "scorer_cpu.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    r = _reload(client, bad)
    assert r.status_code == 409
    assert "checksum" in r.json()["detail"]
    _still_serving(client, records, before)


def test_corrupt_graph_with_matching_checksums_is_refused(served, records) -> None:
    client, a, _, root = served
    before = _version(client)
    bad = _copy(a, root / "garbage")
    (bad / "scorer_cpu.onnx").write_bytes(b"not an onnx graph")
    (bad / "scorer_gpu.onnx").write_bytes(b"not an onnx graph")
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest.pop("files")
    write_manifest(bad, manifest)
    r = _reload(client, bad)
    assert r.status_code == 409
    assert "refused" in r.json()["detail"]
    _still_serving(client, records, before)


def test_feature_spec_mismatch_is_refused(served, records) -> None:
    client, a, _, root = served
    before = _version(client)
    bad = _copy(a, root / "spec", feature_spec_hash="0000000000000000")
    r = _reload(client, bad)
    assert r.status_code == 409
    assert "feature spec hash" in r.json()["detail"]
    _still_serving(client, records, before)


def test_smoke_test_scores_must_match_the_manifest(served, records) -> None:
    client, a, _, root = served
    before = _version(client)
    wrong = _copy(a, root / "smoke-wrong", smoke_test={"scores": [0.5, 0.5, 0.5, 0.5]})
    r = _reload(client, wrong)
    assert r.status_code == 409
    assert "smoke test" in r.json()["detail"]
    _still_serving(client, records, before)
    expected = Scorer.from_bundle(a, device="cpu").score_records(smoke_sample()).score
    right = _copy(a, root / "smoke-right", smoke_test={"scores": expected.tolist()})
    r = _reload(client, right)
    assert r.status_code == 200, r.text
    assert r.json()["version"] != before


def test_a_new_model_starts_a_new_selection_window(served, records) -> None:
    client, a, b, _ = served
    for record in records[:120]:  # past the warm-up of 100 scores
        client.post("/v1/score", json=record, params={"reasons": "false"}, headers=headers(RISK))
    assert client.get("/v1/model", headers=headers(ADMIN)).json()["selection"]["warm"]
    current = client.get("/v1/model", headers=headers(ADMIN)).json()["source"]
    assert _reload(client, b if current == str(a.resolve()) else a).status_code == 200
    selection = client.get("/v1/model", headers=headers(ADMIN)).json()["selection"]
    assert selection["warm"] is False
    assert selection["recent_selection_rate"] is None


def test_unknown_sources_are_refused(served) -> None:
    client, _, _, root = served
    for uri in (root / "nowhere", "models:/targeting@nonexistent", "s3://x/y"):
        r = _reload(client, uri)
        assert r.status_code == 409, r.text


def test_champion_alias_is_resolved_from_the_registry(trained, records, tmp_path) -> None:
    settings = make_settings(trained, tmp_path, model_uri="models:/targeting@champion")
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/model", headers=headers(ADMIN)).json()
        assert (info["version"], info["alias"]) == ("1", "champion")
        r = client.post("/v1/score", json=records[0], headers=headers(RISK))
        assert r.json()["model"] == {"name": "targeting", "version": "1", "alias": "champion"}
    assert (tmp_path / "cache" / "targeting" / "1" / MANIFEST).is_file()
    direct = Scorer.from_bundle(trained.bundle, device="cpu").score_records([records[0]])
    np.testing.assert_allclose(r.json()["score"], direct.score[0], atol=1e-6)


def test_polling_follows_the_alias(trained, records, tmp_path) -> None:
    from mlflow import MlflowClient

    from serving.registry import tracking_uri

    mlruns = tmp_path / "mlruns"
    shutil.copytree(trained.mlruns, mlruns)
    settings = make_settings(
        trained,
        tmp_path,
        mlruns_dir=mlruns,
        model_uri="models:/targeting@champion",
        poll_alias_seconds=0.2,
    )
    with TestClient(create_app(settings)) as client:
        assert _version(client) == "1"
        registry = MlflowClient(tracking_uri(mlruns), tracking_uri(mlruns))
        v1 = registry.get_model_version("targeting", "1")
        v2 = registry.create_model_version("targeting", v1.source, run_id=v1.run_id)
        registry.set_registered_model_alias("targeting", "champion", v2.version)
        deadline = time.monotonic() + 20
        while _version(client) != "2" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _version(client) == "2"
        r = client.post("/v1/score", json=records[0], headers=headers(RISK))
        assert r.json()["model"]["version"] == "2"
