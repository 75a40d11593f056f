"""Running points in parallel: the worker function, the local process pool and the Dask backends, the scheduler loop.

Scheduling: at most ``2 x slots`` points are in flight, submitted in expansion order. Points that share a
quantized model (same workload shapes and ``weights.*`` keys on a GOBO-format design) form a group; only
one point of a group runs until the first one of it finishes, so a cold quantization cache is filled once
(~10 s for bert-base) instead of once per worker; the others then read the shared on-disk cache
(``$GOBOSIM_CACHE_DIR``). A point whose worker process dies (segfault, out of memory) is retried; after
:data:`MAX_LOSSES` such losses it is recorded as an error. A Python exception inside a point is never
retried: it is recorded at once as ``status=error`` with a one-line ``error``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sim.errors import SimInputError
from sim.pipeline import run
from sim.sweeps.columns import metrics_of
from sim.sweeps.plan import Point, PointTask

CONNECT_TIMEOUT_S = 10.0  # how long to try an existing Dask scheduler before giving up
MAX_LOSSES = 3
MAX_ERROR_CHARS = 400
LOCAL_CLUSTER_CONFIG = {  # dask settings for the LocalCluster we start (an existing cluster keeps its own)
    # Our tasks are pure-Python and CPU-bound: the worker's statistical profiler (a thread taking the GIL
    # every 10 ms) and its fast monitors only slow them down, most on a loaded machine.
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    # Dask's default also sets MALLOC_TRIM_THRESHOLD_=65536, which fixes glibc's mmap threshold: every
    # array > 128 KiB is then mmap'ed and unmapped again, ~30x the page faults and ~1.4x the CPU per
    # point here (measured: 190k vs 6k minor faults for 6 bert-base points). Keep the thread limits only.
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


class WorkerLost(Exception):
    """The process running a point died, or the backend could not return the point's outcome."""


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, at most :data:`MAX_ERROR_CHARS` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def run_point(task: PointTask) -> dict[str, Any]:
    """Run one point with :func:`sim.pipeline.run`; never raises for a bad point (returns ``status: error``).

    Returns ``{"status": "ok", "error": "", "metrics": {...}, "wall_s": ..., "cpu_s": ...}`` or
    ``{"status": "error", "error": "...", "metrics": {}, ...}``; the metrics are
    :func:`sim.sweeps.columns.metrics_of` of the run (small to send back). ``wall_s``/``cpu_s`` are this
    worker's wall-clock and CPU seconds for the point (diagnostics for meta.json, not results).
    """
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        result = run(task.hw, task.workload, seq_len=task.seq_len, batch=task.batch, sets=task.sets,
                     weights=task.weights, functional=task.functional)
        out: dict[str, Any] = {"status": "ok", "error": "", "metrics": metrics_of(result)}
    except Exception as exc:  # a failing point is data, not a crash of the sweep
        out = {"status": "error", "error": one_line(exc), "metrics": {}}
    out.update(wall_s=time.perf_counter() - t0, cpu_s=time.thread_time() - c0)
    return out


