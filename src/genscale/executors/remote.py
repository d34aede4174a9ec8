"""What the executors that hand tasks to a resource manager (SLURM, Kubernetes) share.

Each task runs elsewhere under `genscale monitor`, writing its record into `pods/` of the
run directory (`executors.pods`). A `RemoteExecutor` keeps the jobs it submitted, by the
resource manager's id, in memory and in a registry file of the run directory (so that a
resume can stop what a dead manager left), asks the resource manager at most once per
`poll_s` which of them ended, and folds each ended job's record into the run. A backend
writes four things: how to submit a job, how to ask which ended (`_collect`), how to stop
some (`_stop`), and how to say why a job without a record was lost.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genscale.executors.base import Executor, Job, JobResult, Resources
from genscale.executors.pods import PodRecord, fold_pod, pod_dir
from genscale.store.rundir import RunDirectory, atomic_write_json


@dataclass
class Submitted:
    """One job handed to the resource manager."""

    job: Job
    key: str  # the resource manager's id of it (SLURM job id, Kubernetes Job name)
    pod: Path  # where its monitor writes
    ended_mono: float | None = None  # when it was first seen ended (or gone)
    state: str = ""  # how the resource manager said it ended


class RemoteExecutor(Executor):
    """An executor whose jobs a resource manager runs; see the module's docstring."""

    registry_name = ".jobs.json"  # the registry file in the run directory
    host_is_node = False  # a task's host: the node the manager names, or its monitor's host

    def __init__(self, run: RunDirectory, run_id: str, sink: Any, interval_s: float,
                 poll_s: float, capacity: Resources) -> None:
        """`sink` takes the folded sample rows (the run's sample writer, or its fan-out to
        the Prometheus exporter)."""
        self.run = run
        self.run_id = run_id
        self.sink = sink
        self.interval_s = interval_s
        self.poll_s = poll_s
        self._capacity = capacity
        self._jobs: dict[str, Submitted] = {}
        self._cancelled: set[str] = set()  # task ids
        self._lock = threading.Lock()
        self._last_query_mono = -float("inf")
        self.pods = run.path / "pods"
        self.pods.mkdir(exist_ok=True)

    @property
    def capacity(self) -> Resources:
        return self._capacity

    # -- what a backend writes -------------------------------------------------------------
    @abstractmethod
    def _collect(self, jobs: dict[str, Submitted]) -> list[JobResult]:
        """Ask the resource manager once; the results of the `jobs` that ended (each
        through `_ended`)."""

    @abstractmethod
    def _stop(self, keys: list[str]) -> None:
        """Ask the resource manager to stop these jobs; their monitors still write."""

    def _registry_json(self, entries: dict[str, dict[str, Any]]) -> Any:
        """The registry file's content, from each job's entry by key."""
        return entries

    def _hard_stop(self, keys: list[str]) -> None:
        """What `shutdown` does to jobs still there after `_shutdown_wait_s`."""

    def _shutdown_wait_s(self) -> float:
        return 30.0

    # -- shared ----------------------------------------------------------------------------
    def new_pod(self, job: Job) -> Path:
        """Where `job`'s monitor writes (a previous manager's attempt is kept)."""
        return pod_dir(self.pods, job, str(int(time.time())))

    def _submitted(self, job: Job, key: str, pod: Path) -> None:
        with self._lock:
            self._jobs[key] = Submitted(job, key, pod)
            self._write_registry()

    def _ended(self, sub: Submitted, node: str, lost_because: str,
               cancelled: bool = False,
               account: Callable[[PodRecord], None] | None = None) -> JobResult:
        """Fold an ended job's record into the run, forget the job, and report it: as
        measured (on `node` where `host_is_node`, else on the host its monitor saw), as
        cancelled (by `cancel`, or where the resource manager says so: `cancelled`), or
        as lost (`lost_because`: why, where it left no record). `account`: called with the
        record, where there is one."""
        folded = fold_pod(sub.pod, sub.job, self.run_id, self.sink)
        with self._lock:
            self._jobs.pop(sub.key, None)
            self._write_registry()
        task_id = sub.job.task_id
        cancelled = cancelled or task_id in self._cancelled
        if folded is None:
            if task_id in self._cancelled:
                return JobResult(task_id, node, None, cancelled=True)
            return JobResult(task_id, node, None, lost=True, error=lost_because)
        if account is not None:
            account(folded)
        host = (node or folded.host) if self.host_is_node else folded.host
        return JobResult(task_id, host, folded.totals, cancelled=cancelled)

    def _write_registry(self) -> None:
        atomic_write_json(self.run.path / self.registry_name, self._registry_json(
            {s.key: {"task_id": s.job.task_id, "attempt": s.job.attempt, "pod": str(s.pod)}
             for s in self._jobs.values()}), durable=False)

    def poll(self, timeout_s: float) -> list[JobResult]:
        deadline = time.monotonic() + timeout_s
        while True:
            due = self._due()
            results = self._collect(due) if due else []
            remaining = deadline - time.monotonic()
            if results or remaining <= 0:
                return results
            time.sleep(min(self.poll_s, remaining))

    def _due(self) -> dict[str, Submitted]:
        """The jobs to ask about now (a copy), or none while the last query is recent."""
        with self._lock:
            if not self._jobs or time.monotonic() - self._last_query_mono < self.poll_s:
                return {}
            self._last_query_mono = time.monotonic()
            return dict(self._jobs)

    def cancel(self, task_id: str) -> None:
        with self._lock:
            self._cancelled.add(task_id)
            keys = [k for k, s in self._jobs.items() if s.job.task_id == task_id]
        if keys:
            self._stop(keys)

    def shutdown(self) -> None:
        with self._lock:
            running = {s.job.task_id for s in self._jobs.values()}
        for task_id in running:
            self.cancel(task_id)
        deadline = time.monotonic() + self._shutdown_wait_s()
        while self._jobs and time.monotonic() < deadline:
            self.poll(1.0)
        with self._lock:
            left = list(self._jobs)
        if left:
            self._hard_stop(left)
