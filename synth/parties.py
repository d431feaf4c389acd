"""Parties of the synthetic world: importers, declarants, sellers, carriers, consumers.

Importer activity is heavy-tailed (Pareto weights); brokers serve many importers;
large traders are more often AEO. Schemes add parties of their own (ring brokers,
shell importers, new consignors) through the ``add_*`` methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synth.catalogue import CARRIERS, ECOMMERCE_SELLER_COUNTRIES, ORIGIN_WEIGHTS, TRADING_HUBS
from synth.goods import Goods

_STEP = 7_919_000_003  # coprime with 9e11: i -> (i * step) mod 9e11 is a permutation
_SPAN = 900_000_000_000
MAX_PRODUCTS = 6
MAX_SELLERS = 4


def eori_numbers(start: int, count: int, salt: int) -> np.ndarray:
    """Distinct 12-digit numbers for EORI-like ids (a permutation, no collisions)."""
    i = np.arange(start, start + count, dtype=np.int64)
    return (i * _STEP + salt) % _SPAN + 100_000_000_000


def _weighted_countries(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    names = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


@dataclass
class Parties:
    """Index-addressed party tables; ids are assigned when the world is written."""

    countries: list[str]
    importer_country: np.ndarray
    importer_weight: np.ndarray
    importer_entry_day: np.ndarray
    importer_aeo: np.ndarray
    importer_declarant: np.ndarray
    importer_products: np.ndarray  # (n, MAX_PRODUCTS) hs indices
    importer_n_products: np.ndarray
    importer_sellers: np.ndarray  # (n, MAX_SELLERS) seller indices
    importer_n_sellers: np.ndarray
    importer_price_effect: np.ndarray
    importer_mass_effect: np.ndarray
    declarant_aeo: np.ndarray
    declarant_weight: np.ndarray
    seller_country: np.ndarray  # country index
    seller_hub: np.ndarray  # bool: trading hub reselling goods of other origins
    ecom_sellers: np.ndarray  # seller indices selling to consumers
    ecom_seller_weight: np.ndarray
    n_private: int
    carrier_mode: np.ndarray  # mode name per carrier
    carrier_aeo: np.ndarray
    carrier_weight: np.ndarray
    carrier_declarant: np.ndarray  # the declarant index of each carrier's brokerage arm
    importer_self_declares: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n_importers(self) -> int:
        return len(self.importer_weight)

    @property
    def n_declarants(self) -> int:
        return len(self.declarant_aeo)

    @property
    def n_sellers(self) -> int:
        return len(self.seller_country)

    def add_declarants(self, count: int) -> np.ndarray:
        """New non-AEO brokers (e.g. the broker of a ring); returns their indices."""
        start = self.n_declarants
        self.declarant_aeo = np.concatenate([self.declarant_aeo, np.zeros(count, bool)])
        self.declarant_weight = np.concatenate([self.declarant_weight, np.zeros(count)])
        return np.arange(start, start + count)

    def add_sellers(self, country_idx: np.ndarray) -> np.ndarray:
        """New sellers/consignors in the given countries; returns their indices."""
        start = self.n_sellers
        self.seller_country = np.concatenate([self.seller_country, country_idx])
        self.seller_hub = np.concatenate([self.seller_hub, np.zeros(len(country_idx), bool)])
        return np.arange(start, start + len(country_idx))

    def add_importers(
        self, entry_day: np.ndarray, country: str, declarant: np.ndarray
    ) -> np.ndarray:
        """New non-AEO importers entering at the given days; returns their indices."""
        k = len(entry_day)
        start = self.n_importers
        cat = np.concatenate
        self.importer_country = cat([self.importer_country, np.full(k, country)])
        self.importer_weight = cat([self.importer_weight, np.zeros(k)])
        self.importer_entry_day = cat([self.importer_entry_day, entry_day])
        self.importer_aeo = cat([self.importer_aeo, np.zeros(k, bool)])
        self.importer_declarant = cat([self.importer_declarant, declarant])
        self.importer_products = cat([self.importer_products, np.zeros((k, MAX_PRODUCTS), int)])
        self.importer_n_products = cat([self.importer_n_products, np.ones(k, int)])
        self.importer_sellers = cat([self.importer_sellers, np.zeros((k, MAX_SELLERS), int)])
        self.importer_n_sellers = cat([self.importer_n_sellers, np.ones(k, int)])
        self.importer_price_effect = cat([self.importer_price_effect, np.zeros(k)])
        self.importer_mass_effect = cat([self.importer_mass_effect, np.zeros(k)])
        self.importer_self_declares = cat([self.importer_self_declares, np.zeros(k, bool)])
        return np.arange(start, start + k)


def build_parties(
    rng: np.random.Generator,
    goods: Goods,
    countries: list[str],
    n_declarations: int,
    days: int,
    home_country: str,
    ecommerce_share: float,
) -> Parties:
    """Draw the party population for a world of ``n_declarations``."""
    n_imp = max(60, n_declarations // 40)
    n_dec = max(10, n_imp // 60)
    n_sel = max(90, int(n_imp * 1.5))
    n_ecom_sel = max(20, n_declarations // 500)
    n_ecom = int(n_declarations * ecommerce_share)
    cidx = {c: i for i, c in enumerate(countries)}

    weight = rng.pareto(1.1, n_imp) + 0.05
    weight /= weight.sum()
    rank = np.argsort(np.argsort(-weight)) / n_imp  # 0 = largest
    aeo = rng.random(n_imp) < np.where(rank < 0.02, 0.6, np.where(rank < 0.2, 0.15, 0.01))
    entry = np.where(rng.random(n_imp) < 0.85, 0, rng.integers(1, max(2, days - 7), n_imp))
    eu_other = np.array(["DE", "BE", "FR", "IT", "ES", "PL", "AT", "DK"])
    imp_country = np.where(
        rng.random(n_imp) < 0.75, home_country, eu_other[rng.integers(len(eu_other), size=n_imp)]
    )

    dec_weight = rng.zipf(1.6, n_dec).astype(float)
    dec_weight /= dec_weight.sum()
    dec_aeo = rng.random(n_dec) < 0.3
    imp_dec = rng.choice(n_dec, size=n_imp, p=dec_weight)
    self_declares = rng.random(n_imp) < 0.08

    # Products: importers specialise in one or two chapters.
    chapters = np.unique(goods.chapter)
    chapter_pop = np.array([goods.popularity[goods.chapter == c].sum() for c in chapters])
    main_ch = rng.choice(len(chapters), size=n_imp, p=chapter_pop / chapter_pop.sum())
    second_ch = rng.choice(len(chapters), size=n_imp, p=chapter_pop / chapter_pop.sum())
    products = np.zeros((n_imp, MAX_PRODUCTS), dtype=int)
    for j in range(MAX_PRODUCTS):
        use_ch = np.where(rng.random(n_imp) < 0.75, main_ch, second_ch)
        for ci, ch in enumerate(chapters):
            rows = np.flatnonzero(use_ch == ci)
            members = np.flatnonzero(goods.chapter == ch)
            p = goods.popularity[members] / goods.popularity[members].sum()
            products[rows, j] = members[rng.choice(len(members), size=len(rows), p=p)]
    n_products = np.clip(1 + rng.poisson(1 + 3 * (1 - rank)), 1, MAX_PRODUCTS)

    # Sellers: mostly manufacturers in their origin country, some trading hubs.
    seller_country_names = _weighted_countries(rng, ORIGIN_WEIGHTS, n_sel)
    hub = np.isin(seller_country_names, TRADING_HUBS) & (rng.random(n_sel) < 0.6)
    ecom_names = _weighted_countries(rng, ECOMMERCE_SELLER_COUNTRIES, n_ecom_sel)
    seller_country = np.array([cidx[c] for c in np.concatenate([seller_country_names, ecom_names])])
    seller_hub = np.concatenate([hub, np.zeros(n_ecom_sel, bool)])
    ecom_sellers = np.arange(n_sel, n_sel + n_ecom_sel)
    ecom_weight = rng.pareto(1.3, n_ecom_sel) + 0.1
    sellers = rng.integers(0, n_sel, size=(n_imp, MAX_SELLERS))
    n_sellers = np.clip(1 + rng.poisson(1.2 + 2 * (1 - rank)), 1, MAX_SELLERS)

    modes, aeo_c, w_c = [], [], []
    for mode, (count, aeo_share) in CARRIERS.items():
        modes += [mode] * count
        aeo_c.append(rng.random(count) < aeo_share)
        w_c.append(rng.zipf(1.8, count).astype(float))
    carrier_aeo = np.concatenate(aeo_c)
    # Postal and express operators lodge their parcels' declarations themselves.
    n_carriers = len(modes)
    carrier_declarant = np.arange(n_dec, n_dec + n_carriers)
    dec_aeo = np.concatenate([dec_aeo, carrier_aeo])
    dec_weight = np.concatenate([dec_weight, np.zeros(n_carriers)])

    return Parties(
        countries=countries,
        importer_country=imp_country,
        importer_weight=weight,
        importer_entry_day=entry,
        importer_aeo=aeo,
        importer_declarant=imp_dec,
        importer_products=products,
        importer_n_products=n_products,
        importer_sellers=sellers,
        importer_n_sellers=n_sellers,
        importer_price_effect=rng.normal(0, 0.12, n_imp),
        importer_mass_effect=rng.normal(0, 0.5, n_imp),
        declarant_aeo=dec_aeo,
        declarant_weight=dec_weight,
        seller_country=seller_country,
        seller_hub=seller_hub,
        ecom_sellers=ecom_sellers,
        ecom_seller_weight=ecom_weight / ecom_weight.sum(),
        n_private=max(100, int(n_ecom * 0.7)),
        carrier_mode=np.array(modes),
        carrier_aeo=carrier_aeo,
        carrier_weight=np.concatenate(w_c),
        carrier_declarant=carrier_declarant,
        importer_self_declares=self_declares,
    )
