"""The versioned feature spec: ordered names, dtype, groups, nullable and dropped parts.

Its hash identifies a feature matrix layout; a model bundle records it and serving
refuses a bundle whose hash its own code does not reproduce.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

FEATURE_CODE_VERSION = "3"  # bump whenever a feature's computation changes


@dataclass(frozen=True)
class FeatureSpec:
    """What the columns of the feature matrix are."""

    names: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    nullable: frozenset[str] = frozenset()
    dropped: dict[str, str] = field(default_factory=dict)
    dtype: str = "float32"
    code_version: str = FEATURE_CODE_VERSION

    def to_dict(self) -> dict[str, object]:
        return {
            "code_version": self.code_version,
            "dtype": self.dtype,
            "names": list(self.names),
            "groups": {k: list(v) for k, v in self.groups.items()},
            "nullable": sorted(self.nullable),
            "dropped": dict(self.dropped),
        }

    @property
    def hash(self) -> str:
        payload = {k: v for k, v in self.to_dict().items() if k != "groups"}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(
            names=tuple(data["names"]),
            groups={k: tuple(v) for k, v in data["groups"].items()},
            nullable=frozenset(data["nullable"]),
            dropped=dict(data["dropped"]),
            dtype=data["dtype"],
            code_version=data["code_version"],
        )
