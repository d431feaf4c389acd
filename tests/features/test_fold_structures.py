"""The structures that make folds cheap, against plain references: a two-level event
index against one sorted index, vocabularies against a dict, growable arrays."""

from __future__ import annotations

import numpy as np
import pytest

from features.events import EventIndex
from features.growable import Buffers
from features.layered import LayeredIndex
from features.vocab import Vocabulary


def _events(rng: np.random.Generator, n: int, codes: int) -> tuple[np.ndarray, ...]:
    code = rng.integers(-1, codes, n)  # -1: no entity, dropped
    time = rng.integers(1_000, 50_000, n)
    return code, time, rng.random(n), rng.integers(0, 2, n).astype(np.float64)


@pytest.mark.parametrize(("seed", "rows"), [(0, 200), (1, 200), (2, 1_000), (3, 20)])
def test_a_layered_index_answers_like_one_index_over_all_events(seed: int, rows: int) -> None:
    """Small batches search the delta, large ones read it by entity runs."""
    rng = np.random.default_rng(seed)
    code, time, value, hit = _events(rng, 3_000, 40)
    layered = LayeredIndex(code[:1_000], time[:1_000], {"v": value[:1_000], "h": hit[:1_000]})
    merges, cuts = 0, np.sort(rng.choice(np.arange(1_001, 3_000), 30, replace=False))
    for a, b in zip([1_000, *cuts], [*cuts, 3_000], strict=True):
        base = len(layered.base)
        layered.fold(code[a:b], time[a:b], {"v": value[a:b], "h": hit[a:b]})
        merges += len(layered.base) > base
        one = EventIndex(code[:b], time[:b], {"v": value[:b], "h": hit[:b]})
        q_code = rng.integers(-1, 45, (rows, 3))  # unseen and past-the-last codes too
        q_end = rng.integers(0, 60_000, (rows, 1))
        q_end[::2] = rng.choice(time[:b], (rows + 1) // 2)[:, None]  # at an event's time
        q_start = q_end - rng.integers(0, 20_000, (rows, 1))
        for start in (np.zeros_like(q_end), q_start):
            lo, hi = layered.bounds(q_code, start, q_end)
            ref_lo, ref_hi = one.bounds(q_code, start, q_end)
            np.testing.assert_array_equal(hi - lo, ref_hi - ref_lo)
            for name in ("v", "h"):
                np.testing.assert_allclose(
                    layered.total(name, lo, hi), one.total(name, ref_lo, ref_hi), atol=1e-9
                )
        np.testing.assert_array_equal(
            layered.first_time(q_code, q_end), one.first_time(q_code, q_end)
        )
        np.testing.assert_array_equal(
            layered.first_times(layered.starts_of(q_code), layered.positions(q_code, q_end)),
            one.first_time(q_code, q_end),
        )
    assert merges >= 2  # the delta was merged into the base, and queried before that
    assert len(layered) == len(one)


def test_entities_past_the_last_one_with_events_have_none() -> None:
    index = EventIndex(np.array([0, 1, 2]), np.array([10, 20, 30]), {})
    assert index.count(np.array([2, 3, 9]), np.zeros(3), np.full(3, 100)).tolist() == [1, 0, 0]


def test_encode_adds_the_unseen_and_codes_like_a_dict() -> None:
    rng = np.random.default_rng(3)
    vocab, reference = Vocabulary(), {}
    for size in (10, 70, 3_000, 5, 2_500, 400):
        values = np.array(
            [None if k % 17 == 0 else f"V{v}" for k, v in enumerate(rng.integers(0, 3_000, size))],
            dtype=object,
        )
        for v in values:
            if v is not None:
                reference.setdefault(v, len(reference))
        expected = [reference.get(v, -1) for v in values]
        assert vocab.encode(values).tolist() == expected
        assert vocab.codes(values).tolist() == expected  # the batch path (pandas) too
        assert vocab.codes(values, dict_up_to=10_000).tolist() == expected
    assert vocab.values.tolist() == list(reference)
    assert vocab.codes(np.array([float("nan"), "nope", None], dtype=object)).tolist() == [-1] * 3


def test_a_warm_vocabulary_stays_warm_while_values_are_added() -> None:
    vocab = Vocabulary([f"K{i}" for i in range(1_000)])
    assert not vocab.indexed
    vocab.codes(np.array([f"K{i}" for i in range(100)], dtype=object))
    assert vocab.indexed
    for step in range(5):  # more values than the base holds: rebuilt, table and all
        vocab.add(np.array([f"N{step}-{i}" for i in range(400)], dtype=object))
        assert vocab.indexed
    found = vocab.codes(np.array(["K5", "N4-399", "N0-0", "nope"] * 30, dtype=object))
    assert found[:4].tolist() == [5, 2_999, 1_000, -1]


def test_buffers_append_in_place_and_never_over_another_copy() -> None:
    grow = Buffers()
    a = grow.extend("x", np.zeros(0, np.int64), np.arange(3))
    b = grow.extend("x", a, np.arange(3, 5))
    assert b.tolist() == [0, 1, 2, 3, 4]
    assert np.shares_memory(a, b)  # the buffer had room: only the new rows were copied
    fork = grow.extend("x", a, np.array([9]))  # a stale view: a fresh buffer
    assert fork.tolist() == [0, 1, 2, 9]
    assert b.tolist() == [0, 1, 2, 3, 4]
    c = grow.extend("x", b, np.arange(5, 200))
    assert c.tolist() == list(range(200))


def test_times_of_lists_every_event_of_each_code_in_both_levels() -> None:
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 30, 3000)
    times = rng.integers(1_000, 2_000_000, 3000)
    index = LayeredIndex(codes[:2000], times[:2000], {"v": np.ones(2000)})
    index.fold(codes[2000:], times[2000:], {"v": np.ones(1000)})
    asked = np.array([3, 29, 7, 31])  # 31 has no event
    which, got = index.times_of(asked)
    for k, code in enumerate(asked):
        np.testing.assert_array_equal(got[which == k], np.sort(times[codes == code]))
    assert len(got) == np.isin(codes, asked).sum()
