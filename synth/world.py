"""Generate a whole synthetic customs world and write it as Parquet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from canonical.codes import EU_MEMBERS
from canonical.frames import TABLE_FILES, to_pandas, write_table
from synth.baseline import build_baseline
from synth.catalogue import ORIGIN_WEIGHTS, RARE_AIR_TRANSITS, TRANSIT_HUBS
from synth.config import WorldConfig
from synth.controls import build_controls, risk_types
from synth.declared import declare
from synth.ens import build_ens
from synth.goods import build_goods
from synth.naming import name_parties
from synth.parties import build_parties
from synth.schemes import plant_schemes
from synth.tables import declaration_ids, declarations_table, truth_table

TRUTH_FILE = Path("truth") / "ground_truth.parquet"


@dataclass(frozen=True)
class World:
    """The canonical tables of a world plus its ground truth (kept apart)."""

    config: WorldConfig
    tables: dict[str, pa.Table]
    truth: pa.Table

    def frame(self, name: str) -> pd.DataFrame:
        """A canonical table as a pandas frame with canonical dtypes."""
        return to_pandas(self.tables[name])

    def summary(self) -> dict[str, object]:
        decl = self.tables["declarations"]
        controls = self.tables["controls"]
        outcome = controls.column("outcome").to_numpy(zero_copy_only=False)
        schemes = self.truth.column("scheme").to_numpy(zero_copy_only=False)
        names, counts = np.unique(schemes, return_counts=True)
        return {
            "declarations": decl.num_rows,
            "ens_filings": self.tables["ens_filings"].num_rows,
            "ens_items": self.tables["ens_items"].num_rows,
            "controls": controls.num_rows,
            "irregular_declarations": self.truth.num_rows,
            "irregular_share": round(self.truth.num_rows / max(decl.num_rows, 1), 4),
            "controls_with_findings": int((outcome != "no_irregularity").sum()),
            "schemes": {str(k): int(v) for k, v in zip(names, counts, strict=True)},
        }


def world_countries() -> list[str]:
    """Every country the world uses, in a fixed order."""
    used = set(ORIGIN_WEIGHTS) | set(EU_MEMBERS) | set(RARE_AIR_TRANSITS) | {"KZ", "RU", "BY", "QA"}
    for hubs in TRANSIT_HUBS.values():
        used |= set(hubs)
    return sorted(used)


def generate_world(config: WorldConfig) -> World:
    """Build a world; the same config (seed included) gives the same world."""
    rng = np.random.default_rng(config.seed)
    countries = world_countries()
    goods = build_goods(rng, countries)
    parties = build_parties(
        rng,
        goods,
        countries,
        config.n_declarations,
        config.days,
        config.country,
        config.ecommerce_share,
    )
    draft = build_baseline(rng, config, goods, parties)
    plant_schemes(rng, config, goods, parties, draft)
    declared = declare(rng, goods, parties, draft)
    names = name_parties(parties, config.country, salt=config.seed)
    ids = declaration_ids(config, draft)
    ens = build_ens(rng, config, goods, parties, draft, names)
    declarations = declarations_table(
        rng, config, goods, parties, draft, declared, names, ids, ens.declaration_ens_id
    )
    controls = build_controls(
        rng, config, goods, parties, draft, declared, ids, ens.declaration_ens_id
    )
    truth = truth_table(goods, parties, draft, declared, ids, risk_types(draft))
    tables = {
        "declarations": declarations,
        "ens_filings": ens.filings,
        "ens_items": ens.items,
        "controls": controls,
    }
    return World(config=config, tables=tables, truth=truth)


def write_world(world: World, out: Path) -> dict[str, Path]:
    """Write the canonical tables, the ground truth (under truth/) and world.json."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        name: write_table(table, name, out / TABLE_FILES[name])
        for name, table in world.tables.items()
    }
    truth_path = out / TRUTH_FILE
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(world.truth, truth_path)
    paths["truth"] = truth_path
    meta = {"config": json.loads(world.config.model_dump_json()), "summary": world.summary()}
    (out / "world.json").write_text(json.dumps(meta, indent=2) + "\n")
    paths["world"] = out / "world.json"
    return paths
