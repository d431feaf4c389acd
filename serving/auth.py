"""API keys with roles: risk-engine (score), analyst (records, explanations, control
results), admin (reload, and everything else).

Keys are held only as HMAC-SHA256 digests keyed by a pepper from the settings; a key
is checked against every stored digest with ``hmac.compare_digest``. Missing or
unknown key: 401; known key without the role: 403. To make a digest for
``TARGETING_API_KEY_HASHES``: ``python -c "from serving.auth import hash_key;
print(hash_key('KEY', 'PEPPER'))"``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from hashlib import sha256
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from serving.settings import Role, ServingSettings

API_KEY_HEADER = "X-API-Key"
_ROLE = "api_key_role"  # where authorise keeps the role found in the request's state
_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="API key; its role grants access."
)


def hash_key(key: str, pepper: str) -> str:
    """HMAC-SHA256 of ``key`` keyed by ``pepper``, hex."""
    return hmac.new(pepper.encode(), key.encode(), sha256).hexdigest()


class KeyRing:
    """Digests of the configured keys and their roles (no plain key is kept)."""

    def __init__(self, digests: Mapping[str, Role], pepper: str) -> None:
        self._digests = tuple(digests.items())
        self._pepper = pepper

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> KeyRing:
        pepper = settings.api_key_pepper.get_secret_value()
        digests = dict(settings.api_key_hashes)
        digests.update({hash_key(k, pepper): role for k, role in settings.api_keys.items()})
        return cls(digests, pepper)

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, key: str) -> tuple[str, Role] | None:
        """The stored digest of ``key`` and its role, or None (constant time, as ``role_of``)."""
        digest = hash_key(key, self._pepper)
        found = None
        for stored, role in self._digests:
            if hmac.compare_digest(stored, digest):
                found = (stored, role)
        return found

    def entries(self) -> tuple[tuple[str, Role], ...]:
        """Every stored (digest, role): what browser sessions (``serving.sessions``) are
        checked against, so a session ends when its key is removed."""
        return self._digests

    def role_of(self, key: str) -> Role | None:
        """The role of ``key``, or None; compares with every digest in constant time."""
        digest = hash_key(key, self._pepper)
        found = None
        for stored, role in self._digests:
            if hmac.compare_digest(stored, digest):
                found = role
        return found


def grants(held: Role, needed: Role) -> bool:
    """Whether a key with role ``held`` may do what ``needed`` allows."""
    return held is Role.ADMIN or held is needed


def authorise(request: Request, needed: Sequence[Role], key: str | None = None) -> Role:
    """The role of ``key`` (default: the request's ``X-API-Key``) if it holds one of
    ``needed`` (or admin); else 401 (missing or unknown key) or 403. The role found is
    kept in the request's state, so a second check of the same request hashes nothing."""
    state = request.scope.setdefault("state", {})
    role: Role | None = state.get(_ROLE)
    if role is None:
        key = key or request.headers.get(API_KEY_HEADER)
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing API key: send it in the {API_KEY_HEADER} header",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        role = request.app.state.keys.role_of(key)
        if role is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown API key",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        state[_ROLE] = role
    if not any(grants(role, n) for n in needed):
        wanted = " or ".join(n.value for n in needed)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this key's role ({role.value}) may not: needs {wanted}"
        )
    return role


def bearer_or_header(request: Request) -> str | None:
    """The key of a request sent as ``X-API-Key`` or as ``Authorization: Bearer KEY`` (what
    a Prometheus scrape configuration can send)."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def require(*needed: Role) -> Callable[..., Awaitable[Role]]:
    """A dependency admitting keys holding one of ``needed`` (or admin); returns the role.
    Its ``roles`` let ``serving.guard.GuardedRoute`` check the key before the body."""

    async def check(request: Request, key: Annotated[str | None, Security(_header)] = None) -> Role:
        return authorise(request, needed)

    check.roles = needed  # type: ignore[attr-defined]
    return check


RiskEngine = Annotated[Role, Depends(require(Role.RISK_ENGINE))]
Analyst = Annotated[Role, Depends(require(Role.ANALYST))]
Admin = Annotated[Role, Depends(require(Role.ADMIN))]
AnyRole = Annotated[Role, Depends(require(Role.RISK_ENGINE, Role.ANALYST))]
