"""Micro-batching: concurrent requests gathered so the scorer sees batches, not rows.

Requests put jobs (a payload and its row count) on an asyncio queue; one worker takes
the first waiting job, then whatever else arrives within ``max_wait`` seconds, up to
``max_rows`` rows (a job never splits; a larger job runs alone), and runs ``process``
on the batch. If a batch fails, its jobs are retried one by one, so a job that cannot
be processed fails alone and the others are answered.

``process`` returns one result per job. ``commit`` (optional: blocking I/O such as
the durable write of the decisions) then runs on those results in a single commit
thread, and only after it are the jobs' futures resolved. Commits are pipelined: the
worker goes on to the next batch while the previous one is being written (at most
``max_pending_commits`` behind), so the fsync overlaps the next batch's work. A failed
commit fails the jobs of its batch.

A batch that ``inline`` calls light runs on the event loop itself: for a few rows the
hop to a worker thread, and the two threads then contending for the GIL, cost more
than the work. Heavy batches (many rows, TreeSHAP) go to a thread, so the loop keeps
reading requests while they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger("serving.batching")
P = TypeVar("P")
R = TypeVar("R")


@dataclass
class _Job(Generic[P, R]):
    payload: P
    rows: int
    future: asyncio.Future[R] = field(repr=False)


class _Stop:
    """Queued by ``stop``: every job queued before it is processed, then the worker ends."""


_STOP = _Stop()


class BatcherClosedError(RuntimeError):
    """The batcher no longer accepts jobs (the app is shutting down)."""


class MicroBatcher(Generic[P, R]):
    """Gathers jobs into micro-batches processed one at a time, in a worker thread
    unless ``inline`` says the batch is light."""

    def __init__(
        self,
        process: Callable[[Sequence[P]], Sequence[R]],
        max_rows: int = 64,
        max_wait: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
        inline: Callable[[Sequence[P]], bool] | None = None,
        settle_turns: int = 3,
        commit: Callable[[Sequence[R]], None] | None = None,
        max_pending_commits: int = 2,
    ) -> None:
        self._process = process
        self._inline = inline
        self._commit = commit
        self.settle_turns = settle_turns
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job[P, R] | _Stop] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.max_pending_commits = max_pending_commits
        self._pending: set[asyncio.Task[None]] = set()
        self._committer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
            if commit is not None
            else None
        )

    def start(self) -> None:
        """Start the worker on the running loop."""
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def submit(self, payload: P, rows: int = 1) -> R:
        """Queue a job and wait for its result (or its exception)."""
        if self._closed:
            raise BatcherClosedError("the service is shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(payload, rows, future))
        return await future

    async def stop(self) -> None:
        """Process and commit what is queued, then stop the worker."""
        self._closed = True
        await self._queue.put(_STOP)
        if self._worker is not None:
            await self._worker
        if self._pending:
            await asyncio.wait(self._pending)
        if self._committer is not None:
            self._committer.shutdown(wait=True)

    async def _gather(
        self, first: _Job[P, R]
    ) -> tuple[list[_Job[P, R]], _Job[P, R] | _Stop | None]:
        """The batch starting with ``first``, and a job kept for the next batch (if any)."""
        loop = asyncio.get_running_loop()
        jobs, rows = [first], first.rows
        deadline = loop.time() + self.max_wait
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                found = await self._next_arrival(deadline)
                if found is None:
                    break
                job = found
            if isinstance(job, _Stop) or rows + job.rows > self.max_rows:
                return jobs, job
            jobs.append(job)
            rows += job.rows
        return jobs, None

    async def _next_arrival(self, deadline: float) -> _Job[P, R] | _Stop | None:
        """The next job to arrive before ``deadline``; first a few turns of the loop, so
        requests whose bytes have already been read (parsed and validated on those
        turns) join this batch rather than wait for the next."""
        for _ in range(self.settle_turns):
            await asyncio.sleep(0)
            if not self._queue.empty():
                return self._queue.get_nowait()
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), remaining)
        except TimeoutError:
            return None

    async def _run(self) -> None:
        held: _Job[P, R] | _Stop | None = None
        while True:
            job = held if held is not None else await self._queue.get()
            if isinstance(job, _Stop):
                return
            jobs, held = await self._gather(job)
            await self._execute(jobs)

    async def _execute(self, jobs: list[_Job[P, R]]) -> None:
        """Process ``jobs`` (inline or in a thread), then queue their commit; on a
        processing failure retry them one by one."""
        if self._on_batch is not None:
            self._on_batch(sum(j.rows for j in jobs))
        payloads = [j.payload for j in jobs]
        try:
            if self._inline is not None and self._inline(payloads):
                results = self._process(payloads)
            else:
                results = await asyncio.to_thread(self._process, payloads)
        except Exception as exc:
            if len(jobs) == 1:
                _fail(jobs[0], exc)
                return
            logger.warning(
                "micro-batch of %d jobs failed (%s); retrying each", len(jobs), type(exc).__name__
            )
            for job in jobs:
                await self._execute([job])
            return
        if self._committer is None:
            _resolve(jobs, results)
            return
        await self._room_for_commit()
        task = asyncio.get_running_loop().create_task(self._finish(jobs, results))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _room_for_commit(self) -> None:
        """Wait while ``max_pending_commits`` commits are still running."""
        while True:
            live = [t for t in self._pending if not t.done()]
            if len(live) < self.max_pending_commits:
                return
            await asyncio.wait(live, return_when=asyncio.FIRST_COMPLETED)

    async def _finish(self, jobs: list[_Job[P, R]], results: Sequence[R]) -> None:
        """Commit a processed batch in the commit thread, then answer its jobs."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._committer, self._commit, results)  # type: ignore[arg-type]
        except Exception as exc:
            logger.error("commit of a batch of %d jobs failed: %s", len(jobs), exc)
            for job in jobs:
                _fail(job, exc)
            return
        _resolve(jobs, results)


def _resolve(jobs: list[_Job[P, R]], results: Sequence[R]) -> None:
    for job, result in zip(jobs, results, strict=True):
        if not job.future.done():
            job.future.set_result(result)


def _fail(job: _Job[Any, Any], exc: Exception) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        job.future.set_exception(exc)
