"""The multi-task risk network (PyTorch), in the manner of DATE (Kim et al., KDD 2020).

Inputs: the feature matrix (float32, NaN allowed) and hashed codes of the importer,
declarant, seller, HS6 and origin (index 0 = unseen). Preprocessing lives inside the
module (signed log, standardisation with training statistics clipped to +-``clip``
standard deviations, NaN -> 0 plus a missing flag, columns outside ``keep`` zeroed), so
the exported ONNX graph needs nothing but the raw features. The signed log is log1p on
the non-negative counts and amounts; the clip keeps a count far outside the training
range (a busy party, a history older than any training row saw) from driving the trunk
into a region it never learned, where trees merely stay in their last leaf. Heads:
irregularity logit, log1p revenue given an irregularity, and the risk type.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.torch_cache import use_user_cache

use_user_cache()  # before torch's compiler stack loads: its cache stays out of /tmp


class RiskNet(nn.Module):
    """Embeddings + MLP trunk + three heads."""

    def __init__(
        self,
        n_features: int,
        cardinalities: list[int],
        n_risk_types: int,
        mean: np.ndarray,
        std: np.ndarray,
        embedding_dim: int = 16,
        hidden: tuple[int, ...] = (256, 128),
        dropout: float = 0.1,
        clip: float = 5.0,
        keep: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("clip", torch.tensor(float(clip)))
        used = np.ones(n_features) if keep is None else np.asarray(keep, dtype=np.float32)
        self.register_buffer("keep", torch.as_tensor(used, dtype=torch.float32))
        # Upper bound of the revenue head when serving: log1p of the largest training revenue.
        self.register_buffer("revenue_cap", torch.tensor(20.0))
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dim) for c in cardinalities)
        width = 2 * n_features + embedding_dim * len(cardinalities)
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.irregular = nn.Linear(width, 1)
        self.revenue = nn.Linear(width, 1)
        self.risk = nn.Linear(width, max(n_risk_types, 1))

    @staticmethod
    def signed_log(x: torch.Tensor) -> torch.Tensor:
        return torch.sign(x) * torch.log1p(torch.abs(x))

    def forward(self, features: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(irregularity logit, log1p revenue if irregular, risk-type logits)."""
        h = self.hidden(features, codes)
        revenue = self.revenue(h).squeeze(1)
        if not self.training:  # no extrapolation beyond what training ever recovered
            revenue = torch.clamp(revenue, min=0.0, max=self.revenue_cap)
        return self.irregular(h).squeeze(1), revenue, self.risk(h)

    def hidden(self, features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The trunk's output, which the three heads read."""
        missing = torch.isnan(features)
        x = (
            self.signed_log(torch.where(missing, torch.zeros_like(features), features)) - self.mean
        ) / self.std
        x = torch.clamp(x, min=-self.clip, max=self.clip) * self.keep
        x = torch.cat([x, missing.to(x.dtype) * self.keep], dim=1)
        embedded = [emb(codes[:, j]) for j, emb in enumerate(self.embeddings)]
        return self.trunk(torch.cat([x, *embedded], dim=1))


def feature_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of signed-log features, NaN ignored, std floored at 1e-3."""
    z = np.sign(x) * np.log1p(np.abs(x))
    mean = np.nan_to_num(np.nanmean(z, axis=0))
    std = np.nan_to_num(np.nanstd(z, axis=0), nan=1.0)
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)
