"""Backtest of the learning loop: replay a generated world week by week.

The initial model is trained on the world's history before the backtest (the past
policy's controls as labels). Then, each week:

1. the week's declarations are scored by the current model from the **live feature
   state** (``features.live.LiveState``): the week is folded in lodging order, each row
   seeing only what was lodged or known strictly before it, never itself;
2. exactly the budget is selected, ``round(N * inspection_rate)`` rows: the
   exploitation arm takes the top rows by probability (or by expected revenue), the
   exploration arm (a share of the budget) takes rows at random among the others
   (propensity = arm size / rows left) or those the model is least sure of
   (disagreement of a bootstrap committee, propensity 1);
3. outcomes are revealed for the selected rows only, by the world's control model
   (``synth.reveal.ControlModel``: detection by control type, revenue recovered, results
   recorded after a delay; post-release audits months later), and folded into the state;
4. the model is retrained on every label known by the week's end (trees only: the
   network and the blend of ``targeting train`` are too slow to refit weekly).

Measured against the truth the generator knows: precision, recall and revenue (evaded)
at the budget and their share of the best possible; the drifting scheme's rows caught;
and the inverse-propensity estimate of the current model's precision at the budget
(``training.estimates.budget_estimates`` on the week's controls) beside the true value of
the quantity it estimates (the expected share of the model's top rows a control would
find irregular). Same world and seed, same figures.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features import FeaturePipeline
from features.profiles import ProfileBlock
from features.timebase import DAY, to_seconds
from models.lgbm import TreeConfig, refit_trees
from models.metrics import top_k
from synth.reveal import ControlModel
from training.dataset import HIT_OUTCOMES
from training.distributed import history_matrix
from training.estimates import budget_estimates
from training.exploration import (
    DriftSignal,
    ExplorationBounds,
    drift_signal,
    exploration_share,
)
from training.served import default_pipeline

EXPLOIT = ("probability", "revenue")
EXPLORE = ("random", "uncertainty")
TRUTH_FILE = Path("truth") / "ground_truth.parquet"


@dataclass(frozen=True)
class Strategy:
    """How a week's budget is spent: the exploitation rule, and the exploration arm with
    its share of the budget."""

    exploit: str = "probability"
    explore: str = "random"
    exploration: float = 0.0
    # adaptive: drift of the previous week may raise the share up to this bound
    # (training.exploration); None: the share stays ``exploration``
    exploration_max: float | None = None

    def __post_init__(self) -> None:
        if self.exploit not in EXPLOIT:
            raise ValueError(f"exploitation {self.exploit!r}: use one of {', '.join(EXPLOIT)}")
        if self.explore not in EXPLORE:
            raise ValueError(f"exploration {self.explore!r}: use one of {', '.join(EXPLORE)}")
        if not 0.0 <= self.exploration <= 1.0:
            raise ValueError(f"exploration share {self.exploration} must lie in [0, 1]")
        if self.exploration_max is not None:
            ExplorationBounds(self.exploration, self.exploration_max)  # validates

    @property
    def bounds(self) -> ExplorationBounds | None:
        """The adaptive share's bounds; None for a fixed share."""
        if self.exploration_max is None:
            return None
        return ExplorationBounds(self.exploration, self.exploration_max)

    @property
    def explores(self) -> bool:
        """Whether any week may spend part of the budget exploring."""
        return max(self.exploration, self.exploration_max or 0.0) > 0

    @property
    def name(self) -> str:
        if self.exploration_max is not None:
            low, high = self.exploration * 100, self.exploration_max * 100
            return f"{self.exploit}+{self.explore}{low:g}-{high:g}%"
        if self.exploration == 0:
            return self.exploit
        return f"{self.exploit}+{self.explore}{self.exploration * 100:g}%"

    @classmethod
    def parse(cls, text: str, exploration: float, exploration_max: float | None = None) -> Strategy:
        """``probability``, ``revenue``, ``probability+random``, ``revenue+uncertainty``...
        (a bare ``random`` or ``uncertainty`` exploits by probability); the share (and the
        adaptive bound) apply when an exploration arm is named, or to a bare exploitation
        name when above 0."""
        parts = [p.strip() for p in text.split("+") if p.strip()]
        exploit = next((p for p in parts if p in EXPLOIT), "probability")
        explore = next((p for p in parts if p in EXPLORE), None)
        unknown = [p for p in parts if p not in EXPLOIT + EXPLORE]
        if unknown or not parts:
            raise ValueError(
                f"strategy {text!r}: use EXPLOIT[+EXPLORE] with EXPLOIT in"
                f" {', '.join(EXPLOIT)} and EXPLORE in {', '.join(EXPLORE)}"
            )
        return cls(exploit, explore or "random", exploration, exploration_max)


