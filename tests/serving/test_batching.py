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


def test_light_batches_run_on_the_loop_and_heavy_ones_in_a_thread() -> None:
    threads: dict[str, set[int]] = {"light": set(), "heavy": set()}

    def process(jobs):
        kind = "heavy" if "heavy" in jobs else "light"
        threads[kind].add(threading.get_ident())
        return jobs

    async def main():
        b = MicroBatcher(process, max_rows=1, inline=lambda jobs: "heavy" not in jobs)
        b.start()
        out = [await b.submit("light"), await b.submit("heavy")]
        await b.stop()
        return out, threading.get_ident()

    out, loop_thread = _run(main())
    assert out == ["light", "heavy"]
    assert threads["light"] == {loop_thread}
    assert loop_thread not in threads["heavy"]


def test_answers_wait_for_their_commit_and_the_next_batch_does_not() -> None:
    """A job is answered only after its batch's commit; meanwhile the next batch runs."""
    committed: list[int] = []
    processed: list[int] = []
    release = threading.Event()

    def process(jobs):
        processed.extend(jobs)
        return jobs

    def commit(results):
        if 0 in results:
            assert release.wait(5)
        committed.extend(results)

    async def main():
        b = MicroBatcher(process, max_rows=1, commit=commit, inline=lambda jobs: True)
        b.start()
        first = asyncio.ensure_future(b.submit(0))
        second = asyncio.ensure_future(b.submit(1))
        for _ in range(200):
            if processed == [0, 1]:
                break
            await asyncio.sleep(0.005)
        state = (list(processed), list(committed), first.done())
        release.set()
        await asyncio.gather(first, second)
        await b.stop()
        return state, first.result(), second.result()

    (processed_then, committed_then, first_done), a, b = _run(main())
    assert processed_then == [0, 1]  # the second batch ran while the first was committing
    assert 0 not in committed_then
    assert not first_done
    assert (a, b) == (0, 1)
    assert sorted(committed) == [0, 1]


def test_a_failed_commit_fails_its_jobs_and_stop_waits_for_commits() -> None:
    committed: list[str] = []

    def commit(results):
        if "doomed" in results:
            raise OSError("disk full")
        committed.extend(results)

    async def main():
        b = MicroBatcher(lambda jobs: list(jobs), max_rows=1, commit=commit)
        b.start()
        pending = [asyncio.ensure_future(b.submit(x)) for x in ("a", "doomed", "c")]
        await asyncio.sleep(0)
        await b.stop()
        return [p.exception() or p.result() for p in pending]

    a, doomed, c = _run(main())
    assert (a, c) == ("a", "c")
    assert isinstance(doomed, OSError)
    assert committed == ["a", "c"]


def test_the_worker_stays_at_most_max_pending_commits_ahead() -> None:
    processed: list[int] = []
    release = threading.Event()

    def process(jobs):
        processed.extend(jobs)
        return jobs

    def commit(results):
        if 0 in results:
            assert release.wait(5)

    async def main():
        b = MicroBatcher(
            process, max_rows=1, commit=commit, inline=lambda jobs: True, max_pending_commits=1
        )
        b.start()
        pending = [asyncio.ensure_future(b.submit(i)) for i in range(3)]
        for _ in range(40):
            await asyncio.sleep(0.005)
        held = list(processed)
        release.set()
        out = await asyncio.gather(*pending)
        await b.stop()
        return held, out

    held, out = _run(main())
    assert held == [0, 1]  # batch 1 scored, waiting for room; batch 2 not yet taken
    assert out == [0, 1, 2]
