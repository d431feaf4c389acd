"""API keys with roles: 401 without a valid key, 403 without the role, admin may all."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.auth import KeyRing, hash_key
from serving.examples import EXAMPLE_CONTROL_RESULT, EXAMPLE_DECLARATION
from serving.settings import Role, ServingSettings
from tests.serving.conftest import ADMIN, ANALYST, PEPPER, RISK, headers

SCORE = ("post", "/v1/score", EXAMPLE_DECLARATION)
RECORD = ("get", "/v1/consignments/25NLI000000026999", None)
CONTROL = ("post", "/v1/control-results", {"results": [EXAMPLE_CONTROL_RESULT]})
RELOAD = ("post", "/v1/admin/reload", None)
MODEL = ("get", "/v1/model", None)


def _call(client, call, key):
    method, path, body = call
    kw = {"json": body} if body is not None else {}
    if key is not None:
        kw["headers"] = headers(key)
    return getattr(client, method)(path, **kw)


@pytest.mark.parametrize("call", [SCORE, RECORD, CONTROL, RELOAD, MODEL])
def test_missing_or_unknown_key_is_401(client, call) -> None:
    assert _call(client, call, None).status_code == 401
    assert _call(client, call, "not-a-key").status_code == 401


@pytest.mark.parametrize(
    ("call", "key"),
    [(SCORE, ANALYST), (RECORD, RISK), (CONTROL, RISK), (RELOAD, RISK), (RELOAD, ANALYST)],
)
def test_wrong_role_is_403(client, call, key) -> None:
    assert _call(client, call, key).status_code == 403


@pytest.mark.parametrize(
    ("call", "key"),
    [(SCORE, RISK), (RECORD, ANALYST), (CONTROL, ANALYST), (MODEL, RISK), (MODEL, ANALYST)],
)
def test_the_right_role_passes(client, call, key) -> None:
    assert _call(client, call, key).status_code in (200, 404)


@pytest.mark.parametrize("call", [SCORE, RECORD, CONTROL, MODEL])
def test_admin_implies_every_role(client, call) -> None:
    assert _call(client, call, ADMIN).status_code in (200, 404)


def test_open_endpoints_need_no_key(client) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200


def test_keys_are_kept_only_as_peppered_digests() -> None:
    settings = ServingSettings(
        api_key_pepper=PEPPER,
        api_key_hashes={hash_key("k1", PEPPER): Role.ANALYST},
        api_keys={"k2": Role.ADMIN},
    )
    ring = KeyRing.from_settings(settings)
    assert ring.role_of("k1") is Role.ANALYST
    assert ring.role_of("k2") is Role.ADMIN
    assert ring.role_of("k3") is None
    assert "k2" not in repr(vars(ring))
    assert "k2" not in repr(settings)
    assert hash_key("k1", PEPPER) != hash_key("k1", PEPPER + "x")


def test_keys_without_a_real_pepper_are_refused() -> None:
    with pytest.raises(ValidationError, match="api_key_pepper"):
        ServingSettings(api_keys={"k": Role.ADMIN}, api_key_pepper="short")
    with pytest.raises(ValidationError, match="hex"):
        ServingSettings(api_key_pepper=PEPPER, api_key_hashes={"nothex": Role.ADMIN})
