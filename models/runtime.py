"""The serving-side scorer: one tuned ONNX Runtime session, on CUDA when it really works.

Imports numpy and onnxruntime only (no torch, lightgbm, onnxmltools), so serving stays
light. The onnxruntime-gpu wheel lists CUDAExecutionProvider even where CUDA or cuDNN
is missing, and then silently builds a CPU session; the provider actually in use is
read back from the session, and the fallback is logged once on "models.runtime".

Small batches on CPU: ONNX Runtime's TreeEnsemble walks batches of 2 to 50 rows on one
thread (its hard-coded parallel_N_ = 50), where LightGBM spreads rows over all cores.
Batches of 12 to 50 rows are cut into chunks of >= 6 rows (>= 12 for graphs with the
network, whose fixed per-run cost each chunk pays again) run concurrently by the
calling thread and ``threads - 1`` daemon workers on a second, one-thread session (on
the main session the chunks fought over its intra-op pool); the hand-off is a
SimpleQueue (ORT's ``run_async`` and a ThreadPoolExecutor measured 30-60 us slower per
call) and the caller, which starts first, takes 1.125 times an even share. On 2 idle
cores, 16 rows went from 330 us to 210-260 us (native LightGBM: 270-300 us). Smaller
batches (1-11 rows, the micro-batches of single requests) run on the one-thread session
too: waking the main session's intra-op pool for the network's few operations cost
more than they take (8 rows: 0.14 ms pooled, 0.09 ms on one thread, idle cores).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import weakref
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

logger = logging.getLogger("models.runtime")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
_ORT_ERRORS = (RuntimeError, _ort_state.Fail, _ort_state.RuntimeException, _ort_state.EPFail)
_ORT_DEFAULT_SEVERITY = 2  # onnxruntime's own default (warning)
SEQUENTIAL_ROWS = 50  # TreeEnsemble runs batches up to this size on one thread
MIN_CHUNK_ROWS = 6  # below this per chunk, the hand-off costs more than it saves
MIN_CHUNK_ROWS_NETWORK = 12  # graphs with the network: its fixed cost is paid per chunk
MAIN_SHARE = 1.125  # the caller's chunk relative to an even share (workers wake late)


def _work(session: ort.InferenceSession, names: list[str], tasks: queue.SimpleQueue) -> None:
    """Worker loop: run (index, feed, reply queue) tasks until a None arrives."""
    while (task := tasks.get()) is not None:
        index, feed, replies = task
        try:
            replies.put((index, session.run(names, feed)))
        except Exception as error:  # handed to the caller, which raises it
            replies.put((index, error))


def _stop(tasks: queue.SimpleQueue, count: int) -> None:
    for _ in range(count):
        tasks.put(None)


def session_options(
    intra_op_threads: int | None = None, spinning: bool = True
) -> ort.SessionOptions:
    """Options measured in benchmarks/onnx_scorer.py: full graph optimisation, sequential.
    ``spinning=False``: idle pool threads sleep instead of spinning, leaving the cores to
    the rest of a server (its event loop, its log writer) between small runs."""
    options = ort.SessionOptions()
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads or 0  # 0: one per physical core
    options.inter_op_num_threads = 1  # sequential execution uses no inter-op pool
    options.enable_cpu_mem_arena = True
    options.enable_mem_pattern = True
    options.log_severity_level = 3
    return options


def _cuda_session(model: bytes, options: ort.SessionOptions) -> ort.InferenceSession | None:
    """A session whose first provider is CUDA, or None when CUDA cannot be used here."""
    if CUDA not in ort.get_available_providers():
        return None
    # ORT prints its own multi-line error when the CUDA libraries are missing; this
    # module logs the one line that matters, so ORT's logger is quiet for the attempt.
    ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(model, options, providers=[CUDA, CPU])
    except _ORT_ERRORS:
        return None
    finally:
        ort.set_default_logger_severity(_ORT_DEFAULT_SEVERITY)
    return session if session.get_providers()[0] == CUDA else None


class OnnxScorer:
    """Runs one exported graph (a scorer, trees or network) on CUDA or CPU.

    ``device``: "auto" uses CUDA when a CUDA session can really be built, else CPU with
    one log line; "cuda" demands CUDA (RuntimeError otherwise); "cpu" never tries it.
    ``require_gpu`` turns the fallback of "auto" into a RuntimeError.
    ``split_small_batches``: on CPU, run 12-50-row batches as concurrent chunks (see
    the module docstring); turn off where other work already keeps every core busy.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        device: str = "auto",
        require_gpu: bool = False,
        intra_op_threads: int | None = None,
        split_small_batches: bool = True,
        spinning: bool = True,
    ) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        if require_gpu and device == "cpu":
            raise ValueError("require_gpu=True contradicts device='cpu'")
        self.path = Path(path)
        model = self.path.read_bytes()
        options = session_options(intra_op_threads, spinning)
        session = None if device == "cpu" else _cuda_session(model, options)
        if session is None and device != "cpu":
            reason = (
                "onnxruntime has no CUDA provider"
                if CUDA not in ort.get_available_providers()
                else "the CUDA provider could not start (no GPU, or CUDA 12 / cuDNN 9 "
                "libraries missing)"
            )
            if require_gpu or device == "cuda":
                raise RuntimeError(
                    f"CUDA is required to score {self.path.name} but is not in "
                    f"use: {reason}; onnxruntime {ort.__version__}, providers "
                    f"{ort.get_available_providers()}"
                )
            logger.warning("CUDA unavailable (%s); scoring %s on CPU", reason, self.path.name)
        self.session = session or ort.InferenceSession(model, options, providers=[CPU])
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.threads = intra_op_threads or os.cpu_count() or 1
        self.split_small_batches = split_small_batches
        self._min_chunk = MIN_CHUNK_ROWS_NETWORK if "codes" in self._inputs else MIN_CHUNK_ROWS
        self._lock = threading.Lock()
        self._provider = self.session.get_providers()[0]
        self._tasks: queue.SimpleQueue | None = None
        self._small: ort.InferenceSession | None = None
        self._dtypes = {
            name: np.int64 if info.type == "tensor(int64)" else np.float32
            for name, info in self._inputs.items()
        }

    @property
    def provider(self) -> str:
        """The execution provider in use: CUDAExecutionProvider or CPUExecutionProvider."""
        return self._provider

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    def run_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run with named inputs (float32 features, int64 codes); outputs by name."""
        missing = set(self._inputs) - set(inputs)
        if missing:
            raise ValueError(f"{self.path.name} needs inputs {sorted(missing)}")
        feed = {}
        for name, info in self._inputs.items():
            array = np.ascontiguousarray(inputs[name], dtype=self._dtypes[name])
            if array.ndim != len(info.shape):
                raise ValueError(
                    f"{name} must have {len(info.shape)} dimensions, got shape {array.shape}"
                )
            width = info.shape[-1]
            if isinstance(width, int) and array.ndim == 2 and array.shape[1] != width:
                raise ValueError(f"{name} must have {width} columns, got {array.shape[1]}")
            feed[name] = array
        return dict(zip(self.output_names, self._run(feed), strict=True))

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """session.run; CPU batches of up to 50 rows on the one-thread session, those of
        12-50 rows split over worker threads."""
        n = len(next(iter(feed.values())))
        if n > SEQUENTIAL_ROWS or self._provider != CPU or not self.split_small_batches:
            return self.session.run(self.output_names, feed)
        with self._lock:
            if self._small is None:
                self._start_workers()
        small = self._small
        assert small is not None
        chunks = min(self.threads, n // self._min_chunk)
        if chunks < 2:  # one thread: no intra-op pool to wake for a few rows
            return small.run(self.output_names, feed)
        first = round(n * MAIN_SHARE / chunks)  # the caller starts first: it takes more
        bounds = [0, *np.linspace(first, n, chunks).round().astype(int).tolist()]
        parts = [{k: v[lo:hi] for k, v in feed.items()} for lo, hi in itertools.pairwise(bounds)]
        replies: queue.SimpleQueue = queue.SimpleQueue()
        for i, part in enumerate(parts[1:], start=1):
            self._tasks.put((i, part, replies))  # type: ignore[union-attr]
        results: list[object] = [small.run(self.output_names, parts[0])]
        results += [None] * (len(parts) - 1)
        for _ in parts[1:]:
            i, outputs = replies.get()
            results[i] = outputs
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [np.concatenate([r[j] for r in results]) for j in range(len(self.output_names))]

    def _start_workers(self) -> None:
        """A one-thread session for chunks and daemon threads that run them (stopped with
        the scorer): chunks on the main session fought over its intra-op pool."""
        options = session_options(1)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        small = ort.InferenceSession(str(self.path), options, providers=[CPU])
        tasks: queue.SimpleQueue = queue.SimpleQueue()
        count = self.threads - 1
        for _ in range(count):
            threading.Thread(
                target=_work,
                args=(small, self.output_names, tasks),
                daemon=True,
                name="onnx-scorer-chunk",
            ).start()
        weakref.finalize(self, _stop, tasks, count)
        self._tasks, self._small = tasks, small

    def run(self, features: np.ndarray, codes: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Score a batch: features float32 [N, F] (NaN allowed), codes int64 [N, 5]."""
        inputs = {"features": features}
        if codes is not None:
            inputs["codes"] = codes
        return self.run_inputs(inputs)

    def run_trees(self, features: np.ndarray) -> np.ndarray:
        """p_trees [N] of a tree-only graph (trees_cpu.onnx or trees_gpu.onnx)."""
        if "codes" in self._inputs:
            raise ValueError(f"{self.path.name} also needs codes: use run(features, codes)")
        return self.run_inputs({"features": features})["p_trees"]
