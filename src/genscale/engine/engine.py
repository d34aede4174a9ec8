"""The dispatch loop: runs a plan's tasks through an executor within a resource budget.

Ready tasks start in plan order while their threads and memory fit the executor's capacity
(a task larger than the whole budget runs alone). A failed task's dependents are skipped and
every independent branch still runs to its end. Ctrl-C or SIGTERM cancels what is running,
waits for it to stop, and still records everything. Each task's row reaches tasks.csv the
moment it ends.
"""

from __future__ import annotations

import gc
import heapq
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from genscale.engine.cache import StepCache
from genscale.engine.policies import Fifo, Policy, SchedulingState, Usage, admissions, fits
from genscale.executors.base import Executor, Job, JobResult
from genscale.store.rundir import RunDirectory
from genscale.workflow.plan import Plan, PlannedTask

EventHook = Callable[[str, PlannedTask, dict[str, object]], None]
STDERR_TAIL_LINES = 5


@dataclass
class Failure:
    task_id: str
    exit_code: int | None
    stderr_tail: list[str]


@dataclass
class Outcome:
    """How a run ended."""

    status: dict[str, str] = field(default_factory=dict)  # task_id -> final status
    failures: list[Failure] = field(default_factory=list)
    skip_reasons: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    # attempts that failed and were tried again: task_id -> [{attempt, exit_code, ...}]
    retried: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.status.values():
            out[s] = out.get(s, 0) + 1
        return out


