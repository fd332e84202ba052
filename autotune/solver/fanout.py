"""Fan-out: one function over many tasks, serially, in worker processes, or as Ray tasks, results in task order.

    from autotune.solver.fanout import fan_out
    points = fan_out(solve_sweep_point, tasks, jobs=2)             # two processes on this machine
    points = fan_out(solve_sweep_point, tasks, ray_address="local")  # a Ray started here for this call

The answer is the serial one whatever runs the tasks: results come back in task order, and a task
that raises `InputError` or `InfeasibleError` raises it in the caller with the same type and message
(the error of the first failing task in task order, as the serial loop would raise; later tasks are
cancelled). `fn` must be a top-level function and the tasks picklable.

Ray is an optional extra (`pip install ".[ray]"` from the checkout). `ray_address` is 'local' (start a
Ray on this machine for the call, `jobs` CPUs when jobs > 1, else every core), 'auto' (the cluster
running on this machine if any, else a local Ray, as `ray.init()` decides) or a cluster's address
(host:port or ray://host:port; its nodes need autotune installed). A Ray this call starts or
connects to is shut down when it returns; a Ray the caller initialised is used and left running.
Ray logs nothing on stdout (the JSON output stays the serial one, byte for byte).
"""
from __future__ import annotations

import dataclasses
import logging
import numbers
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from autotune.errors import AutotuneError, InputError

T = TypeVar("T")
R = TypeVar("R")

#: Most worker processes (--jobs).
MAX_JOBS = 256
#: `ray_address` words that are not a cluster's address.
LOCAL, AUTO = "local", "auto"
#: Seconds to wait for a cluster's address to accept a connection.
CONNECT_TIMEOUT_S = 5.0
ADDRESS_EXPECTED = f"'{LOCAL}', '{AUTO}' or a Ray cluster's address (host:port or ray://host:port)"
#: As the plot extra's hint: the distribution has no PyPI release, so the extra installs from the checkout.
RAY_INSTALL = 'Ray installed: pip install ".[ray]" from the checkout, or pip install "ray>=2.9"'


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Raised:
    """An `AutotuneError` a worker raised, carried back as data (it does not unpickle as an exception:
    its __init__ is keyword-only; and Ray would wrap it in its own error type)."""

    kind: type
    args: tuple
    state: dict[str, Any]

    def rebuild(self) -> AutotuneError:
        """Returns the exception as raised: same type, message and attributes."""
        error = self.kind.__new__(self.kind)
        error.args = self.args
        error.__dict__.update(self.state)
        return error


def _guarded(fn: Callable[[T], R], task: T) -> R | _Raised:
    """Returns fn(task), or the AutotuneError it raised as a `_Raised` (top-level: workers run it)."""
    try:
        return fn(task)
    except AutotuneError as error:
        return _Raised(kind=type(error), args=error.args, state=dict(error.__dict__))


def fan_out(fn: Callable[[T], R], tasks: Sequence[T], *, jobs: int = 1, ray_address: str | None = None,
            progress: Callable[[int, int], None] | None = None) -> list[R]:
    """Returns [fn(t) for t in tasks] in task order: serially (jobs 1, no ray), in `jobs` processes, or as Ray
    tasks on the cluster at `ray_address` ('auto' or 'local' for a local Ray started here, else host:port).

    `progress(done, total)` is called in the caller's process as tasks finish.
    """
    check_fan_out(jobs=jobs, ray_address=ray_address)
    if not tasks:
        return []  # nothing to start a Ray or processes for
    if ray_address is not None:
        return _on_ray(fn, tasks, address=ray_address.strip(), jobs=jobs, progress=progress)
    if jobs > 1 and len(tasks) > 1:
        return _in_processes(fn, tasks, jobs=jobs, progress=progress)
    results = []
    for i, task in enumerate(tasks):
        results.append(fn(task))
        if progress:
            progress(i + 1, len(tasks))
    return results


