"""Warm-up of a freshly loaded scorer: one large batch scored before the first request.

Lookup structures are built on first use: pandas' hash tables of the vocabularies
(about 0.1 s per million values) and ONNX Runtime's buffers for large batches. Built
by a request, they stall it and, holding the GIL, every request beside it: on the
1M-declaration bundle the first batch of 1,000 after a load took 890 ms, the next ones
about 190 ms. Loading pays it instead, once per model, before the model serves.
"""

from __future__ import annotations

from serving.examples import smoke_sample
from serving.scoring import Scorer


def warm_up(scorer: Scorer, rows: int) -> None:
    """Score ``rows`` copies of the smoke sample without reasons (0: nothing)."""
    if rows <= 0:
        return
    sample = smoke_sample()
    records = [{**sample[i % len(sample)], "declaration_id": f"WARMUP-{i}"} for i in range(rows)]
    scorer.score_records(records, reasons=False)
