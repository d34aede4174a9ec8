"""Scheduling policies: which ready task starts next, and which arrived workflow is let in.

A policy orders; the engine still only starts what fits the budget (`fits`), and lets in
what the concurrency cap allows (`admissions`). Static policies give each task a fixed key
(the engine keeps a heap); dynamic ones are asked again at each decision, with the state
they need. Everything here is a pure function of its arguments, so the engine's real clock
and a simulator's virtual clock make the same decisions from the same state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from genscale.errors import UserError
from genscale.workflow.plan import PlannedTask


@dataclass
class SchedulingState:
    """What dynamic policies may look at."""

    arrival_rank: dict[str, int] = field(default_factory=dict)  # workflow_id -> order
    predicted_s: dict[str, float] = field(default_factory=dict)  # workflow_id -> runtime
    cpu_used_s: dict[str, float] = field(default_factory=dict)  # workflow_id -> so far
    running: dict[str, int] = field(default_factory=dict)  # workflow_id -> tasks running
    free_cores: int = 0
    free_memory_bytes: int = 0


class Policy(ABC):
    name: str = "base"
    static: bool = True

    @abstractmethod
    def key(self, task: PlannedTask, order: int, state: SchedulingState) -> tuple[float, ...]:
        """Smaller starts first. `order` is the task's place in the plan."""

    def admit_key(self, workflow_id: str, state: SchedulingState) -> tuple[float, ...]:
        """Among arrived workflows waiting for a place, smaller is let in first."""
        return (state.arrival_rank.get(workflow_id, 0),)


def _wid(task: PlannedTask) -> str:
    return task.workflow_id or ""


class Fifo(Policy):
    """First come, first served: earlier workflows first, then plan order."""

    name = "fifo"

    def key(self, task: PlannedTask, order: int, state: SchedulingState) -> tuple[float, ...]:
        return (state.arrival_rank.get(_wid(task), 0), order)


class ShortestPredictedFirst(Policy):
    """The workflow predicted to finish soonest first (a prediction model's, else an
    input-size heuristic), both to let in and to run."""

    name = "shortest-predicted-first"

    def key(self, task: PlannedTask, order: int, state: SchedulingState) -> tuple[float, ...]:
        wid = _wid(task)
        return (state.predicted_s.get(wid, 0.0), state.arrival_rank.get(wid, 0), order)

    def admit_key(self, workflow_id: str, state: SchedulingState) -> tuple[float, ...]:
        return (state.predicted_s.get(workflow_id, 0.0),
                state.arrival_rank.get(workflow_id, 0))


class FairShare(Policy):
    """The workflow that has had least so far (CPU seconds used, then tasks running) goes
    next, so long workflows do not starve short ones."""

    name = "fair-share"
    static = False

    def key(self, task: PlannedTask, order: int, state: SchedulingState) -> tuple[float, ...]:
        wid = _wid(task)
        return (state.cpu_used_s.get(wid, 0.0), state.running.get(wid, 0),
                state.arrival_rank.get(wid, 0), order)


class Packing(Policy):
    """Resource-aware packing: the largest ready task that still fits goes first (best fit
    decreasing on cores, then memory), so small tasks fill the gaps big ones leave."""

    name = "packing"
    static = False

    def key(self, task: PlannedTask, order: int, state: SchedulingState) -> tuple[float, ...]:
        fits = task.threads <= state.free_cores and task.memory_bytes <= state.free_memory_bytes
        return (0 if fits else 1, -task.threads, -task.memory_bytes,
                state.arrival_rank.get(_wid(task), 0), order)


POLICIES: Mapping[str, type[Policy]] = {p.name: p for p in (Fifo, ShortestPredictedFirst,
                                                          FairShare, Packing)}


@dataclass(frozen=True)
class Usage:
    """Cores and memory: a budget, or what is in use of it."""

    cores: int
    memory_bytes: int


def fits(threads: int, memory_bytes: int, used: Usage, capacity: Usage,
         anything_running: bool) -> bool:
    """Whether a task asking for `threads` and `memory_bytes` may start now. On an idle
    budget anything starts (a task larger than the budget still runs, alone); otherwise its
    cores (at most the budget's) and its memory must fit in what is free."""
    if not anything_running:
        return True
    return (used.cores + min(threads, capacity.cores) <= capacity.cores
            and used.memory_bytes + memory_bytes <= capacity.memory_bytes)


def admissions(arrived: Iterable[str], policy: Policy, state: SchedulingState,
               in_flight: int, concurrency: int | None,
               open_tasks: Mapping[str, int]) -> list[str]:
    """The arrived workflows to let in now, in the policy's order (`admit_key`): while
    fewer than `concurrency` (None: no cap) are in flight. A workflow counts as in flight
    while it has tasks without a final status (`open_tasks`)."""
    let_in = []
    for workflow_id in sorted(arrived, key=lambda w: policy.admit_key(w, state)):
        if concurrency is not None and in_flight >= concurrency:
            break
        let_in.append(workflow_id)
        if open_tasks.get(workflow_id, 0) > 0:
            in_flight += 1
    return let_in


def make_policy(name: str) -> Policy:
    if name not in POLICIES:
        raise UserError(f"--policy {name}: expected one of {', '.join(POLICIES)}")
    return POLICIES[name]()
