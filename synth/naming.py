"""Identifiers of parties: EORI-like numbers for EU traders, opaque ids for others."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.parties import Parties, eori_numbers


@dataclass(frozen=True)
class Names:
    """String id of every party, by index."""

    importer: np.ndarray
    declarant: np.ndarray
    seller: np.ndarray
    carrier: np.ndarray
    private: np.ndarray


def _eori(countries: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    return np.char.add(countries.astype("<U2"), numbers.astype("<U12"))


def name_parties(parties: Parties, home_country: str, salt: int) -> Names:
    """Ids for all parties, distinct across roles."""
    n_imp, n_dec = parties.n_importers, parties.n_declarants
    importer = _eori(parties.importer_country, eori_numbers(0, n_imp, salt))
    dec_country = np.full(n_dec, home_country)
    declarant = _eori(dec_country, eori_numbers(n_imp, n_dec, salt))
    countries = np.array(parties.countries)
    seller = np.char.add(
        np.char.add(countries[parties.seller_country].astype("<U2"), "S"),
        np.char.zfill(np.arange(parties.n_sellers).astype("<U7"), 7),
    )
    mode_letter = {
        "maritime": "M",
        "air": "A",
        "road": "R",
        "rail": "L",
        "postal": "P",
        "express": "X",
    }
    letters = np.array([mode_letter[m] for m in parties.carrier_mode])
    carrier = np.char.add(
        np.char.add("CR", letters), np.char.zfill(np.arange(len(letters)).astype("<U4"), 4)
    )
    # The brokerage arm of a postal/express operator declares under the operator's id.
    declarant[parties.carrier_declarant] = carrier
    private = np.char.add("P", np.char.zfill(np.arange(parties.n_private).astype("<U9"), 9))
    return Names(
        importer=importer, declarant=declarant, seller=seller, carrier=carrier, private=private
    )
