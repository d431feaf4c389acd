"""Training loop of the risk network: joint loss, early stopping, deterministic on CPU.

Without a validation set (the refit on all labelled history), it runs ``config.epochs``
epochs and keeps the last state: the refit passes the early-stopped epoch count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.metrics import precision_at
from models.network import RiskNet, feature_statistics


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of the network and its training."""

    epochs: int = 25
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    revenue_weight: float = 0.1
    risk_weight: float = 0.1
    patience: int = 4
    max_pos_weight: float = 10.0
    clip: float = 5.0  # standardised inputs clipped to +- this many standard deviations
    seed: int = 0
    threads: int = 2


@dataclass
class NetworkData:
    """Arrays of one split."""

    features: np.ndarray
    codes: np.ndarray
    y: np.ndarray
    revenue: np.ndarray
    risk: np.ndarray  # risk type index, -1 when none
    weight: np.ndarray


def _tensors(data: NetworkData) -> tuple[torch.Tensor, ...]:
    return (
        torch.as_tensor(data.features, dtype=torch.float32),
        torch.as_tensor(data.codes, dtype=torch.int64),
        torch.as_tensor(data.y, dtype=torch.float32),
        torch.as_tensor(np.log1p(data.revenue), dtype=torch.float32),
        torch.as_tensor(data.risk, dtype=torch.int64),
        torch.as_tensor(data.weight, dtype=torch.float32),
    )


def predict_network(net: RiskNet, features: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Probability, log1p revenue and risk-type probabilities, in eval mode."""
    net.eval()
    out = {"p": [], "log_revenue": [], "risk": []}
    with torch.no_grad():
        for start in range(0, len(features), 65_536):
            logit, rev, risk = net(
                torch.as_tensor(features[start : start + 65_536], dtype=torch.float32),
                torch.as_tensor(codes[start : start + 65_536], dtype=torch.int64),
            )
            out["p"].append(torch.sigmoid(logit).numpy())
            out["log_revenue"].append(rev.numpy())
            out["risk"].append(torch.softmax(risk, dim=1).numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def train_network(
    train: NetworkData,
    valid: NetworkData | None,
    cardinalities: list[int],
    n_risk_types: int,
    config: NetworkConfig,
    keep: np.ndarray | None = None,
) -> tuple[RiskNet, dict[str, float]]:
    """Train with early stopping on validation precision@5 % and return the best network
    (without ``valid``: ``config.epochs`` epochs, the last state); it reads only the
    feature columns in ``keep`` (all when None)."""
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.threads)
    mean, std = feature_statistics(train.features)
    net = RiskNet(
        train.features.shape[1],
        cardinalities,
        n_risk_types,
        mean,
        std,
        clip=config.clip,
        keep=keep,
    )
    net.revenue_cap.fill_(float(np.log1p(train.revenue.max(initial=0.0))) + 0.1)
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    x, c, y, rev, risk, w = _tensors(train)
    positives = float(train.y.sum())
    pos_weight = min((len(train.y) - positives) / max(positives, 1.0), config.max_pos_weight)
    bce = nn.BCEWithLogitsLoss(reduction="none", pos_weight=torch.tensor(pos_weight))
    generator = torch.Generator().manual_seed(config.seed)
    best_state, best_score, best_epoch, stale, history = None, -1.0, 0, 0, {}
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(order), config.batch_size):
            b = order[start : start + config.batch_size]
            logit, rev_hat, risk_hat = net(x[b], c[b])
            loss = (bce(logit, y[b]) * w[b]).mean()
            hit = y[b] > 0
            if hit.any():
                loss = loss + config.revenue_weight * ((rev_hat[hit] - rev[b][hit]) ** 2).mean()
                typed = hit & (risk[b] >= 0)
                if typed.any():
                    loss = loss + config.risk_weight * nn.functional.cross_entropy(
                        risk_hat[typed], risk[b][typed]
                    )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if valid is None:
            history[f"epoch_{epoch}"] = float("nan")
            continue
        score = precision_at(predict_network(net, valid.features, valid.codes)["p"], valid.y, 5)
        history[f"epoch_{epoch}"] = score
        if score > best_score:
            best_score, best_epoch, stale = score, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    if valid is None:
        best_epoch = len(history)
    ridge = refit_revenue_head(net, train, valid)
    return net, {
        "best_valid_precision_at_5": best_score,
        "epochs_run": float(len(history)),
        "best_epoch": float(best_epoch),
        "revenue_head_ridge": ridge,
    }


RIDGE_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # ridge penalties, per training hit
RIDGE_DEFAULT = 1.0  # without enough validation hits to choose
MIN_VALID_HITS = 10


def _hidden_of_hits(net: RiskNet, data: NetworkData) -> tuple[np.ndarray, np.ndarray]:
    hit = data.y > 0
    with torch.no_grad():
        h = net.hidden(
            torch.as_tensor(data.features[hit], dtype=torch.float32),
            torch.as_tensor(data.codes[hit], dtype=torch.int64),
        )
    return h.numpy().astype(np.float64), np.log1p(data.revenue[hit])


def refit_revenue_head(net: RiskNet, train: NetworkData, valid: NetworkData | None) -> float:
    """Refit the revenue head on the final trunk by ridge regression on the training hits.

    The trunk is kept where validation precision peaked, which can be an epoch where the
    revenue head (a small share of the loss, on a few hundred hits) is still far from
    fitted: its predictions then spread from nothing to the cap and the expected revenue
    of held-out hits was 3-8x the revenue found. Given the trunk, the head is a linear
    least-squares problem: solved exactly, its penalty chosen on the validation hits
    (squared error of log1p revenue), ``RIDGE_DEFAULT`` with fewer than
    ``MIN_VALID_HITS``. Returns the penalty used (per training hit); the head is left as
    trained when there are no training hits.
    """
    h, target = _hidden_of_hits(net, train)
    if len(target) == 0:
        return float("nan")
    centre, level = h.mean(axis=0), float(target.mean())
    hc, tc = h - centre, target - level
    gram, moment = hc.T @ hc, hc.T @ tc
    eye = np.eye(h.shape[1])

    def solve(penalty: float) -> np.ndarray:
        return np.linalg.solve(gram + penalty * len(target) * eye, moment)

    chosen = RIDGE_DEFAULT
    if valid is not None and int((valid.y > 0).sum()) >= MIN_VALID_HITS:
        hv, tv = _hidden_of_hits(net, valid)
        errors = [float(np.mean(((hv - centre) @ solve(p) + level - tv) ** 2)) for p in RIDGE_GRID]
        chosen = RIDGE_GRID[int(np.argmin(errors))]
    coef = solve(chosen)
    with torch.no_grad():
        net.revenue.weight.copy_(torch.as_tensor(coef[None, :], dtype=torch.float32))
        net.revenue.bias.fill_(float(level - centre @ coef))
    return float(chosen)
