"""Planted risk schemes. Each takes rows of legitimate traffic and turns them into
fraud of a known kind, recording the scheme and its group (ring, shell, network) in
the draft so the ground truth can be written apart from the inputs.
"""

from __future__ import annotations

import numpy as np

from synth.baseline import business_masses, business_modes, sample_carriers, unit_values
from synth.catalogue import (
    AIR_SECURITY_ORIGINS,
    CONCEALMENT_CHAPTERS,
    CONCEALMENT_ORIGINS,
    COUNTERFEIT_SELLER_COUNTRIES,
    IPR_CHAPTERS,
    LAUNDERING_TRANSIT_ORIGINS,
    PREFERENTIAL_ORIGINS,
    RARE_AIR_TRANSITS,
    RING_CHAPTERS,
    RING_SELLER_COUNTRIES,
    SECURITY_CHAPTERS,
    SHELL_CHAPTERS,
)
from synth.config import WorldConfig
from synth.draft import MODE, SCHEME, Draft
from synth.goods import Goods
from synth.parties import Parties


class _Planter:
    """Shared state of the scheme planters: the world's pieces and the rng."""

    def __init__(
        self,
        rng: np.random.Generator,
        config: WorldConfig,
        goods: Goods,
        parties: Parties,
        draft: Draft,
    ) -> None:
        self.rng, self.config, self.goods, self.parties, self.d = rng, config, goods, parties, draft
        self.cidx = {c: i for i, c in enumerate(parties.countries)}

    def business_nonaeo(self) -> np.ndarray:
        d, p = self.d, self.parties
        aeo = np.zeros(d.n, dtype=bool)
        b2b = d.importer >= 0
        aeo[b2b] = p.importer_aeo[d.importer[b2b]]
        return b2b & ~aeo

    def choose(self, candidates: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(candidates))
        return np.sort(self.rng.choice(candidates, size=k, replace=False)) if k else candidates[:0]

    def regoods(self, rows: np.ndarray, mass_boost: float = 0.0) -> None:
        """Redraw mass and true value of ``rows`` from their true HS6 and origin."""
        d = self.d
        mass = business_masses(
            self.rng, self.goods, self.parties, d.true_hs[rows], d.importer[rows]
        )
        mass = np.round(mass * np.exp(mass_boost), 2)
        uv = unit_values(
            self.rng,
            self.goods,
            self.parties,
            d.true_hs[rows],
            d.true_origin[rows],
            d.importer[rows],
        )
        d.mass[rows] = mass
        d.true_value[rows] = np.round(mass * uv, 2) + 1.0
        d.value[rows] = d.true_value[rows]

    def mark(self, rows: np.ndarray, scheme: str, group: np.ndarray | int) -> None:
        self.d.scheme[rows] = SCHEME[scheme]
        self.d.group[rows] = group

    def set_seller(self, rows: np.ndarray, sellers: np.ndarray) -> None:
        d = self.d
        d.seller[rows] = sellers
        country = self.parties.seller_country[sellers]
        d.origin[rows] = d.true_origin[rows] = d.dispatch[rows] = d.load_country[rows] = country

    def chapter_rows(self, chapters: tuple[str, ...]) -> np.ndarray:
        return np.isin(self.goods.chapter[self.d.hs], chapters)

    def undervaluation_rings(self, target: int) -> None:
        """Importers sharing a broker and sellers, declaring 40-80 % below value."""
        rng, d, p = self.rng, self.d, self.parties
        if target <= 0:
            return
        n_rings = max(1, round(target / 330))
        rank = np.argsort(np.argsort(-p.importer_weight)) / p.n_importers
        pool = np.flatnonzero(
            ~p.importer_aeo & (p.importer_entry_day == 0) & (rank > 0.2) & (rank < 0.9)
        )
        base = self.business_nonaeo()
        for r in range(n_rings):
            members = rng.choice(pool, size=int(rng.integers(3, 9)), replace=False)
            broker = p.add_declarants(1)[0]
            countries = rng.choice(RING_SELLER_COUNTRIES, size=int(rng.integers(2, 6)))
            sellers = p.add_sellers(np.array([self.cidx[c] for c in countries]))
            chapters = tuple(rng.choice(RING_CHAPTERS, 2, replace=False))
            rows = self.choose(d.unused(base & self.chapter_rows(chapters)), target // n_rings)
            d.importer[rows] = rng.choice(members, size=len(rows))
            d.declarant[rows] = broker
            self.set_seller(rows, rng.choice(sellers, size=len(rows)))
            self.regoods(rows)
            d.value[rows] = np.round(d.true_value[rows] * rng.uniform(0.2, 0.6, len(rows)), 2)
            self.mark(rows, "undervaluation_ring", r)
            own = np.flatnonzero(np.isin(d.importer, members) & (d.scheme == 0))
            d.declarant[own[rng.random(len(own)) < 0.5]] = broker

    def shell_importers(self, target: int) -> None:
        """New EORIs with a short burst of high-value, undervalued declarations."""
        rng, d, p, days = self.rng, self.d, self.parties, self.config.days
        if target <= 0:
            return
        n_shells = max(1, round(target / 15))
        sizes = np.maximum(1, np.round(rng.integers(5, 31, n_shells) * target / (17.5 * n_shells)))
        lo, hi = min(30, days // 4), max(min(30, days // 4) + 1, days - 30)
        starts = rng.integers(lo, hi, n_shells)
        regular = np.flatnonzero(p.declarant_weight > 0)
        decl_p = p.declarant_weight[regular] / p.declarant_weight[regular].sum()
        shells = p.add_importers(
            starts, self.config.country, rng.choice(regular, n_shells, p=decl_p)
        )
        base = self.business_nonaeo()
        for s in range(n_shells):
            first = np.searchsorted(d.day, starts[s])
            last = np.searchsorted(d.day, starts[s] + int(rng.integers(14, 29)))
            window = np.zeros(d.n, dtype=bool)
            window[first:last] = True
            cand = d.unused(base & window & self.chapter_rows(SHELL_CHAPTERS))
            rows = self.choose(cand, int(sizes[s]))
            d.importer[rows] = shells[s]
            rotation = rng.choice(regular, 3, p=decl_p)  # shells rotate their brokers
            d.declarant[rows] = rotation[rng.integers(0, 3, len(rows))]
            self.regoods(rows, mass_boost=float(rng.uniform(1.5, 3.0)))
            d.value[rows] = np.round(d.true_value[rows] * rng.uniform(0.3, 0.7, len(rows)), 2)
            self.mark(rows, "shell_importer", s)

    def origin_laundering(self, target: int) -> None:
        """Anti-dumping goods of Chinese origin declared as of a transit country."""
        rng, d, p, g = self.rng, self.d, self.parties, self.goods
        if target <= 0 or not g.anti_dumping:
            return
        start = 0
        if self.config.drift_scheme == "origin_laundering":
            start = int(self.config.days * self.config.drift_start_fraction)
        china = self.cidx["CN"]
        ad_hs = np.array(sorted(h for h, c in g.anti_dumping if c == china))
        n_networks = 6
        transit = np.array(
            [self.cidx[c] for c in rng.choice(LAUNDERING_TRANSIT_ORIGINS, n_networks)]
        )
        sellers = p.add_sellers(transit)
        rows = self.choose(d.unused(self.business_nonaeo() & (d.day >= start)), target)
        net = rng.integers(0, n_networks, len(rows))
        pop = g.popularity[ad_hs] / g.popularity[ad_hs].sum()
        d.hs[rows] = d.true_hs[rows] = ad_hs[rng.choice(len(ad_hs), len(rows), p=pop)]
        d.seller[rows] = sellers[net]
        d.true_origin[rows] = china
        d.origin[rows] = transit[net]
        direct = rng.random(len(rows)) < 0.45
        d.dispatch[rows] = np.where(direct, china, transit[net])
        d.load_country[rows] = china
        d.transit[rows] = np.where(direct, -1, transit[net])
        d.mode[rows] = np.where(rng.random(len(rows)) < 0.85, MODE["maritime"], MODE["rail"])
        d.carrier[rows] = sample_carriers(rng, p, d.mode[rows])
        self.regoods(rows)
        self.mark(rows, "origin_laundering", net)

    def misclassification(self, target: int) -> None:
        """Goods declared under a lower-duty sibling code, mass and value of the true one."""
        rng, d, p, g = self.rng, self.d, self.parties, self.goods
        cand_hs = np.flatnonzero(g.cheaper_sibling >= 0)
        if target <= 0 or len(cand_hs) == 0:
            return
        # Only where no preference is claimable, so the lower code really lowers the duty.
        preferential = np.isin(self.parties.countries, list(PREFERENTIAL_ORIGINS))
        rows = self.choose(d.unused(self.business_nonaeo() & ~preferential[d.origin]), target)
        habitual_pool = np.flatnonzero(~p.importer_aeo & (p.importer_entry_day == 0))
        habitual = rng.choice(habitual_pool, size=max(5, p.n_importers // 70), replace=False)
        moved = rows[rng.random(len(rows)) < 0.6]
        d.importer[moved] = rng.choice(habitual, size=len(moved))
        d.declarant[moved] = p.importer_declarant[d.importer[moved]]
        pop = g.popularity[cand_hs] / g.popularity[cand_hs].sum()
        d.true_hs[rows] = cand_hs[rng.choice(len(cand_hs), len(rows), p=pop)]
        d.hs[rows] = g.cheaper_sibling[d.true_hs[rows]]
        self.regoods(rows)
        self.mark(rows, "misclassification", np.isin(rows, moved).astype(int))

    def counterfeit_parcels(self, target: int) -> None:
        """Small express/postal parcels of fakes from a few sellers."""
        rng, d, p, g = self.rng, self.d, self.parties, self.goods
        if target <= 0:
            return
        fakers = p.add_sellers(np.array([self.cidx[c] for c in COUNTERFEIT_SELLER_COUNTRIES]))
        rows = self.choose(d.unused(d.ecom), int(target / 0.35))
        self.set_seller(rows, rng.choice(fakers, size=len(rows)))
        fake = self.choose(rows, target)
        ipr_hs = np.flatnonzero(np.isin(g.chapter, IPR_CHAPTERS) & g.consumer)
        pop = g.popularity[ipr_hs] / g.popularity[ipr_hs].sum()
        d.hs[fake] = d.true_hs[fake] = ipr_hs[rng.choice(len(ipr_hs), len(fake), p=pop)]
        d.value[fake] = np.round(d.true_value[fake] * rng.uniform(0.2, 0.5, len(fake)), 2) + 0.5
        self.mark(fake, "counterfeit_parcels", np.searchsorted(fakers, d.seller[fake]))

    def air_security(self, target: int) -> None:
        """Air cargo from brand-new consignors over a rare route, sensitive chapters."""
        rng, d, p, g = self.rng, self.d, self.parties, self.goods
        if target <= 0:
            return
        rows = self.choose(d.unused(self.business_nonaeo()), target)
        n_new = max(1, len(rows) // 2)
        origins = rng.choice(AIR_SECURITY_ORIGINS, n_new)
        consignors = p.add_sellers(np.array([self.cidx[c] for c in origins]))
        self.set_seller(rows, consignors[rng.integers(0, n_new, len(rows))])
        sec_hs = g.indices_in(SECURITY_CHAPTERS)
        pop = g.popularity[sec_hs] / g.popularity[sec_hs].sum()
        d.hs[rows] = d.true_hs[rows] = sec_hs[rng.choice(len(sec_hs), len(rows), p=pop)]
        d.mode[rows] = MODE["air"]
        d.carrier[rows] = sample_carriers(rng, p, d.mode[rows])
        d.transit[rows] = np.array([self.cidx[c] for c in rng.choice(RARE_AIR_TRANSITS, len(rows))])
        self.regoods(rows, mass_boost=-2.0)
        self.mark(rows, "air_security", np.searchsorted(consignors, d.seller[rows]))

    def concealment_group(self, start: int) -> np.ndarray:
        """4-8 established (lodging since day 0 and before ``start``), mid-volume, non-AEO
        importers with no irregular declaration before ``start``."""
        d, p = self.d, self.parties
        rank = np.argsort(np.argsort(-p.importer_weight)) / p.n_importers
        before = (d.day < start) & (d.importer >= 0)
        pool = np.flatnonzero(
            ~p.importer_aeo & (p.importer_entry_day == 0) & (rank > 0.05) & (rank < 0.5)
        )
        pool = np.intersect1d(pool, d.importer[before])
        pool = np.setdiff1d(pool, d.importer[before & (d.scheme > 0)])
        return self.choose(pool, int(self.rng.integers(4, 9)))

    def concealment_trade(self, group: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
        """One ordinary origin with sellers there, and per group member 1-3 HS6 codes of
        one or two chapters no other scheme uses and 1-2 of those sellers (None: no seller
        in any such origin)."""
        rng, p, g = self.rng, self.parties, self.goods
        regular = np.flatnonzero(~p.seller_hub)
        regular = regular[~np.isin(regular, p.ecom_sellers)]
        names = [
            c for c in CONCEALMENT_ORIGINS if (p.seller_country[regular] == self.cidx[c]).any()
        ]
        if not names:
            return None
        origin = self.cidx[names[int(rng.integers(len(names)))]]
        sellers = regular[p.seller_country[regular] == origin]
        chapters = tuple(rng.choice(CONCEALMENT_CHAPTERS, int(rng.integers(1, 3)), replace=False))
        hs = g.indices_in(chapters)
        pop = g.popularity[hs] / g.popularity[hs].sum()
        k = len(group)
        products = hs[rng.choice(len(hs), (k, 3), p=pop)]
        products = np.where(np.arange(3) < rng.integers(1, 4, (k, 1)), products, products[:, :1])
        chosen = rng.choice(sellers, (k, 2))
        chosen = np.where(np.arange(2) < rng.integers(1, 3, (k, 1)), chosen, chosen[:, :1])
        return origin, products, chosen

    def concealment(self, target: int) -> None:
        """Established, clean, non-AEO importers that from the drift start hide undeclared
        goods in most of their consignments of one origin and one or two chapters.

        The group trades those goods over the whole period at the same pace, drawn as
        legitimate traffic (rows taken uniformly from ordinary business declarations);
        from the start on 60-80 % of them carry undeclared goods, which only raise their
        true value. Nothing declared betrays it: only who, what and when, once controls
        find it.
        """
        rng, d, p = self.rng, self.d, self.parties
        start = int(self.config.days * self.config.drift_start_fraction)
        group = self.concealment_group(start) if target > 0 else np.zeros(0, int)
        trade = self.concealment_trade(group) if len(group) else None
        if trade is None:
            return
        origin, products, sellers = trade
        share = rng.uniform(0.6, 0.8)
        ordinary = d.unused((d.importer >= 0) & ~np.isin(d.importer, group))
        pace = target / share / max(int((d.day[ordinary] >= start).sum()), 1)
        rows = ordinary[rng.random(len(ordinary)) < pace]
        member = rng.choice(len(group), len(rows), p=rng.dirichlet(np.full(len(group), 2.0)))
        imp = group[member]
        d.importer[rows] = imp
        d.declarant[rows] = np.where(p.importer_self_declares[imp], -1, p.importer_declarant[imp])
        d.hs[rows] = d.true_hs[rows] = products[member, rng.integers(0, 3, len(rows))]
        d.seller[rows] = sellers[member, rng.integers(0, 2, len(rows))]
        d.origin[rows] = d.true_origin[rows] = d.dispatch[rows] = d.load_country[rows] = origin
        d.transit[rows] = -1
        d.mode[rows] = business_modes(rng, d.dispatch[rows], p.countries)
        d.carrier[rows] = sample_carriers(rng, p, d.mode[rows])
        self.regoods(rows)
        hidden = self.choose(
            rows[d.day[rows] >= start], round(share * (d.day[rows] >= start).sum())
        )
        # The undeclared goods: the consignment is worth more than its declared value.
        d.true_value[hidden] = np.round(
            d.true_value[hidden] * (1 + rng.uniform(0.3, 1.5, len(hidden))), 2
        )
        self.mark(hidden, "concealment", np.searchsorted(group, d.importer[hidden]))

    def background(self, rate: float) -> None:
        """Scattered irregularities of ordinary traders, ten times rarer for AEOs."""
        rng, d = self.rng, self.d
        b2b = d.importer >= 0
        nonaeo = self.business_nonaeo()
        p = np.where(nonaeo, rate, np.where(b2b, rate * 0.1, 0.0))
        rows = d.unused(rng.random(d.n) < p)
        d.value[rows] = np.round(d.true_value[rows] * rng.uniform(0.55, 0.85, len(rows)), 2)
        d.risk_other[rows] = rng.random(len(rows)) < 0.5
        self.mark(rows, "background", -1)


def plant_schemes(
    rng: np.random.Generator, config: WorldConfig, goods: Goods, parties: Parties, draft: Draft
) -> None:
    """Plant every scheme at its configured share of declarations."""
    n, rates = draft.n, config.schemes
    planter = _Planter(rng, config, goods, parties, draft)
    planter.undervaluation_rings(round(rates.undervaluation_ring * n))
    planter.shell_importers(round(rates.shell_importer * n))
    start = config.drift_start_fraction if config.drift_scheme == "origin_laundering" else 0.0
    planter.origin_laundering(round(rates.origin_laundering * n * (1 - start)))
    planter.misclassification(round(rates.misclassification * n))
    planter.counterfeit_parcels(round(rates.counterfeit_parcels * n))
    planter.air_security(round(rates.air_security * n))
    planter.background(rates.background)
    if config.drift_scheme == "concealment":
        # A stream of its own: everything else is drawn exactly as without the scheme.
        planter.rng = np.random.default_rng([config.seed, SCHEME["concealment"]])
        planter.concealment(round(rates.concealment * n * (1 - config.drift_start_fraction)))
