"""Where a stage's parallel work runs: processes on this machine, or tasks on a Ray cluster.

Every parallel stage already hands its work to a pool of the same shape (curate/parallel.py:
an initializer run once per worker, then `submit(function, *args)` returning a future), and
reads its input as byte ranges of a JSON Lines file. `--executor ray` swaps that pool for
RayPool: each submit is a Ray task that runs the very same function on the same byte range,
and the results come back in input order. Nothing of a stage is written twice, so its output
on Ray is the output it has locally, by construction (tests/test_ray.py checks it).

The input must be readable at the same path on every node (a shared file system, as Ray's own
file readers need); a local Ray started for the run (no --ray-address, no RAY_ADDRESS) has it.

Memory: on the driver, as locally (2 x workers chunks in flight); on each Ray worker, one chunk.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from curate.errors import UsageError

Executor = Literal["local", "ray"]

# the map stages, dedup and split read byte ranges as tasks; the LLM stages run one task per shard (ray_stages.py)
ON_RAY = ("filter", "pii", "dedup", "rank", "export", "convert", "score", "split", "respond", "judge", "revise",
          "backtranslate", "evol")


class ExecutorOptions(BaseModel):
    """The fields every stage shares for where it runs."""

    executor: Executor = Field("local", description="local: processes on this machine (--workers); ray: Ray "
                               "tasks, on the cluster of --ray-address or $RAY_ADDRESS, or on a local Ray started "
                               "for the run. The output is the same either way. On Ray so far: " + ", ".join(
                                   ON_RAY) + "; the other stages refuse it.")
    ray_address: str | None = Field(None, description="With --executor ray: the cluster to join, e.g. "
                                    "ray://head:10001 or auto (default: $RAY_ADDRESS, else a local Ray).")

    @model_validator(mode="after")
    def _address_needs_ray(self) -> ExecutorOptions:
        if self.ray_address and self.executor != "ray":
            raise ValueError("--ray-address applies with --executor ray; add --executor ray, or leave it out")
        return self


class ShardOptions(BaseModel):
    """The LLM stages' own Ray setting: how many pieces the input is cut into."""

    ray_shards: int | None = Field(None, ge=1, description="With --executor ray: shards the input is cut into, "
                                   "each a Ray task with its own client (default: one per --base-url replica, at "
                                   "least 2). Fixed by the first run: a re-run resumes the same shards.")


def local_only(config: Any, stage: str) -> None:
    """Stages that do not run on Ray yet say so, rather than silently running here."""
    if getattr(config, "executor", "local") == "ray":
        raise UsageError(f"curate {stage} cannot run on Ray yet; use --executor local (stages that can: "
                         f"{', '.join(ON_RAY)})")


def start_ray(workers: int, address: str | None) -> tuple[Any, bool]:
    """Ray, joined to --ray-address / $RAY_ADDRESS or started here with `workers` CPUs; and
    whether this run started it (then it is shut down with the run)."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install -e \".[ray]\"") from None
    started = not ray.is_initialized()
    if started:
        address = address or os.environ.get("RAY_ADDRESS")
        options: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **options)
        except BaseException:  # Ctrl-C while Ray starts: stop what it started (its agents outlive us otherwise)
            ray.shutdown()
            raise
    return ray, started


@contextmanager
def ray_session(executor: str, workers: int, address: str | None) -> Iterator[Any]:
    """Ray (None unless `executor` is ray) for the whole of a run: one for all the pools of a
    run that uses several in turn (dedup: sketching, then verifying), started once instead of
    once a pool; shut down at the end if started here, and left running if joined."""
    if executor != "ray":
        yield None
        return
    ray, started = start_ray(workers, address)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


class RayPool:
    """The process_pool interface on Ray. `initializer(*initargs)` runs once in each Ray worker
    process before its first task of this pool; each `submit` is one task."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...],
                 address: str | None = None, gpus: float = 0):
        ray, self._started = start_ray(workers, address)
        self._ray = ray
        have = ray.cluster_resources().get("GPU", 0) if gpus else 0
        if gpus and have < gpus:  # its tasks would wait forever
            self.__exit__()
            raise UsageError(f"--ray-gpus {gpus:g}: the Ray cluster has {have:g} GPUs, so no task could start; "
                             "leave out --ray-gpus to run on CPUs, or join a cluster with GPUs (--ray-address)")
        self._setup = ray.put((uuid.uuid4().hex, initializer, initargs))  # sent to each node once
        # a task that asks for no GPU sees none (Ray empties CUDA_VISIBLE_DEVICES): it runs on CPUs
        self._task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=3)(_in_ray_worker)

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """A future of the task's result; a task's own error comes back as itself, as from a
        process pool (Ray wraps it in RayTaskError, whose text is a coloured traceback)."""
        task = self._task.remote(self._setup, function, args).future()
        result: Future[Any] = Future()

        def settle(done: Future[Any]) -> None:
            error = done.exception()
            if error is None:
                result.set_result(done.result())
            else:
                cause = getattr(error, "cause", None)
                result.set_exception(cause if isinstance(cause, Exception) else error)

        task.add_done_callback(settle)
        return result

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:  # a Ray this run started goes with it; a cluster it joined stays
            self._ray.shutdown()


_ready_for: str | None = None  # the pool whose initializer this Ray worker process last ran


def _in_ray_worker(setup: tuple[str, Callable[..., None], tuple[Any, ...]], function: Callable[..., Any],
                   args: tuple[Any, ...]) -> Any:
    global _ready_for
    token, initializer, initargs = setup
    if _ready_for != token:  # a worker process serves many tasks, maybe of several pools
        initializer(*initargs)
        _ready_for = token
    return function(*args)