def issue_strategies(
    exploration: float = 0.1, exploration_max: float | None = None
) -> list[Strategy]:
    """The issue's comparison: model only; model + random; model + uncertainty; with an
    upper bound, also model + random whose share drift raises up to it."""
    out = [
        Strategy("probability", "random", 0.0),
        Strategy("probability", "random", exploration),
        Strategy("probability", "uncertainty", exploration),
    ]
    if exploration_max is not None:
        out.append(Strategy("probability", "random", exploration, exploration_max))
    return out


@dataclass(frozen=True)
class BacktestConfig:
    """Size of the replay and of the weekly models (logged as params)."""

    weeks: int = 8
    inspection_rate: float = 0.05
    seed: int = 0
    rounds: int = 100  # boosting rounds of each weekly model (no early stopping)
    committee: int = 3  # bootstrap models of the uncertainty arm
    committee_rounds: int = 50
    detection_recall: float = 0.5  # the scheme counts as detected at this weekly recall
    # one thread: on a shared 2-core machine LightGBM's two OpenMP threads spin against
    # other processes (50 rounds on 6,000 rows: 2.6 s on one thread, 80 s on two)
    tree: TreeConfig = field(default_factory=lambda: TreeConfig(threads=1))


@dataclass(frozen=True)
class BacktestWorld:
    """A generated world: canonical frames (declarations in lodging order), the control
    model with its truth, and where the drifting scheme starts."""

    frames: dict[str, pd.DataFrame]
    control: ControlModel
    start: int  # seconds: the world's first day
    days: int
    drift_scheme: str
    drift_start: int  # seconds: the first day of the drifting scheme

    @classmethod
    def load(cls, directory: Path) -> BacktestWorld:
        """Read ``targeting generate`` output (canonical tables, truth/, world.json)."""
        from training.sources import canonical_frames

        frames = dict(canonical_frames(directory))
        truth_path = directory / TRUTH_FILE
        meta_path = directory / "world.json"
        if not truth_path.is_file() or not meta_path.is_file():
            raise FileNotFoundError(
                f"{directory}: a backtest needs a generated world (truth/ and world.json)"
            )
        config = json.loads(meta_path.read_text())["config"]
        return cls.of(frames, pq.read_table(truth_path).to_pandas(), config)

    @classmethod
    def of(
        cls, frames: dict[str, pd.DataFrame], truth: pd.DataFrame, config: dict[str, object]
    ) -> BacktestWorld:
        """From frames, the truth table and the world's config (``WorldConfig`` fields)."""
        d = frames["declarations"]
        d = d.iloc[np.argsort(to_seconds(d["lodged_at"]), kind="stable")].reset_index(drop=True)
        frames = {**frames, "declarations": d}
        start = int(to_seconds(pd.Series([pd.Timestamp(str(config["start"]), tz="UTC")]))[0])
        days = int(config["days"])  # type: ignore[call-overload]
        fraction = float(config.get("drift_start_fraction", 0.5))  # type: ignore[arg-type]
        scheme = str(config.get("drift_scheme", "origin_laundering"))
        return cls(
            frames,
            ControlModel.of(d, truth),
            start,
            days,
            scheme,
            start + int(days * fraction) * DAY,
        )


