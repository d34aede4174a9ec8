"""An executor that runs nothing: each job ends after a scripted number of the engine's
polls, with a scripted exit status, or is lost. For fast tests of the engine's dispatch,
backfill, retries and interrupts through the real runner and run directory (no process,
no sampling of a task)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from genscale.executors import registry
from genscale.executors.base import Executor, ExecutorContext, Job, JobResult, Resources
from genscale.monitor.process import TaskTotals

OK, LOST = 0, "lost"


@dataclass
class Script:
    """What each task's attempts do: task_id -> [exit status or LOST, per attempt] (default
    [OK]), and how many polls a job runs (default 1)."""

    outcomes: dict[str, list[int | str]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)


@dataclass
class _Running:
    job: Job
    polls_left: int
    started: float


class FakeExecutor(Executor):
    name = "fake"
    script: ClassVar[Script] = Script()
    last: ClassVar[FakeExecutor | None] = None

    def __init__(self, capacity: Resources) -> None:
        self._capacity = capacity
        self.running: dict[str, _Running] = {}
        self.cancelled: set[str] = set()
        self.submitted: list[tuple[str, int]] = []  # (task_id, attempt), in order
        self.peak_cores = 0
        self.peak_memory_bytes = 0
        self.on_submit: Any = None  # called with each job, after it is recorded

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> FakeExecutor:
        cls.last = cls(Resources(context.cores or 2, context.memory_bytes or 8 * 2**30))
        return cls.last

    @property
    def capacity(self) -> Resources:
        return self._capacity

    def submit(self, job: Job) -> None:
        polls = self.script.polls.get(job.task_id, 1)
        self.running[job.task_id] = _Running(job, polls, time.time())
        self.submitted.append((job.task_id, job.attempt))
        self.peak_cores = max(self.peak_cores, sum(
            min(r.job.threads, self._capacity.cores) for r in self.running.values()))
        self.peak_memory_bytes = max(self.peak_memory_bytes, sum(
            r.job.memory_bytes for r in self.running.values()))
        if self.on_submit is not None:
            self.on_submit(job)

    def poll(self, timeout_s: float) -> list[JobResult]:
        ended = []
        for task_id, running in list(self.running.items()):
            running.polls_left -= 1
            if running.polls_left <= 0 or task_id in self.cancelled:
                del self.running[task_id]
                ended.append(self._result(running))
        return ended

    def _result(self, running: _Running) -> JobResult:
        job = running.job
        if job.task_id in self.cancelled:
            return JobResult(job.task_id, "fake-node", None, cancelled=True)
        outcomes = self.script.outcomes.get(job.task_id, [OK])
        outcome = outcomes[min(job.attempt, len(outcomes)) - 1]
        if outcome == LOST:
            return JobResult(job.task_id, "fake-node", None, lost=True,
                             error=f"fake job {job.task_id} lost")
        end = time.time()
        totals = TaskTotals(exit_code=int(outcome), start_time=running.started,
                            end_time=end, wall_s=end - running.started, cpu_user_s=0.0,
                            cpu_system_s=0.0, peak_rss_bytes=0, read_bytes=0,
                            write_bytes=0, read_chars=0, write_chars=0, read_ops=0,
                            write_ops=0, max_procs=1, max_threads=1, samples=0)
        return JobResult(job.task_id, "fake-node", totals)

    def cancel(self, task_id: str) -> None:
        self.cancelled.add(task_id)

    def shutdown(self) -> None:
        for task_id in list(self.running):
            self.cancel(task_id)


def install(script: Script) -> type[FakeExecutor]:
    """Register the fake executor with `script`; the class (its `last` instance is the
    one a run made)."""
    FakeExecutor.script = script
    FakeExecutor.last = None
    registry.register(FakeExecutor.name, FakeExecutor)
    return FakeExecutor