class Backend(Protocol):
    """Where points run."""

    name: str
    slots: int  # points that can run at once

    def start(self) -> None:
        """Start the workers (or connect to them)."""

    def submit(self, task: PointTask) -> Any:
        """Queue one point; returns a handle (a future)."""

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The handles that finished, waiting at most ``timeout`` seconds for the first one."""

    def result(self, handle: Any) -> dict[str, Any]:
        """The outcome of a finished handle (see :func:`run_point`); raises :class:`WorkerLost`."""

    def recover(self) -> bool:
        """After :class:`WorkerLost`: make the backend usable again; True if in-flight handles became void."""

    def fit(self, points: int) -> None:
        """Only ``points`` points are left to run: a backend that has not started processes yet starts no more."""

    def close(self) -> None:
        """Stop the workers (points still running are abandoned: they were not recorded)."""


MAX_WORKERS_PER_CPU = 4  # --workers above this many per core is refused (points are CPU-bound)
PARENT_POLL_S = 0.5  # a worker checks this often that the sweep that started it is still alive
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def max_workers() -> int:
    """The largest ``--workers`` accepted: :data:`MAX_WORKERS_PER_CPU` x the cores of this machine."""
    return MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)


def _die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process end when ``parent_pid`` ends, however it ends (SIGKILL included).

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
    thread also polls the parent pid every :data:`PARENT_POLL_S` s and exits the process once it changed.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="gobosim-parent-watch", daemon=True).start()


def _worker_init(parent_pid: int) -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the pool; finished rows are on disk);
    SIGTERM/SIGHUP end the worker (the parent's handlers are reset); the worker dies with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)
    _die_with_parent(parent_pid)


class LocalBackend:
    """A :class:`concurrent.futures.ProcessPoolExecutor` on this machine (all cores by default)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.slots = workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None
        self._broken = False
        self._started = False

    def start(self) -> None:
        """Make the backend ready. No process starts here: the pool is created at the first :meth:`submit`
        (after :meth:`fit` has sized it to the points left), so a sweep with nothing to run forks nothing."""
        self._started = True
        self._broken = False

    def fit(self, points: int) -> None:
        """At most ``points`` workers are useful: never start more than that."""
        if self._pool is None:
            self.slots = max(1, min(self.slots, points))

    def submit(self, task: PointTask) -> cf.Future:
        """Queue one point on the pool (created here the first time; its workers die with this process)."""
        assert self._started, "backend not started"
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.slots, initializer=_worker_init,
                                                initargs=(os.getpid(),))
        return self._pool.submit(run_point, task)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The futures that finished (waits for the first, at most ``timeout`` s)."""
        return list(cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED).done)

    def result(self, handle: cf.Future) -> dict[str, Any]:
        """The point's outcome; a dead worker process (broken pool) raises :class:`WorkerLost`."""
        try:
            return handle.result()
        except cf.process.BrokenProcessPool as exc:
            self._broken = True
            raise WorkerLost(f"worker process died ({exc})") from None
        except cf.CancelledError:
            raise WorkerLost("cancelled") from None

    def recover(self) -> bool:
        """Replace a broken pool with a new one (its in-flight futures are void)."""
        if not self._broken:
            return False
        self._shutdown()
        self.start()
        return True

    def _shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:  # points still running are abandoned (they were not recorded, so a resume reruns them)
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)

    def close(self) -> None:
        """Shut the pool down, terminating workers still running a point."""
        self._shutdown()
        self._started = False


class DaskBackend:
    """A Dask cluster: a new ``LocalCluster`` (``workers`` processes, 1 thread each) or an existing scheduler."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self.slots = self.workers
        self.client: Any = None
        self.cluster: Any = None
        self._config = None

    def start(self) -> None:
        """Connect to ``scheduler``, or start a LocalCluster of ``workers`` processes with one thread each."""
        try:
            import distributed
        except ImportError:
            raise SimInputError("--backend dask needs dask.distributed: pip install 'gobosim[dask]' "
                                "(or pip install 'dask[distributed]')") from None
        import logging

        if self.scheduler:
            try:
                self.client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SimInputError(f"--scheduler {self.scheduler}: cannot connect ({one_line(exc)})") from None
        else:
            import dask

            self._config = dask.config.set(LOCAL_CLUSTER_CONFIG)
            environ = dict(os.environ)  # the Nanny writes its pre-spawn variables into this process's environment
            try:
                self.cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                                        processes=True, dashboard_address=None,
                                                        silence_logs=logging.CRITICAL)
            finally:
                os.environ.clear()
                os.environ.update(environ)
            self.client = distributed.Client(self.cluster)
        threads = sum(self.client.nthreads().values())
        self.slots = max(1, threads)

    def submit(self, task: PointTask) -> Any:
        """Queue one point on the cluster (``pure=False``: never deduplicated by Dask)."""
        return self.client.submit(run_point, task, pure=False)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The futures that finished (waits for the first, at most ``timeout`` s)."""
        import distributed

        try:
            return list(distributed.wait(handles, timeout=timeout, return_when="FIRST_COMPLETED").done)
        except TimeoutError:
            return []

    def result(self, handle: Any) -> dict[str, Any]:
        """The point's outcome; any Dask-side failure (a killed worker, ...) raises :class:`WorkerLost`."""
        try:
            return handle.result()
        except Exception as exc:  # KilledWorker, lost data, a worker that cannot import sim
            raise WorkerLost(one_line(exc)) from None

    def recover(self) -> bool:
        """Dask reschedules the work of dead workers itself."""
        return False

    def fit(self, points: int) -> None:
        """The cluster's size is fixed once started (an existing scheduler's is not ours to change)."""

    def close(self) -> None:
        """Close the client, and the LocalCluster if we started it (best effort: results are on disk)."""
        client, cluster, self.client, self.cluster = self.client, self.cluster, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None


