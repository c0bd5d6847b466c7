"""Forward passes spread over the CPU's physical cores: one one-thread run per core.

ONNX Runtime's ``InferenceSession.run`` is thread-safe and releases the GIL, and on this
kind of small encoder one intra-op thread does 1.2–1.5× more work per CPU second than
two (``benchmarks/limit.py``): the second thread's spin-waiting is wasted. So the
session runs single-threaded and a small pool of worker threads, one per physical core,
calls it, each on its own batch. The pool belongs to one embedder (no process-wide
thread setting is touched); its threads start on the first multi-batch call.

:meth:`ForwardPool.submit` queues every batch of a call and returns at once, so a
caller can queue the next call's batches while it stores the previous results: the
workers go straight from one call's last batch to the next's (no idle tail per call).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# Runs one forward pass: (batch of items) -> (len(batch), dimension) rows.
Forward = Callable[[list[Any]], np.ndarray]


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads of one core count once)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology / "physical_package_id").read_text().strip() + ":"
                      + (topology / "core_id").read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


class Pending:
    """The vectors of one queued call, in the caller's order, once its batches are run."""

    def __init__(self, out: np.ndarray, parts: Sequence[tuple[list[int], Future[np.ndarray]]]) -> None:
        self._out, self._parts = out, parts

    def result(self) -> np.ndarray:
        """Wait for every batch; on any failure (or interrupt) cancel the rest and re-raise."""
        try:
            for rows, future in self._parts:
                self._out[rows] = future.result()
        except BaseException:
            self.cancel()
            raise
        return self._out

    def cancel(self) -> None:
        """Drop the batches not yet started (a running one finishes: one forward pass)."""
        for _, future in self._parts:
            future.cancel()


class ForwardPool:
    """Runs the batches of a call on ``workers`` threads (inline when there is one)."""

    def __init__(self, forward: Forward, workers: int) -> None:
        self._forward, self.workers = forward, workers
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, out: np.ndarray, batches: Sequence[tuple[list[int], list[Any]]]) -> Pending:
        """Queue each (rows, items) batch; its vectors go to ``out[rows]``."""
        if self.workers == 1 or len(batches) == 1:
            for rows, items in batches:
                out[rows] = self._forward(items)
            return Pending(out, ())
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="semsearch-forward")
        pool = self._pool
        return Pending(out, [(rows, pool.submit(self._forward, items)) for rows, items in batches])