def check_fan_out(*, jobs: Any, ray_address: Any) -> None:
    """Raises InputError naming --jobs or --ray for a bad value, or for --ray without Ray installed.

    Callers check before any work, so that a bad flag is one line at once, not after the first stage.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or not 1 <= jobs <= MAX_JOBS:
        raise InputError(source="--jobs", value=jobs, expected=f"an integer in [1, {MAX_JOBS}]")
    if ray_address is None:
        return
    if not isinstance(ray_address, str) or (ray_address.strip() not in (LOCAL, AUTO)
                                            and _host_port(ray_address.strip()) is None):
        raise InputError(source="--ray", value=ray_address, expected=ADDRESS_EXPECTED)
    _import_ray()


def _host_port(address: str) -> tuple[str, int] | None:
    """Returns (host, port) of 'host:port' or 'ray://host:port', or None when it is neither."""
    host, _, port_text = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # [IPv6]:port
    if not host or any(c.isspace() or c == "/" for c in host) or not port_text.isdigit() \
            or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


class _Collector:
    """Results by task index as they finish, and the first failure in task order (the serial loop's)."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.results: list[Any] = [None] * total
        self.failed_at = total
        self.error: AutotuneError | None = None
        self.done = 0
        self.progress = progress

    def add(self, index: int, value: Any) -> None:
        if isinstance(value, _Raised):
            if index < self.failed_at:
                self.failed_at, self.error = index, value.rebuild()
        else:
            self.results[index] = value
        self.done += 1
        if self.progress:
            self.progress(self.done, len(self.results))

    def needed(self, index: int) -> bool:
        """Returns whether task `index` can still matter (it comes before the first failure so far)."""
        return index < self.failed_at

    def answer(self) -> list[Any]:
        if self.error is not None:
            raise self.error
        return self.results


def _in_processes(fn: Callable[[T], R], tasks: Sequence[T], *, jobs: int,
                  progress: Callable[[int, int], None] | None) -> list[R]:
    collected = _Collector(len(tasks), progress)
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        pending = {pool.submit(_guarded, fn, task): i for i, task in enumerate(tasks)}
        try:
            while any(collected.needed(i) for i in pending.values()):
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    collected.add(pending.pop(future), future.result())
        finally:
            # Tasks after a failure cannot change the answer: those not started are dropped.
            pool.shutdown(wait=True, cancel_futures=True)
    return collected.answer()


def _import_ray():
    """Returns the ray module, or raises InputError naming --ray when the extra is not installed."""
    try:
        import ray
    except ImportError:
        raise InputError(source="--ray", has_value=False, expected=RAY_INSTALL) from None
    return ray


def _check_reachable(address: str) -> None:
    """Raises InputError naming --ray unless a TCP connection to the address's host:port opens within
    CONNECT_TIMEOUT_S (Ray itself retries an unreachable address for minutes)."""
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise InputError(source="--ray", value=address,
                         expected=f"a Ray cluster listening there (connecting failed: {error})") from None


def _on_ray(fn: Callable[[T], R], tasks: Sequence[T], *, address: str, jobs: int,
            progress: Callable[[int, int], None] | None) -> list[R]:
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address not in (LOCAL, AUTO):
            _check_reachable(address)
        options: dict[str, Any] = {}
        if address == LOCAL and jobs > 1:
            options["num_cpus"] = jobs
        try:
            ray.init(address=None if address == AUTO else address, ignore_reinit_error=True, log_to_driver=False,
                     include_dashboard=False, logging_level=logging.ERROR, configure_logging=True, **options)
        except Exception as error:  # Ray raises ConnectionError, ValueError, RuntimeError... by cause
            raise InputError(source="--ray", value=address,
                             expected=f"a Ray cluster to reach ({type(error).__name__}: "
                                      f"{str(error).splitlines()[0] if str(error) else 'no message'})") from None
    try:
        remote = ray.remote(num_cpus=1)(_guarded)
        collected = _Collector(len(tasks), progress)
        pending = {remote.remote(fn, task): i for i, task in enumerate(tasks)}
        while any(collected.needed(i) for i in pending.values()):
            finished, _ = ray.wait(list(pending), num_returns=1)
            for ref in finished:
                collected.add(pending.pop(ref), ray.get(ref))
        for ref in pending:  # after a failure: they cannot change the answer
            ray.cancel(ref)
        return collected.answer()
    finally:
        if started_here:
            ray.shutdown()
