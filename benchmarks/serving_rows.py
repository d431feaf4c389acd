"""The model and request rows the serving benchmarks share: a bundle, its world, and the
world's last declarations as API records (ENS embedded)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--bundle/--world (reuse a trained bundle) or --days/--per-day (train one)."""
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--world", type=Path)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=1000)


def bundle_and_world(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """The given bundle and world, or a world generated and trained under ``work``."""
    if args.bundle and args.world:
        return args.bundle, args.world
    from synth import WorldConfig, generate_world, write_world
    from training.sources import canonical_frames
    from training.train import train

    world_dir = work / "world"
    write_world(
        generate_world(WorldConfig(days=args.days, declarations_per_day=args.per_day)), world_dir
    )
    result = train(canonical_frames(world_dir), work / "mlruns", work_dir=work)
    return result.bundle, world_dir


def request_records(world: Path, count: int = 2000) -> list[dict[str, Any]]:
    """The world's last ``count`` declarations as API records, ENS embedded."""
    from training.smoke import smoke_records
    from training.sources import canonical_frames

    frames = canonical_frames(world)
    n = len(frames["declarations"])
    return smoke_records(frames, np.arange(n - count, n))
