"""Executors that run a batch's tasks: in this process, in local worker processes, or on Dask.

An executor only runs functions; it never decides seeds. Every task carries its own seed and
replication indices, so a batch gives the same numbers whichever executor runs it and however
many workers it has. The driver (:mod:`tandem.batch`) submits tasks, waits for any to finish and
retries the ones that fail; :class:`WorkerLost` marks failures caused by a worker dying (safe to
retry).

Examples
--------
>>> with make_executor(ExecutorKind.INLINE) as executor:
...     future = executor.submit(pow, 2, 10)
...     done = executor.wait_any({future})
...     executor.result(future)
1024
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from scenarios.errors import TandemError

__all__ = [
    "DASK_SCHEDULER_ENV",
    "WARM_MODULES",
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "ExecutorKind",
    "InlineExecutor",
    "LocalExecutor",
    "WorkerLost",
    "default_workers",
    "make_executor",
    "warm_up",
]

DASK_SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""Environment variable with the address of a Dask scheduler (``tcp://host:8786``)."""


class ExecutorKind(StrEnum):
    """Where a batch's tasks run."""

    LOCAL = "local"
    """Worker processes on this machine (``--workers N``)."""
    DASK = "dask"
    """A Dask cluster (``--scheduler ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``), else a
    ``LocalCluster`` of ``--workers`` processes."""
    INLINE = "inline"
    """One task after the other in this process (debugging, profiling, tiny batches)."""


CONNECT_TIMEOUT_S = 20
"""Seconds to wait for a Dask scheduler before giving up."""


class ExecutorError(TandemError):
    """The executor could not start (e.g. no Dask scheduler at the given address)."""


class WorkerLost(RuntimeError):
    """A task was lost because the process running it died; retrying it is safe."""


WARM_MODULES = ("numpy", "pandas", "scipy.stats", "pyarrow", "simpy", "pyomo.environ",
                "scenarios", "crm_model", "optimize", "sim", "reports", "tandem.batch")
"""Modules a worker imports when it starts, so the first task does not pay for them."""


def warm_up() -> None:
    """Import :data:`WARM_MODULES` (run once in every new worker process)."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)


def default_workers() -> int:
    """Worker processes to use when none is given: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs functions somewhere and hands back futures.

    Subclasses implement :meth:`submit`, :meth:`wait_any` and :meth:`result`; use an executor as
    a context manager so its workers are shut down.
    """

    kind: ExecutorKind
    workers: int

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """Start ``fn(*args)``; return a future."""

    @abstractmethod
    def wait_any(self, futures: Iterable[Any], timeout: float = 0.25) -> set[Any]:
        """The futures among ``futures`` that are finished, waiting up to ``timeout`` seconds
        for at least one (an empty set when none finished in time)."""

    def result(self, future: Any) -> Any:
        """The value of a finished future; raises the task's exception, or :class:`WorkerLost`."""
        return future.result()

    def describe(self) -> str:
        """A short description for logs and the catalog, e.g. ``local (2 workers)``."""
        return f"{self.kind} ({self.workers} worker{'s' * (self.workers != 1)})"

    def close(self) -> None:  # noqa: B027 - nothing to stop by default
        """Stop the workers, dropping tasks still queued."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(Executor):
    """Runs each task at once, in this process, when it is submitted."""

    kind = ExecutorKind.INLINE

    def __init__(self) -> None:
        self.workers = 1

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed to the driver, which decides about retries
            future.set_exception(exc)
        return future

    def wait_any(self, futures: Iterable[Any], timeout: float = 0.25) -> set[Any]:
        return {f for f in futures if f.done()}


class LocalExecutor(Executor):
    """A pool of ``workers`` processes on this machine (started with ``spawn``).

    When a worker process dies (killed, out of memory) the pool breaks and every task in flight
    fails with :class:`WorkerLost`; the next :meth:`submit` starts a fresh pool, so the driver's
    retries carry the batch on.
    """

    kind = ExecutorKind.LOCAL

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._context = multiprocessing.get_context("spawn")
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self._context, initializer=warm_up
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> cf.Future[Any]:
        try:
            return self._pool.submit(fn, *args)
        except cf.BrokenExecutor:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def wait_any(self, futures: Iterable[Any], timeout: float = 0.25) -> set[Any]:
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done)

    def result(self, future: Any) -> Any:
        try:
            return future.result()
        except cf.BrokenExecutor as exc:
            raise WorkerLost(f"a worker process died: {exc}") from exc

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's live workers (for monitoring and tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in processes.values() if p.pid is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: the scheduler at ``address``, else a ``LocalCluster``.

    The scheduler reschedules the tasks of a worker that dies on the other workers (up to
    ``distributed.scheduler.allowed-failures`` times per task); a task that still fails comes back
    as :class:`WorkerLost`. Workers of a remote cluster need Tandem installed (same version).
    """

    kind = ExecutorKind.DASK

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self.address = address or os.environ.get(DASK_SCHEDULER_ENV) or None
        self._cluster = None
        if self.address:
            try:
                self.client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {self.address!r} "
                    f"(--scheduler or {DASK_SCHEDULER_ENV}): {exc}"
                ) from None
            self.workers = len(self.client.scheduler_info().get("workers", {})) or 1
        else:
            self._cluster = LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never clashes with another cluster
            )
            self.client = Client(self._cluster)
            self.workers = workers or default_workers()
        self.client.run(warm_up)
        self._count = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self._count += 1
        key = f"tandem-{getattr(fn, '__name__', 'task')}-{self._count}-{os.getpid()}-{id(self)}"
        return self.client.submit(fn, *args, key=key, pure=False)

    def wait_any(self, futures: Iterable[Any], timeout: float = 0.25) -> set[Any]:
        from distributed import wait

        futures = list(futures)
        if not futures:
            return set()
        try:
            done, _ = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    def result(self, future: Any) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise WorkerLost(f"workers died running this task: {exc}") from exc

    def describe(self) -> str:
        where = self.address or "LocalCluster"
        return f"dask {where} ({self.workers} worker{'s' * (self.workers != 1)})"

    def worker_pids(self) -> dict[str, int]:
        """Worker address → process id (for monitoring and tests)."""
        return dict(self.client.run(os.getpid))

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    kind: ExecutorKind | str = ExecutorKind.LOCAL,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Executor:
    """The executor of ``kind``: ``local`` (``workers`` processes, default one per CPU),
    ``dask`` (``scheduler`` address, else ``DASK_SCHEDULER_ADDRESS``, else a ``LocalCluster``
    of ``workers`` processes) or ``inline`` (this process)."""
    kind = ExecutorKind(kind)
    if kind == ExecutorKind.INLINE:
        return InlineExecutor()
    if kind == ExecutorKind.LOCAL:
        return LocalExecutor(workers)
    return DaskExecutor(scheduler, workers)