def make_backend(name: str, workers: int | None, scheduler: str | None) -> Backend:
    """The backend called ``name`` (local or dask)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SimInputError(f"--workers: must be a positive integer, got {workers!r}")
    if workers is not None and workers > max_workers():
        raise SimInputError(f"--workers: at most {max_workers()} ({MAX_WORKERS_PER_CPU} per core on this machine), "
                            f"got {workers}")
    if name == "local":
        if scheduler:
            raise SimInputError("--scheduler needs --backend dask")
        return LocalBackend(workers)
    if name == "dask":
        return DaskBackend(workers, scheduler)
    raise SimInputError(f"--backend: must be local or dask, got {name!r}")


def run_points(points: Iterable[Point], backend: Backend, record: Callable[[Point, dict[str, Any]], None],
               tick: Callable[[], None] = lambda: None, poll_s: float = 1.0) -> None:
    """Run ``points`` on a started ``backend``, calling ``record(point, outcome)`` in this process as each finishes."""
    queue: deque[Point] = deque(points)
    blocked: dict[str, deque[Point]] = {}
    warming: dict[str, str] = {}  # group -> point_id of the point filling the cache
    warm: set[str] = set()
    inflight: dict[Any, Point] = {}
    losses: Counter[str] = Counter()

    def release(group: str | None, point_id: str, done: bool) -> None:
        if group is None or warming.get(group) != point_id:
            return
        del warming[group]
        if done:
            warm.add(group)
            queue.extendleft(reversed(blocked.pop(group, deque())))
        elif blocked.get(group):  # the warming point was lost: let the next one of the group warm instead
            queue.appendleft(blocked[group].popleft())

    while queue or inflight:
        window = 2 * backend.slots
        while queue and len(inflight) < window:
            p = queue.popleft()
            g = p.quant_group
            if g is not None and g not in warm:
                if g in warming:
                    blocked.setdefault(g, deque()).append(p)
                    continue
                warming[g] = p.point_id
            inflight[backend.submit(p.task)] = p
        if not inflight:
            continue
        finished = backend.wait(list(inflight), poll_s)
        tick()
        lost_any = False
        for handle in finished:
            p = inflight.pop(handle)
            try:
                outcome = backend.result(handle)
            except WorkerLost as exc:
                lost_any = True
                losses[p.point_id] += 1
                if losses[p.point_id] < MAX_LOSSES:
                    release(p.quant_group, p.point_id, done=False)
                    queue.appendleft(p)
                    continue
                outcome = {"status": "error", "metrics": {},
                           "error": f"WorkerLost: {exc} ({MAX_LOSSES} attempts)"}
            record(p, outcome)
            release(p.quant_group, p.point_id, done=True)
        if lost_any and backend.recover():  # the old pool's futures are void: resubmit their points
            for handle, p in list(inflight.items()):
                inflight.pop(handle)
                release(p.quant_group, p.point_id, done=False)
                queue.appendleft(p)
