"""The network's input clipping and column mask live in the module, so the exported
graph applies them exactly as torch does."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from models.export import export_network
from models.network import RiskNet, feature_statistics
from models.train_network import predict_network

N_FEATURES = 6


def _net(keep: np.ndarray) -> RiskNet:
    rng = np.random.default_rng(0)
    mean, std = feature_statistics(rng.lognormal(2, 1, size=(500, N_FEATURES)))
    torch.manual_seed(0)
    return RiskNet(N_FEATURES, [16] * 5, 3, mean, std, clip=2.0, keep=keep).eval()


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(2, 3, size=(n, N_FEATURES)).astype(np.float32)  # far past +-2 sd
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, rng.integers(0, 16, (n, 5))


def test_clipped_and_masked_inputs_match_torch_in_onnx() -> None:
    keep = np.array([1, 1, 0, 1, 0, 1], dtype=bool)
    net = _net(keep)
    x, codes = _rows(2000, 1)
    session = ort.InferenceSession(
        export_network(net, N_FEATURES).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    p_onnx = session.run(["p_network"], {"features": x, "codes": codes})[0]
    reference = predict_network(net, x, codes)["p"]
    np.testing.assert_allclose(p_onnx, reference, atol=1e-5)
    # the dropped columns change nothing, missing or not, however large
    other = x.copy()
    other[:, ~keep] = np.where(np.isnan(other[:, ~keep]), 1e9, np.nan)
    np.testing.assert_array_equal(predict_network(net, other, codes)["p"], reference)
    np.testing.assert_allclose(
        session.run(["p_network"], {"features": other, "codes": codes})[0], p_onnx, atol=1e-6
    )
    # beyond the clip, a larger value changes nothing either
    huge = x.copy()
    huge[:, 0] = np.where(np.isnan(huge[:, 0]), np.nan, 1e12)
    bigger = huge.copy()
    bigger[:, 0] = np.where(np.isnan(bigger[:, 0]), np.nan, 1e30)
    np.testing.assert_array_equal(
        predict_network(net, huge, codes)["p"], predict_network(net, bigger, codes)["p"]
    )