def path_bytes(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> list[str]:
    try:
        text = path.read_bytes()[-8192:].decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


@dataclass
class EngineOptions:
    """How the engine runs a plan, whatever the plan is."""

    interval_s: float  # the sampling interval, recorded in each task's row
    cache: StepCache | None = None  # where cacheable steps (indexes) are kept by content
    tool_versions: dict[str, str] = field(default_factory=dict)  # step -> its tool's version
    # hears each task start, end, retry and skip; its values always hold `done` (tasks with
    # a final status, a resumed run's included) and `total` (the plan's tasks)
    on_event: EventHook | None = None
    retries: int = 0  # a failed or lost task runs again up to this many more times


@dataclass
class Resumed:
    """What a killed run had done, for a resume."""

    done: dict[str, str] = field(default_factory=dict)  # task_id -> its final status
    attempts: dict[str, int] = field(default_factory=dict)  # task_id -> attempts used


@dataclass
class Schedule:
    """Many workflows in one run (a workload): when each arrives, how many may be in
    flight, and the policy that orders admissions and ready tasks."""

    policy: Policy = field(default_factory=Fifo)
    arrivals_s: dict[str, float] = field(default_factory=dict)  # workflow_id -> s after start
    concurrency: int | None = None  # most workflows in flight (None: no cap)
    workflows: dict[str, str] = field(default_factory=dict)  # workflow_id -> workflow name
    predicted_s: dict[str, float] = field(default_factory=dict)  # workflow_id -> runtime


class Engine:
    """Runs a plan's tasks on an executor, in dependency order, within its capacity: each
    task's row goes to the run directory as it ends. `execute` returns the Outcome."""

    def __init__(self, plan: Plan, run: RunDirectory, executor: Executor,
                 identity: dict[str, str], options: EngineOptions,
                 resumed: Resumed | None = None, schedule: Schedule | None = None) -> None:
        """`identity`: run_id, workflow_id and workflow of the run (a single workflow's,
        or the workload's). `resumed`: what a killed run already finished. `schedule`:
        for a workload of many workflows (default: one workflow, arrived at the start,
        first come first served)."""
        self.plan = plan
        self.run = run
        self.executor = executor
        self.identity = identity  # run_id, workflow_id, workflow
        self.interval_s = options.interval_s
        self.cache = options.cache
        self.tool_versions = options.tool_versions
        hook = options.on_event or (lambda *_: None)
        total = len(plan.tasks)

        def on_event(kind: str, task: PlannedTask, values: dict[str, object]) -> None:
            # every event says how far the run is: tasks with a final status, of all
            hook(kind, task, {**values, "done": len(self.outcome.status), "total": total})

        self.on_event = on_event
        schedule = schedule or Schedule()
        resumed = resumed or Resumed()
        self.outcome = Outcome()
        self._running: dict[str, PlannedTask] = {}
        self._submit_time: dict[str, float] = {}
        self._cache_keys: dict[str, str] = {}
        self._cached: set[str] = set()
        self._interrupt = False
        self._used_cores = 0
        self._used_memory = 0
        self._remaining: set[str] = set()
        self.policy = schedule.policy
        default = identity["workflow_id"]
        self.workflows = schedule.workflows or {default: identity["workflow"]}
        self.arrivals_s = schedule.arrivals_s or dict.fromkeys(self.workflows, 0.0)
        self.concurrency = schedule.concurrency
        ranked = sorted(self.arrivals_s, key=lambda w: (self.arrivals_s[w], w))
        self.state = SchedulingState(arrival_rank={w: i for i, w in enumerate(ranked)},
                                     predicted_s=dict(schedule.predicted_s))
        self.admitted_at: dict[str, float] = {}
        self.started_at = time.time()
        self._ready: list[tuple[tuple[float, ...], str]] = []
        self._held: dict[str, list[str]] = {}
        self.retries = options.retries
        self._attempt: dict[str, int] = dict(resumed.attempts)
        for task_id, status in resumed.done.items():
            self.outcome.status[task_id] = status
            task = next((t for t in plan.tasks if t.task_id == task_id), None)
            # a skipped task whose outputs all exist was a cache hit: dependents may go on
            if status == "skipped" and task is not None and task.outputs and all(
                    p.exists() for p in task.outputs.values()):
                self._cached.add(task_id)

    # -- recording -------------------------------------------------------------------------
    def _wid(self, task: PlannedTask) -> str:
        return task.workflow_id or self.identity["workflow_id"]

    def _row(self, task: PlannedTask, status: str, **values: object) -> dict[str, object]:
        wid = self._wid(task)
        return {
            **self.identity, "workflow_id": wid,
            "workflow": self.workflows.get(wid, self.identity["workflow"]),
            "task_id": task.task_id, "step": task.step, "app": task.app,
            "executor": self.executor.name, "status": status,
            "threads_requested": task.threads, "memory_requested_bytes": task.memory_bytes,
            "input_bytes": sum(path_bytes(p) for p in task.inputs.values()),
            "sample_interval_s": self.interval_s, **values,
        }

    def _finish(self, task: PlannedTask, status: str, reason: str | None = None,
                **values: Any) -> None:
        self.outcome.status[task.task_id] = status
        self._release(task.task_id)
        if reason:
            self.outcome.skip_reasons[task.task_id] = reason
        self.run.record_task(self._row(task, status, **values))
        self.on_event(status, task, {"reason": reason, **values})

    def _record_result(self, task: PlannedTask, result: JobResult) -> None:
        totals = result.totals
        if totals is None:
            submitted = round(self._submit_time[task.task_id], 6)
            if result.cancelled:  # cancelled before it started
                self._finish(task, "cancelled", host=result.host, submit_time=submitted)
                return
            attempt = self._attempt[task.task_id]
            if result.lost and attempt <= self.retries and not self._interrupt:
                self._retry(task, attempt, None, [result.error or "lost"], lost=True)
                return
            self.outcome.failures.append(Failure(task.task_id, None,
                                                 (result.error or "").splitlines()[-3:]))
            self._finish(task, "failed", reason=result.error, host=result.host,
                         submit_time=submitted, attempt=attempt)
            return
        if result.cancelled:
            status = "cancelled"
        elif totals.exit_code == 0:
            status = "succeeded"
        else:
            status = "failed"
            _, err = self.run.log_paths(task.task_id)
            attempt = self._attempt[task.task_id]
            if attempt <= self.retries and not self._interrupt:
                self._retry(task, attempt, totals.exit_code, stderr_tail(err))
                return
            self.outcome.failures.append(Failure(task.task_id, totals.exit_code,
                                                 stderr_tail(err)))
        if status == "succeeded" and task.cache and self.cache is not None:
            self.cache.store(self._cache_keys[task.task_id], task)
        self._finish(
            task, status, host=result.host,
            submit_time=round(self._submit_time[task.task_id], 6), **totals.columns(),
            output_bytes=sum(path_bytes(p) for p in task.outputs.values()),
            attempt=self._attempt[task.task_id])

    def _retry(self, task: PlannedTask, attempt: int, exit_code: int | None,
               tail: list[str], lost: bool = False) -> None:
        """Keep the failed attempt's logs (its samples carry its attempt number) and run
        the task again. `lost`: the attempt vanished (node or job lost) without a record."""
        self.run.keep_attempt_logs(task.task_id, attempt)
        self.outcome.retried.setdefault(task.task_id, []).append(
            {"attempt": attempt, "exit_code": exit_code, "lost": lost, "stderr_tail": tail})
        self.on_event("retrying", task, {"exit_code": exit_code, "attempt": attempt,
                                         "lost": lost})
        self._start(task, use_cache=False)

    # -- dispatch --------------------------------------------------------------------------
    def _start(self, task: PlannedTask, use_cache: bool = True) -> bool:
        """Submit `task`, or satisfy it from the cache; True if it is now running."""
        if use_cache and task.cache and self.cache is not None:
            key = self.cache.key(task, self.tool_versions.get(task.step, ""))
            self._cache_keys[task.task_id] = key
            if self.cache.restore(key, task):
                self._cached.add(task.task_id)
                self._finish(task, "skipped", reason=f"cached ({key[:12]})")
                return False
        for path in task.outputs.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        out, err = self.run.log_paths(task.task_id)
        self._submit_time[task.task_id] = time.time()
        self._running[task.task_id] = task
        self._used_cores += min(task.threads, self.executor.capacity.cores)
        self._used_memory += task.memory_bytes
        attempt = self._attempt.get(task.task_id, 0) + 1
        self._attempt[task.task_id] = attempt
        self.executor.submit(Job(task.task_id, task.app, task.command,
                                 task.workdir or self.plan.workdir, out, err, task.threads,
                                 task.memory_bytes, task.image, attempt))
        self.on_event("started", task, {})
        return True

    def _fits(self, task: PlannedTask) -> bool:
        cap = self.executor.capacity
        return fits(task.threads, task.memory_bytes,
                    Usage(self._used_cores, self._used_memory),
                    Usage(cap.cores, cap.memory_bytes), bool(self._running))

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._interrupt = True

    def _release(self, task_id: str) -> None:
        """`task_id` has a final status: its dependents may now be ready."""
        self._remaining.discard(task_id)
        wid = self._wid(self._by_id[task_id]) if task_id in self._by_id else None
        if wid is not None and wid in self._open:
            self._open[wid] -= 1
        for dependent in self._dependents.get(task_id, ()):
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                self._make_ready(dependent)

    def _make_ready(self, task_id: str) -> None:
        wid = self._wid(self._by_id[task_id])
        if wid not in self.admitted_at:
            self._held.setdefault(wid, []).append(task_id)
        elif self.policy.static:
            task = self._by_id[task_id]
            heapq.heappush(self._ready, (self.policy.key(task, self._order[task_id],
                                                         self.state), task_id))
        else:
            self._ready.append(((), task_id))

    def _admit(self, now_s: float) -> None:
        """Let arrived workflows in, in the policy's order, while the cap allows."""
        arrived = [w for w in self.arrivals_s if w not in self.admitted_at
                   and self.arrivals_s[w] <= now_s]
        if not arrived:
            return
        in_flight = sum(1 for w in self.admitted_at if self._open.get(w, 0) > 0)
        for wid in admissions(arrived, self.policy, self.state, in_flight,
                              self.concurrency, self._open):
            self.admitted_at[wid] = now_s
            for task_id in self._held.pop(wid, []):
                self._make_ready(task_id)

    def _dispatch(self) -> None:
        """Start ready tasks in the policy's order while they fit; one that does not fit
        waits and later ones may still start (backfill). Stops once no core is free."""
        cap = self.executor.capacity
        if not self.policy.static:
            self.state.free_cores = cap.cores - self._used_cores
            self.state.free_memory_bytes = cap.memory_bytes - self._used_memory
            self._ready = sorted(
                ((self.policy.key(self._by_id[t], self._order[t], self.state), t)
                 for _, t in self._ready))
            heapq.heapify(self._ready)
        deferred = []
        while self._ready and not self.outcome.interrupted:
            if self._running and self._used_cores >= cap.cores:
                break
            item = heapq.heappop(self._ready)
            task = self._by_id[item[1]]
            if self._dispatchable(task) == "skipped":
                continue
            if self._fits(task):
                self._start(task)
                wid = self._wid(task)
                self.state.running[wid] = self.state.running.get(wid, 0) + 1
            else:
                deferred.append(item)
        for item in deferred:
            heapq.heappush(self._ready, item)

    def execute(self) -> Outcome:
        # what exists now (the modules, the plan) lives as long as the run: out of the
        # cyclic collector's sight, its passes no longer walk it at every few hundred
        # allocations of the dispatch loop (issue 22)
        gc.freeze()
        self._by_id = {t.task_id: t for t in self.plan.tasks}
        self._order = {t.task_id: i for i, t in enumerate(self.plan.tasks)}
        self._remaining = {t.task_id for t in self.plan.tasks
                           if t.task_id not in self.outcome.status}
        self._dependents: dict[str, list[str]] = {}
        self._waiting: dict[str, int] = {}
        self._ready = []
        self._held = {}
        self._open: dict[str, int] = {}  # workflow_id -> tasks without a final status
        for task in self.plan.tasks:
            if task.task_id in self._remaining:
                wid = self._wid(task)
                self._open[wid] = self._open.get(wid, 0) + 1
        start = time.monotonic()
        self.started_at = time.time()  # admitted_at counts from here
        self._admit(0.0)
        for task in self.plan.tasks:
            if task.task_id not in self._remaining:
                continue
            for dep in task.deps:
                self._dependents.setdefault(dep, []).append(task.task_id)
            self._waiting[task.task_id] = sum(d in self._remaining for d in task.deps)
            if self._waiting[task.task_id] == 0:
                self._make_ready(task.task_id)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT,
                                                                   signal.SIGTERM)}
        try:
            while self._remaining or self._running:
                now_s = time.monotonic() - start
                # a full or read-only disk stops the run as an interrupt does: the tasks
                # would fail (or hang) on it, and their samples could not be kept
                if self.run.disk_error is not None:
                    self._interrupt = True
                if self._interrupt and not self.outcome.interrupted:
                    self.outcome.interrupted = True
                    for task_id in list(self._running):
                        self.executor.cancel(task_id)
                    for task_id in sorted(self._remaining - set(self._running),
                                          key=self._order.__getitem__):
                        self._finish(self._by_id[task_id], "cancelled",
                                     reason="run interrupted")
                if not self.outcome.interrupted:
                    self._admit(now_s)
                self._dispatch()
                upcoming = [t - now_s for w, t in self.arrivals_s.items()
                            if w not in self.admitted_at and t > now_s]
                if not self._running and not self._ready and not upcoming \
                        and self._remaining and not self.outcome.interrupted:
                    raise RuntimeError(f"engine stalled with {len(self._remaining)} tasks "
                                       "neither ready nor running")
                wait = 0.2 if self._running else 0.0
                if upcoming:
                    wait = min(0.2, max(min(upcoming), 0.0)) if self._running else \
                        max(min(upcoming), 0.0)
                for result in self.executor.poll(wait):
                    task = self._running.pop(result.task_id)
                    self._used_cores -= min(task.threads, self.executor.capacity.cores)
                    self._used_memory -= task.memory_bytes
                    wid = self._wid(task)
                    self.state.running[wid] = self.state.running.get(wid, 1) - 1
                    if result.totals is not None:
                        self.state.cpu_used_s[wid] = (self.state.cpu_used_s.get(wid, 0.0)
                                                      + result.totals.cpu_time_s)
                    self._record_result(task, result)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return self.outcome

    def _dispatchable(self, task: PlannedTask) -> str:
        """'go', or 'skipped' (and records the skip); called once every dependency ended."""
        if task.skip_reason:
            self._finish(task, "skipped", reason=task.skip_reason)
            return "skipped"
        blocked = [d for d in task.deps
                   if self.outcome.status.get(d) != "succeeded" and d not in self._cached]
        if blocked:
            self._finish(task, "skipped", reason=f"upstream {', '.join(blocked)} did not "
                                                 "succeed")
            return "skipped"
        return "go"
