"""The Dask cluster a ``--dask`` command runs on: a local one, or a scheduler's address."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOCAL = "local"


@contextmanager
def dask_client(scheduler: str, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``: ``local`` starts a LocalCluster of
    ``workers`` processes (default: the cores) with one thread each, stopped on exit;
    anything else is a scheduler address (``tcp://host:8786``) of a running cluster."""
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        with (
            LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def optional_client(
    scheduler: str | None, workers: int | None = None
) -> contextlib.AbstractContextManager[Any]:
    """``dask_client`` when a scheduler is given (``--dask``), else a context giving None
    (the command runs in this process)."""
    if scheduler is None:
        return contextlib.nullcontext()
    return dask_client(scheduler, workers)


def describe(client: Any) -> str:
    """``2 workers at tcp://...`` for the command's output."""
    info = client.scheduler_info()
    return f"{len(info.get('workers', {}))} workers at {info.get('address', '?')}"
