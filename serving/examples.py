"""Realistic example payloads: the OpenAPI examples and the built-in smoke-test sample."""

from __future__ import annotations

import copy
from typing import Any

EXAMPLE_ENS: dict[str, Any] = {
    "versions": [
        {
            "filing_id": "25NLE000000026216",
            "version": 1,
            "filed_at": "2025-03-29T08:10:00Z",
            "filing_type": "pre_loading",
            "transport_mode": "air",
            "carrier_id": "CRA0012",
            "carrier_aeo": True,
            "consignor_id": "CNS0000504",
            "consignor_country": "CN",
            "consignee_id": "NL861234567",
            "consignee_country": "NL",
            "place_of_loading": "CNSZX",
            "itinerary": "CN-AE-NL",
            "office_first_entry": "NL000396",
            "expected_arrival": "2025-03-31T06:00:00Z",
        },
        {
            "filing_id": "25NLE000000026216",
            "version": 2,
            "filed_at": "2025-03-30T14:02:41Z",
            "filing_type": "full",
            "transport_mode": "air",
            "carrier_id": "CRA0012",
            "carrier_aeo": True,
            "consignor_id": "CNS0000504",
            "consignor_country": "CN",
            "consignee_id": "NL861234567",
            "consignee_country": "NL",
            "place_of_loading": "CNSZX",
            "itinerary": "CN-AE-NL",
            "office_first_entry": "NL000396",
            "expected_arrival": "2025-03-31T06:00:00Z",
        },
    ],
    "items": [
        {
            "filing_id": "25NLE000000026216",
            "version": 2,
            "item_no": 1,
            "hs6": "851713",
            "description": "Smartphones",
            "gross_mass_kg": 480.0,
            "packages": 40,
            "containerised": False,
        }
    ],
}

EXAMPLE_DECLARATION: dict[str, Any] = {
    "declaration_id": "25NLI000000026999",
    "lodged_at": "2025-03-31T09:36:12Z",
    "office": "NL000396",
    "procedure": "4000",
    "declarant_id": "NL004455667",
    "importer_id": "NL861234567",
    "seller_id": "CN914403001",
    "seller_country": "CN",
    "buyer_id": "NL861234567",
    "origin_country": "CN",
    "dispatch_country": "AE",
    "hs_code": "8517130000",
    "description": "Smartphones, 5G, 128 GB",
    "net_mass_kg": 412.0,
    "supplementary_units": 2000.0,
    "customs_value": 52000.0,
    "currency": "USD",
    "customs_value_rc": 47840.0,
    "duty_rate": 0.0,
    "duty_amount": 0.0,
    "preference": "100",
    "transport_mode": "air",
    "importer_aeo": False,
    "declarant_aeo": True,
    "ens_id": "25NLE000000026216",
    "ens": EXAMPLE_ENS,
}

EXAMPLE_CONTROL_RESULT: dict[str, Any] = {
    "control_id": "CTL000001450",
    "declaration_id": "25NLI000000026999",
    "ens_id": "25NLE000000026216",
    "controlled_at": "2025-04-01T22:49:19Z",
    "control_type": "physical",
    "selection_basis": "model",
    "propensity": 1.0,
    "outcome": "irregularity",
    "risk_type": "undervaluation",
    "revenue_recovered": 6120.5,
}


def smoke_sample() -> list[dict[str, Any]]:
    """Fixed declarations a new bundle must score to finite probabilities: with and
    without ENS, an AEO importer, only the required fields."""
    full = copy.deepcopy(EXAMPLE_DECLARATION)
    no_ens = {k: v for k, v in full.items() if k not in ("ens", "ens_id")}
    no_ens["declaration_id"] = "SMOKE-NO-ENS"
    aeo = {**no_ens, "declaration_id": "SMOKE-AEO", "importer_aeo": True, "origin_country": "DE"}
    minimal = {
        "declaration_id": "SMOKE-MINIMAL",
        "lodged_at": "2025-06-01T12:00:00Z",
        "importer_id": "XX000000001",
        "origin_country": "US",
        "hs_code": "940360",
        "customs_value": 1200.0,
        "customs_value_rc": 1104.0,
    }
    return [full, no_ens, aeo, minimal]
