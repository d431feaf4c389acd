"""Render the explanation page of one declaration from a bundle and canonical data.

    python -m serving.explain --bundle BUNDLE_DIR --data CANONICAL_DIR --out page.html
        [--declaration ID]   (default: the highest score among the last 2,000 declarations)

The page is written as a self-contained HTML file (no external asset).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from canonical.frames import read_dataset
from serving.explain.page import render_explanation_for
from serving.explain.record import declaration_from_frames
from serving.scoring import Scorer


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, score, render, write; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m serving.explain", description=__doc__)
    parser.add_argument("--bundle", type=Path, required=True, help="model bundle directory")
    parser.add_argument("--data", type=Path, required=True, help="canonical tables directory")
    parser.add_argument("--out", type=Path, required=True, help="HTML file to write")
    parser.add_argument("--declaration", help="declaration id (default: highest recent score)")
    args = parser.parse_args(argv)
    scorer = Scorer.from_bundle(args.bundle, device="cpu")
    frames = read_dataset(args.data)
    decl = frames["declarations"]
    filings, items = frames.get("ens_filings"), frames.get("ens_items")
    chosen = args.declaration
    if chosen is None:
        recent = decl.sort_values("lodged_at").tail(2000)
        scores = scorer.score_frame(recent, filings, items, reasons=False).score
        chosen = str(recent["declaration_id"].iloc[int(np.argmax(scores))])
    declaration = declaration_from_frames(decl, chosen, filings, items)
    page = render_explanation_for(declaration, scorer)  # a preview decision
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"{chosen} -> {args.out} ({len(page):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
