"""Micro-batching: concurrent requests gathered so the scorer sees batches, not rows.

Requests put jobs (a payload and its row count) on an asyncio queue; one worker takes
the first waiting job, then whatever else arrives within ``max_wait`` seconds, up to
``max_rows`` rows (a job never splits; a larger job runs alone), and runs ``process``
on the batch in a thread. ``process`` returns one result per job, resolving each
job's future. If a batch fails, its jobs are retried one by one, so a job that cannot
be processed fails alone and the others are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
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
    """Gathers jobs into micro-batches processed one at a time in a worker thread."""

    def __init__(
        self,
        process: Callable[[Sequence[P]], Sequence[R]],
        max_rows: int = 64,
        max_wait: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._process = process
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job[P, R] | _Stop] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

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
        """Process what is queued, then stop the worker."""
        self._closed = True
        await self._queue.put(_STOP)
        if self._worker is not None:
            await self._worker

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
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if isinstance(job, _Stop) or rows + job.rows > self.max_rows:
                return jobs, job
            jobs.append(job)
            rows += job.rows
        return jobs, None

    async def _run(self) -> None:
        held: _Job[P, R] | _Stop | None = None
        while True:
            job = held if held is not None else await self._queue.get()
            if isinstance(job, _Stop):
                return
            jobs, held = await self._gather(job)
            await self._execute(jobs)

    async def _execute(self, jobs: list[_Job[P, R]]) -> None:
        """Process ``jobs`` in a thread; on failure retry them one by one."""
        if self._on_batch is not None:
            self._on_batch(sum(j.rows for j in jobs))
        try:
            results = await asyncio.to_thread(self._process, [j.payload for j in jobs])
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
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)


def _fail(job: _Job[Any, Any], exc: Exception) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        job.future.set_exception(exc)