@dataclass
class Labels:
    """Labelled feature rows: features as the row was scored, label, when it was known."""

    x: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)
    revenue: list[np.ndarray] = field(default_factory=list)
    known_at: list[np.ndarray] = field(default_factory=list)

    def add(self, x: np.ndarray, results: pd.DataFrame) -> None:
        """Rows ``x`` with their results (one per row, aligned)."""
        self.x.append(x)
        self.y.append(results["outcome"].isin(HIT_OUTCOMES).to_numpy(dtype=np.float64))
        self.revenue.append(results["revenue_recovered"].fillna(0).to_numpy(dtype=np.float64))
        self.known_at.append(to_seconds(results["controlled_at"]))

    def known_before(self, time: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, labels and revenue of the results recorded before ``time``."""
        known = np.concatenate(self.known_at) < time
        return (
            np.concatenate(self.x)[known],
            np.concatenate(self.y)[known],
            np.concatenate(self.revenue)[known],
        )


@dataclass
class WeeklyModel:
    """The trees of one week, with the revenue model and the committee when needed."""

    booster: lgb.Booster
    revenue: lgb.Booster | None
    committee: list[lgb.Booster]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x)

    def expected_revenue(self, x: np.ndarray) -> np.ndarray:
        """Probability times the revenue a hit would bring (log-scale regression)."""
        assert self.revenue is not None
        return self.probability(x) * np.expm1(np.maximum(self.revenue.predict(x), 0.0))

    def disagreement(self, x: np.ndarray) -> np.ndarray:
        """Standard deviation of the committee's probabilities."""
        return np.std([m.predict(x) for m in self.committee], axis=0)


def fit_weekly_model(
    x: np.ndarray,
    y: np.ndarray,
    revenue: np.ndarray,
    names: list[str],
    strategy: Strategy,
    config: BacktestConfig,
    client: Any = None,
) -> WeeklyModel:
    """Trees on every known label; a revenue regression for the revenue rule; a bootstrap
    committee for the uncertainty arm. ``client``: the trees and the committee trained with
    LightGBM's Dask interface on its workers."""
    if y.sum() == 0:
        raise ValueError("no irregularity among the known labels: the history is too short")
    booster = refit_trees(x, y, np.ones(len(y)), names, config.tree, config.rounds, None, client)
    rev_model = None
    if strategy.exploit == "revenue":
        hits = y > 0
        params = {
            "objective": "regression",
            "learning_rate": 0.1,
            "num_leaves": 15,
            "min_data_in_leaf": 10,
            "seed": config.tree.seed,
            "deterministic": True,
            "num_threads": config.tree.threads,
            "verbose": -1,
        }
        data = lgb.Dataset(x[hits], np.log1p(revenue[hits]), feature_name=list(names))
        rev_model = lgb.train(params, data, num_boost_round=100)
    committee = []
    if strategy.explores and strategy.explore == "uncertainty":
        rng = np.random.default_rng(config.seed)
        for member in range(config.committee):
            rows = rng.integers(0, len(y), len(y))
            tree = replace(config.tree, seed=config.tree.seed + member + 1)
            committee.append(
                refit_trees(
                    x[rows],
                    y[rows],
                    np.ones(len(rows)),
                    names,
                    tree,
                    config.committee_rounds,
                    None,
                    client,
                )
            )
    return WeeklyModel(booster, rev_model, committee)


@dataclass(frozen=True)
class Selection:
    """A week's controls: positions in the week, basis and propensity of each."""

    rows: np.ndarray
    basis: np.ndarray
    propensity: np.ndarray


def select(
    score: np.ndarray,
    budget: int,
    strategy: Strategy,
    rng: np.random.Generator,
    uncertainty: np.ndarray | None = None,
    share: float | None = None,
) -> Selection:
    """Exactly ``budget`` rows: the top by ``score`` (ties to the earlier row), and the
    exploration arm's share (``share``, default the strategy's) among the others
    (``uncertainty``: of every row, for the uncertainty arm)."""
    n = len(score)
    budget = min(budget, n)
    explore = round(budget * (strategy.exploration if share is None else share))
    order = np.lexsort((np.arange(n), -np.asarray(score, dtype=np.float64)))
    exploit, rest = order[: budget - explore], order[budget - explore :]
    if explore == 0:
        picked = rest[:0]
        propensity = np.zeros(0)
    elif strategy.explore == "random":
        picked = np.sort(rng.choice(rest, size=explore, replace=False))
        propensity = np.full(explore, explore / len(rest))
    else:
        assert uncertainty is not None
        spread = uncertainty[rest]
        picked = rest[np.lexsort((rest, -spread))[:explore]]
        propensity = np.ones(explore)
    basis = "random" if strategy.explore == "random" else "model"
    return Selection(
        np.concatenate([exploit, picked]),
        np.array(["model"] * len(exploit) + [basis] * len(picked), dtype=object),
        np.concatenate([np.ones(len(exploit)), propensity]),
    )


@dataclass
class Start:
    """What every strategy starts from: the fitted pipeline, the labels known, the feature
    names, and the last history weeks as scored (declaration positions and features: the
    first drift reference)."""

    pipeline: FeaturePipeline
    labels: Labels
    names: list[str]
    weeks: list[tuple[np.ndarray, np.ndarray]]


REFERENCE_WEEKS = 4  # the drift of a week is measured against the four weeks before it


def initial_state(
    world: BacktestWorld,
    begin: int,
    make_pipeline: Callable[[], FeaturePipeline],
    client: Any = None,
) -> Start:
    """The state and labels before the backtest: a pipeline fitted on the history's
    declarations, filings and the past policy's results on them (each row's features as
    of its own time), and those results as labels (known when recorded)."""
    f = world.frames
    d = f["declarations"]
    history = d[to_seconds(d["lodged_at"]) < begin]
    controls = f["controls"]
    controls = controls[controls["declaration_id"].isin(history["declaration_id"])]
    filings, items = f.get("ens_filings"), f.get("ens_items")
    if filings is not None:
        filings = filings[to_seconds(filings["filed_at"]) < begin]
        if items is not None:
            items = items[items["filing_id"].isin(filings["filing_id"])]
    pipeline = make_pipeline().fit(history, controls, filings, items)
    profiles = next((b for b in pipeline.blocks if isinstance(b, ProfileBlock)), None)
    if profiles is not None:  # smoothing strengths estimated as training does
        profiles.use_strengths(profiles.estimated_strengths(begin))
    x = history_matrix(pipeline, pipeline.fitted_inputs_, client)
    per_row = _one_result_per_declaration(controls)
    at = pd.Index(history["declaration_id"].astype(object)).get_indexer(
        per_row["declaration_id"].astype(object)
    )
    labels = Labels()
    labels.add(x[at], per_row)
    lodged = to_seconds(history["lodged_at"])
    weeks = []
    for w in range(REFERENCE_WEEKS + 1, 0, -1):
        rows = np.flatnonzero(
            (lodged >= begin - w * 7 * DAY) & (lodged < begin - (w - 1) * 7 * DAY)
        )
        weeks.append((rows, x[rows]))
    return Start(pipeline, labels, list(pipeline.spec_.names), weeks)


def _one_result_per_declaration(controls: pd.DataFrame) -> pd.DataFrame:
    """Any hit wins, revenue summed, recorded at the latest result."""
    c = controls.dropna(subset=["declaration_id"])
    per = (
        c.assign(hit=c["outcome"].isin(HIT_OUTCOMES))
        .groupby("declaration_id", sort=True)
        .agg(
            hit=("hit", "max"),
            revenue_recovered=("revenue_recovered", "sum"),
            controlled_at=("controlled_at", "max"),
        )
    )
    per["outcome"] = np.where(per["hit"], "irregularity", "no_irregularity")
    return per.drop(columns="hit").reset_index()


def week_metrics(
    world: BacktestWorld,
    rows: np.ndarray,
    chosen: np.ndarray,
    found: np.ndarray,
) -> dict[str, float]:
    """Truth at the budget of one week: ``rows`` the week's declaration positions,
    ``chosen`` positions in the week of the selected, ``found`` their revealed hits."""
    c = world.control
    irregular = c.irregular[rows].astype(np.float64)
    evaded = c.evaded[rows]
    k = len(chosen)
    total, total_rev = irregular.sum(), evaded.sum()
    caught, caught_rev = irregular[chosen].sum(), evaded[chosen].sum()
    best_rev = np.sort(evaded)[::-1][:k].sum()
    scheme = c.scheme[rows] == world.drift_scheme
    out = {
        "declarations": float(len(rows)),
        "controls": float(k),
        "irregular": float(total),
        "precision": caught / k if k else 0.0,
        "recall": caught / total if total else 0.0,
        "revenue": caught_rev / total_rev if total_rev else 0.0,
        # precision / its best (min(total / k, 1)) = recall / its best = caught / min(total, k)
        "hits_share_of_best": caught / min(total, k) if min(total, k) else 0.0,
        "revenue_share_of_best": caught_rev / best_rev if best_rev else 0.0,
        "found_precision": float(found.sum()) / k if k else 0.0,
        "scheme_rows": float(scheme.sum()),
        "scheme_caught": float(scheme[chosen].sum()),
    }
    out["scheme_recall"] = out["scheme_caught"] / out["scheme_rows"] if scheme.any() else np.nan
    return out


def ips_check(
    world: BacktestWorld,
    rows: np.ndarray,
    score: np.ndarray,
    chosen: Selection,
    everyone: pd.DataFrame,
    rate: float,
    seed: int,
) -> dict[str, float]:
    """The IPS estimate of the current model's precision at the budget, from the week's
    controls (``everyone``: what a control of each week row would find; only the
    selected rows' results are used), beside its truth: the share of the model's top
    rows whose control would find an irregularity (``true_found_precision``, the
    finite-population quantity the estimate and its interval are about), its
    expectation over the control draws (``true_detectable_precision``; detection below
    1) and the true irregular share of those rows.

    With a random arm every row of the model's top has a positive propensity and the
    estimate is ``budget_estimates``'; without exploration the top rows are the controls
    (exact); with the uncertainty arm alone part of the top could never be controlled
    and there is no unbiased estimate (NaN)."""
    n = len(rows)
    would_find = everyone["outcome"].isin(HIT_OUTCOMES).to_numpy()
    results = everyone.iloc[chosen.rows]
    hit, controlled = np.zeros(n, bool), np.zeros(n, bool)
    propensity, revenue = np.ones(n), np.zeros(n)
    hit[chosen.rows] = results["outcome"].isin(HIT_OUTCOMES).to_numpy()
    controlled[chosen.rows] = True
    propensity[chosen.rows] = chosen.propensity
    revenue[chosen.rows] = results["revenue_recovered"].fillna(0).to_numpy()
    picked = top_k(score, rate * 100)
    if (chosen.basis == "random").any():
        estimates = budget_estimates(
            score, hit, controlled, propensity, revenue, shares=(rate,), seed=seed
        )
        est = next(v for k, v in estimates.items() if k.startswith("precision@"))
        value, low, high = est.value, est.low, est.high
    elif controlled[picked].all():  # model only: its top rows are all controlled, exactly
        value = low = high = float(hit[picked].mean()) if len(picked) else float("nan")
    else:  # rows of the top the policy could never control: no unbiased estimate
        value = low = high = float("nan")
    top = rows[picked]
    return {
        "ips_precision": value,
        "ips_precision_low": low,
        "ips_precision_high": high,
        "true_found_precision": float(would_find[picked].mean()) if len(picked) else np.nan,
        "true_detectable_precision": float(world.control.detection_probability(top).mean()),
        "true_irregular_precision": float(world.control.irregular[top].mean()),
    }


@dataclass
class StrategyRun:
    """Weekly figures of one strategy (one row per week)."""

    strategy: Strategy
    weekly: pd.DataFrame


def week_bounds(world: BacktestWorld, weeks: int) -> list[tuple[int, int]]:
    """[start, end) seconds of the last ``weeks`` whole weeks of the world."""
    end = world.start + world.days * DAY
    begin = end - weeks * 7 * DAY
    if begin - world.start < 28 * DAY:
        raise ValueError(
            f"{weeks} weeks leave {(begin - world.start) // DAY} days of history: keep at"
            " least 28 days before the backtest"
        )
    return [(begin + w * 7 * DAY, begin + (w + 1) * 7 * DAY) for w in range(weeks)]


def run_strategy(
    world: BacktestWorld,
    strategy: Strategy,
    config: BacktestConfig,
    start: Start,
    progress: Callable[[str], None] = lambda _: None,
    client: Any = None,
) -> StrategyRun:
    """Replay the backtest weeks with one strategy from a copy of the initial state."""
    pipeline = copy.deepcopy(start.pipeline)
    known = start.labels
    labels = Labels(list(known.x), list(known.y), list(known.revenue), list(known.known_at))
    names = start.names
    scored = list(start.weeks)
    d = world.frames["declarations"]
    lodged = to_seconds(d["lodged_at"])
    filings, items = world.frames.get("ens_filings"), world.frames.get("ens_items")
    filed = to_seconds(filings["filed_at"]) if filings is not None else None
    bounds = week_bounds(world, config.weeks)
    model = fit_weekly_model(*labels.known_before(bounds[0][0]), names, strategy, config, client)
    records = []
    for week, (begin, end) in enumerate(bounds, start=1):
        rows = np.flatnonzero((lodged >= begin) & (lodged < end))
        frame = d.iloc[rows]
        if filings is not None:
            assert filed is not None
            linked = filings["filing_id"].isin(frame["ens_id"].dropna()).to_numpy()
            pipeline.update(frame, None, filings[linked | (filed < end)], items)
            x = pipeline.transform(frame, filings[linked], items)
        else:
            pipeline.update(frame)
            x = pipeline.transform(frame)
        p = model.probability(x)
        score = model.expected_revenue(x) if strategy.exploit == "revenue" else p
        rng = np.random.default_rng([config.seed, week, 1])
        drift = week_drift(world, scored, model, names)
        share = strategy.exploration
        if strategy.bounds is not None:
            share = exploration_share(drift, strategy.bounds)
        chosen = select(
            score,
            round(len(rows) * config.inspection_rate),
            strategy,
            rng,
            model.disagreement(x) if model.committee else None,
            share,
        )
        scored.append((rows, x))
        # every row's outcome drawn with the week's seed: a row selected by two strategies
        # gets the same result (common random numbers across strategies)
        everyone = world.control.reveal(
            rows,
            np.random.default_rng([config.seed, week, 0]),
            np.full(len(rows), "model", dtype=object),
            np.ones(len(rows)),
        )
        results = everyone.iloc[chosen.rows].assign(
            selection_basis=chosen.basis, propensity=chosen.propensity
        )
        pipeline.update(None, results)
        labels.add(x[chosen.rows], results)
        found = results["outcome"].isin(HIT_OUTCOMES).to_numpy()
        record = {"week": week, "week_start": pd.Timestamp(begin, unit="s", tz="UTC")}
        record.update(week_metrics(world, rows, chosen.rows, found))
        record.update(
            ips_check(world, rows, score, chosen, everyone, config.inspection_rate, config.seed)
        )
        record["labels_known"] = float((np.concatenate(labels.known_at) < end).sum())
        record["exploration_share"] = share
        record["drift_score_psi"] = drift.score_psi
        record["drift_features_moved"] = drift.features_moved
        record["drift_unseen_parties"] = drift.unseen_parties
        records.append(record)
        progress(f"{strategy.name}: week {week}/{config.weeks} recall {record['recall']:.3f}")
        if week < config.weeks:
            model = fit_weekly_model(*labels.known_before(end), names, strategy, config, client)
    return StrategyRun(strategy, pd.DataFrame.from_records(records))


def week_drift(
    world: BacktestWorld,
    scored: list[tuple[np.ndarray, np.ndarray]],
    model: WeeklyModel,
    names: list[str],
) -> DriftSignal:
    """Drift of the last scored week against the ``REFERENCE_WEEKS`` before it, both
    scored by ``model`` (the model about to select): what is known when the week starts."""
    recent_rows, recent_x = scored[-1]
    reference = scored[-1 - REFERENCE_WEEKS : -1]
    reference_x = np.concatenate([x for _, x in reference])
    d = world.frames["declarations"]
    first = int(recent_rows[0]) if len(recent_rows) else len(d)
    return drift_signal(
        names,
        reference_x,
        recent_x,
        model.probability(recent_x),
        model.probability(reference_x),
        d.iloc[recent_rows],
        d.iloc[:first],  # lodging order: every declaration lodged before the week
    )


def weeks_to_detection(world: BacktestWorld, weekly: pd.DataFrame, threshold: float) -> float:
    """Weeks from the drifting scheme's start until the strategy's selection holds at
    least ``threshold`` of that week's declarations of the scheme.

    Week 1 is the backtest week in which the scheme starts (the first backtest week when
    it started before the backtest); the answer is the number of that first week counted
    from week 1 (1: detected in the week it starts), NaN when no week reaches it.
    """
    ends = weekly["week_start"].map(lambda t: int(t.timestamp())) + 7 * DAY
    from_week = np.flatnonzero(ends.to_numpy() > world.drift_start)
    if not len(from_week):
        return float("nan")
    first = int(from_week[0])
    recall = weekly["scheme_recall"].to_numpy()
    for i in range(first, len(weekly)):
        if np.isfinite(recall[i]) and recall[i] >= threshold:
            return float(i - first + 1)
    return float("nan")


def run_backtest(
    world: BacktestWorld,
    strategies: Sequence[Strategy],
    config: BacktestConfig,
    progress: Callable[[str], None] = lambda _: None,
    make_pipeline: Callable[[], FeaturePipeline] = default_pipeline,
    client: Any = None,
) -> list[StrategyRun]:
    """Every strategy from the same initial state and model, on the same weeks.
    ``client``: a Dask client: the history's matrix and every tree model on its workers."""
    bounds = week_bounds(world, config.weeks)
    progress("fitting the initial state on the history")
    start = initial_state(world, bounds[0][0], make_pipeline, client)
    return [run_strategy(world, s, config, start, progress, client) for s in strategies]


def summary_table(
    world: BacktestWorld, runs: Sequence[StrategyRun], config: BacktestConfig
) -> pd.DataFrame:
    """One row per strategy: weekly means and the weeks to detect the drifting scheme."""
    out = []
    for run in runs:
        w = run.weekly
        out.append(
            {
                "strategy": run.strategy.name,
                "precision": w["precision"].mean(),
                "recall": w["recall"].mean(),
                "revenue": w["revenue"].mean(),
                "hits_share_of_best": w["hits_share_of_best"].mean(),
                "revenue_share_of_best": w["revenue_share_of_best"].mean(),
                "found_precision": w["found_precision"].mean(),
                "scheme_recall": w["scheme_recall"].mean(),
                "weeks_to_detection": weeks_to_detection(world, w, config.detection_recall),
                "exploration_share": w["exploration_share"].mean(),
                "ips_precision": w["ips_precision"].mean(),
                "true_found_precision": w["true_found_precision"].mean(),
                "true_detectable_precision": w["true_detectable_precision"].mean(),
            }
        )
    return pd.DataFrame(out)
