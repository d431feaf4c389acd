"""Point-in-time features of customs declarations: operator and goods profiles,
valuation against robust baselines, routes and ENS filings, AEO flags.

Imports pandas/numpy only (and the canonical data model); never graph, models,
training or serving. ``FeaturePipeline`` is the entry point.
"""

from features.pipeline import FeaturePipeline, NotFittedError, default_blocks
from features.spec import FEATURE_CODE_VERSION, FeatureSpec

__all__ = [
    "FEATURE_CODE_VERSION",
    "FeaturePipeline",
    "FeatureSpec",
    "NotFittedError",
    "default_blocks",
]
