"""Parameters of a synthetic world. Same config and seed, same world."""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# Schemes that can be the drifting one (absent before ``drift_start_fraction``).
DriftScheme = Literal["origin_laundering", "concealment"]
DRIFT_SCHEMES: tuple[str, ...] = get_args(DriftScheme)


class SchemeRates(BaseModel):
    """Share of declarations that each planted scheme produces while it is active.

    The drifting scheme is active only from ``drift_start_fraction`` of the period on
    (``concealment`` is planted only when it is the drifting scheme); ``background`` is
    the chance of a scattered irregularity for a non-AEO business declaration (a tenth
    of it for AEO importers).
    """

    model_config = ConfigDict(extra="forbid")

    undervaluation_ring: float = Field(0.005, ge=0, le=0.1)
    shell_importer: float = Field(0.0015, ge=0, le=0.1)
    origin_laundering: float = Field(0.003, ge=0, le=0.1)
    misclassification: float = Field(0.004, ge=0, le=0.1)
    counterfeit_parcels: float = Field(0.003, ge=0, le=0.1)
    air_security: float = Field(0.0005, ge=0, le=0.1)
    concealment: float = Field(
        0.005, ge=0, le=0.1, description="Used only when drift_scheme is 'concealment'."
    )
    background: float = Field(0.004, ge=0, le=0.1)


class WorldConfig(BaseModel):
    """Size, period and behaviour of the synthetic world."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 7
    start: date = date(2025, 1, 1)
    days: int = Field(365, ge=7)
    declarations_per_day: int = Field(2800, ge=10)
    country: str = Field(
        "NL", pattern=r"^[A-Z]{2}$", description="Member state of the administration."
    )
    ecommerce_share: float = Field(0.15, ge=0, le=0.9)
    random_control_share: float = Field(0.02, ge=0, le=1)
    model_control_rate: float = Field(0.025, ge=0, le=0.5)
    rule_control_probability: float = Field(0.12, ge=0, le=1)
    aeo_control_factor: float = Field(0.3, ge=0, le=1)
    ens_missing_share: float = Field(0.03, ge=0, le=1)
    ens_amendment_share: float = Field(0.08, ge=0, le=1)
    ens_duplicate_share: float = Field(0.01, ge=0, le=1)
    schemes: SchemeRates = SchemeRates()
    drift_scheme: DriftScheme = Field(
        "origin_laundering", description=f"Scheme that starts mid-period: one of {DRIFT_SCHEMES}."
    )
    drift_start_fraction: float = Field(0.5, ge=0, le=1)

    @property
    def n_declarations(self) -> int:
        return self.days * self.declarations_per_day
