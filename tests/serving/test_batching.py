"""The micro-batcher gathers concurrent jobs, respects its size, isolates failures."""

from __future__ import annotations

import asyncio
import threading

import pytest

from serving.batching import BatcherClosedError, MicroBatcher


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_jobs_share_a_batch_and_get_their_own_results() -> None:
    seen: list[list[int]] = []

    def process(jobs):
        seen.append(list(jobs))
        return [j * 10 for j in jobs]

    async def main():
        b = MicroBatcher(process, max_rows=64, max_wait=0.05)
        b.start()
        results = await asyncio.gather(*(b.submit(i) for i in range(20)))
        await b.stop()
        return results

    assert _run(main()) == [i * 10 for i in range(20)]
    assert len(seen) < 5
    assert sorted(x for s in seen for x in s) == list(range(20))


def test_batches_stay_within_max_rows_and_big_jobs_run_alone() -> None:
    sizes: list[int] = []

    def process(jobs):
        sizes.append(sum(rows for rows, _ in jobs))
        return [tag for _, tag in jobs]

    async def main():
        b = MicroBatcher(process, max_rows=8, max_wait=0.05)
        b.start()
        jobs = [b.submit((3, i), rows=3) for i in range(6)] + [b.submit((100, "big"), rows=100)]
        out = await asyncio.gather(*jobs)
        await b.stop()
        return out

    assert _run(main()) == [0, 1, 2, 3, 4, 5, "big"]
    assert 100 in sizes
    assert all(s <= 8 for s in sizes if s != 100)


def test_a_failing_job_fails_alone() -> None:
    def process(jobs):
        if "bad" in jobs:
            raise ValueError("bad job")
        return [j.upper() for j in jobs]

    async def main():
        b = MicroBatcher(process, max_rows=64, max_wait=0.05)
        b.start()
        out = await asyncio.gather(
            *(b.submit(x) for x in ("a", "bad", "c")), return_exceptions=True
        )
        await b.stop()
        return out

    a, bad, c = _run(main())
    assert (a, c) == ("A", "C")
    assert isinstance(bad, ValueError)


def test_work_runs_off_the_event_loop_thread_and_stop_drains() -> None:
    threads: set[int] = set()

    def process(jobs):
        threads.add(threading.get_ident())
        return jobs

    async def main():
        b = MicroBatcher(process, max_rows=4, max_wait=0.001)
        b.start()
        pending = [asyncio.ensure_future(b.submit(i)) for i in range(10)]
        await asyncio.sleep(0)
        await b.stop()
        with pytest.raises(BatcherClosedError):
            await b.submit(99)
        return await asyncio.gather(*pending), threading.get_ident()

    results, loop_thread = _run(main())
    assert results == list(range(10))
    assert loop_thread not in threads
