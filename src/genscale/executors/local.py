"""The local executor: each job a process tree on this machine, sampled in-process."""

from __future__ import annotations

import os
import queue
import socket
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from genscale.executors.base import (
    Executor,
    ExecutorContext,
    Job,
    JobResult,
    Resources,
    bash_argv,
    direct_argv,
    read_registry,
)
from genscale.monitor.cgroups import TaskCgroup
from genscale.monitor.process import kill_recorded, run_monitored, start_ticks, terminate_tree
from genscale.monitor.sampler import Sampler
from genscale.store.rundir import RunDirectory, atomic_write_json

RUNNING_REGISTRY = ".running.json"  # the running tasks' process ids, in the run directory
MAX_JOB_THREADS = 4096  # more than jobs can run at once: the engine runs what fits the cores


class LocalExecutor(Executor):
    """Each job a process tree on this machine, sampled by the run's own sampler."""

    name = "local"

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> LocalExecutor:
        session = context.session
        # with task cgroups a resume finds what a dead manager left running through them;
        # without, through a registry of the running process ids
        registry = context.run.path / RUNNING_REGISTRY if session.cgroups is None else None
        return cls(session.sampler, context.run_id, context.cores, context.memory_bytes,
                   session.task_cgroup, registry=registry)

    @classmethod
    def stop_leftovers(cls, run: RunDirectory, run_id: str, settings: Any) -> int:
        """Kill the process groups a dead manager recorded, where they are still the
        processes recorded (their start time); its task cgroups are the runner's."""
        entries = read_registry(run.path / RUNNING_REGISTRY) or {}
        return sum(kill_recorded(int(entry["pid"]), entry.get("start_ticks"))
                   for entry in entries.values())

    def __init__(self, sampler: Sampler, run_id: str, cores: int | None = None,
                 memory_bytes: int | None = None,
                 cgroup_for: Callable[[str], TaskCgroup | None] | None = None,
                 registry: Path | None = None) -> None:
        """`registry`: a JSON file kept up to date with the running tasks' process ids, so
        that a resume after this process was killed can stop what it left running."""
        self.sampler = sampler
        self.registry = registry
        self.cgroup_for = cgroup_for or (lambda task_id: None)
        self.run_id = run_id
        self._capacity = Resources(cores or os.cpu_count() or 1,
                                   memory_bytes or psutil.virtual_memory().total)
        self._done: queue.Queue[JobResult] = queue.Queue()
        self._pids: dict[str, int] = {}
        self._cancelled: set[str] = set()
        self._jobs: dict[str, Future[None]] = {}
        # a job's thread waits for its process tree: an idle thread is reused, so that a
        # task does not pay a thread's start (1 to 2 ms with the GIL contended, issue 22)
        self._pool = ThreadPoolExecutor(max_workers=MAX_JOB_THREADS, thread_name_prefix="task")
        self._lock = threading.Lock()
        self.host = socket.gethostname()

    @property
    def capacity(self) -> Resources:
        return self._capacity

    def submit(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.task_id] = self._pool.submit(self._run, job)

    def _write_registry(self) -> None:
        if self.registry is not None:
            # advisory, rewritten twice a task: no fsync (it only has to outlive us)
            atomic_write_json(self.registry, {t: {"pid": p, "start_ticks": start_ticks(p)}
                                              for t, p in self._pids.items()}, durable=False)

    def _started(self, task_id: str, pid: int) -> None:
        with self._lock:
            self._pids[task_id] = pid
            cancel = task_id in self._cancelled
            self._write_registry()
        if cancel:  # cancelled between submit and start
            terminate_tree(pid)

    def _run(self, job: Job) -> None:
        try:
            cgroup = self.cgroup_for(job.task_id)
            argv = direct_argv(job.command) or bash_argv(job.command)
            totals = run_monitored(
                argv, sampler=self.sampler, run_id=self.run_id,
                task_id=job.task_id, app=job.app, cwd=job.cwd, stdout_path=job.stdout_path,
                stderr_path=job.stderr_path,
                on_start=lambda pid: self._started(job.task_id, pid), cgroup=cgroup,
                attempt=job.attempt)
            result = JobResult(job.task_id, self.host, totals,
                               cancelled=job.task_id in self._cancelled)
        except Exception:  # an internal error: keep the traceback in the result
            result = JobResult(job.task_id, self.host, None, error=traceback.format_exc())
        with self._lock:
            self._pids.pop(job.task_id, None)
            self._jobs.pop(job.task_id, None)
            self._write_registry()
        self._done.put(result)

    def poll(self, timeout_s: float) -> list[JobResult]:
        results = []
        try:
            results.append(self._done.get(timeout=timeout_s))
            while True:
                results.append(self._done.get_nowait())
        except queue.Empty:
            pass
        return results

    def cancel(self, task_id: str) -> None:
        with self._lock:
            self._cancelled.add(task_id)
            pid = self._pids.get(task_id)
        if pid is not None:
            threading.Thread(target=terminate_tree, args=(pid,), daemon=True).start()

    def shutdown(self) -> None:
        with self._lock:
            running = list(self._pids)
        for task_id in running:
            self.cancel(task_id)
        self._pool.shutdown(wait=True)  # every job's thread has put its result
        if self.registry is not None:  # nothing of this run is left running
            self.registry.unlink(missing_ok=True)
