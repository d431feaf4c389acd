"""The goods catalogue: HS6 codes with price levels, masses, duty rates, anti-dumping.

Subheadings of one HS4 heading get different duty rates and price levels, which is
what makes misclassification (declaring a lower-duty sibling) both tempting and
visible in the value per kg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.catalogue import ANTI_DUMPING_CHAPTERS, CHAPTERS, VARIANTS


@dataclass(frozen=True)
class Goods:
    """Arrays indexed by HS6 position in the catalogue."""

    hs6: np.ndarray  # str
    chapter: np.ndarray  # str, 2 digits
    hs4: np.ndarray  # str
    description: np.ndarray  # str
    log_value_per_kg: np.ndarray
    log_mass_kg: np.ndarray
    duty_rate: np.ndarray
    units_per_kg: np.ndarray  # NaN where the tariff has no supplementary unit
    consumer: np.ndarray  # bool
    popularity: np.ndarray  # sums to 1
    cheaper_sibling: np.ndarray  # index of a lower-duty HS6 in the same HS4, or -1
    pair_effect: np.ndarray  # (n_hs6, n_countries) log price offset per origin
    anti_dumping: dict[tuple[int, int], float]  # (hs index, country index) -> extra duty

    @property
    def n(self) -> int:
        return len(self.hs6)

    def indices_in(self, chapters: tuple[str, ...]) -> np.ndarray:
        return np.flatnonzero(np.isin(self.chapter, chapters))

    def ad_rate(self, hs_idx: np.ndarray, country_idx: np.ndarray) -> np.ndarray:
        """Anti-dumping duty of each (hs, origin) pair, 0 where none applies."""
        out = np.zeros(len(hs_idx))
        for (h, c), rate in self.anti_dumping.items():
            out[(hs_idx == h) & (country_idx == c)] = rate
        return out


def build_goods(rng: np.random.Generator, countries: list[str]) -> Goods:
    """Draw a catalogue of about 350 HS6 codes over the configured chapters."""
    rows: list[tuple] = []
    for ch in CHAPTERS:
        n_headings = int(rng.integers(3, 6))
        headings = np.sort(rng.choice(np.arange(1, 99), n_headings, replace=False))
        heading_weights = rng.dirichlet(np.full(n_headings, 1.5))
        for h, hw in zip(headings, heading_weights, strict=True):
            n_sub = int(rng.integers(2, 5))
            subs = np.sort(rng.choice(np.arange(1, 10), n_sub, replace=False)) * 10
            sub_weights = rng.dirichlet(np.full(n_sub, 1.2))
            heading_price = ch.log_value_per_kg + rng.normal(0, 0.4)
            for s, sw in zip(subs, sub_weights, strict=True):
                hs6 = f"{ch.code}{h:02d}{s:02d}"
                duty = ch.duty_low + (ch.duty_high - ch.duty_low) * rng.random()
                if rng.random() < 0.2:
                    duty = ch.duty_low
                variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
                rows.append(
                    (
                        hs6,
                        ch.code,
                        hs6[:4],
                        f"{ch.name}, {variant}",
                        heading_price + rng.normal(0, 0.6),
                        ch.log_mass_kg + rng.normal(0, 0.4),
                        round(duty, 3),
                        (ch.units_per_kg or np.nan) * float(np.exp(rng.normal(0, 0.3))),
                        ch.consumer,
                        ch.weight * hw * sw,
                    )
                )
    cols = list(zip(*rows, strict=True))
    hs6 = np.array(cols[0])
    hs4 = np.array(cols[2])
    duty = np.array(cols[6], dtype=float)
    popularity = np.array(cols[9], dtype=float)
    popularity /= popularity.sum()

    pair_effect = rng.normal(0, 0.25, size=(len(hs6), len(countries)))
    anti_dumping: dict[tuple[int, int], float] = {}
    chapter = np.array(cols[1])
    ad_candidates = np.flatnonzero(np.isin(chapter, ANTI_DUMPING_CHAPTERS))
    weights = popularity[ad_candidates] / popularity[ad_candidates].sum()
    chosen = rng.choice(ad_candidates, size=min(12, len(ad_candidates)), replace=False, p=weights)
    china = countries.index("CN")
    for h in chosen:
        anti_dumping[(int(h), china)] = round(float(rng.uniform(0.2, 0.7)), 3)
        pair_effect[h, china] -= 0.35  # dumped goods are cheap

    # Misclassification targets: a lower-duty sibling in the same HS4, anti-dumping aside.
    ad_hs = {h for h, _ in anti_dumping}
    cheaper = np.full(len(hs6), -1)
    for heading in np.unique(hs4):
        members = np.array([m for m in np.flatnonzero(hs4 == heading) if m not in ad_hs])
        if len(members) < 2:
            continue
        lowest = members[np.argmin(duty[members])]
        for m in members:
            if duty[m] - duty[lowest] >= 0.03:
                cheaper[m] = lowest

    return Goods(
        hs6=hs6,
        chapter=chapter,
        hs4=hs4,
        description=np.array(cols[3]),
        log_value_per_kg=np.array(cols[4], dtype=float),
        log_mass_kg=np.array(cols[5], dtype=float),
        duty_rate=duty,
        units_per_kg=np.array(cols[7], dtype=float),
        consumer=np.array(cols[8], dtype=bool),
        popularity=popularity,
        cheaper_sibling=cheaper,
        pair_effect=pair_effect,
        anti_dumping=anti_dumping,
    )
