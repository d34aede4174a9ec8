"""The event core: a trace's tasks on a cluster of identical nodes, under a policy.

A task is ready when its workflow has arrived and its parents have ended. It runs on one
node, holding `threads` of the node's cores (at most the node's) for `wall_s` seconds;
under `memory-aware` and `tail-aware` it also holds `memory_bytes` of the node's memory,
and starts only where that fits (they never oversubscribe memory; the others place by
cores alone, as a cluster that does not enforce memory would). A task goes to the first
node, in node order, where it fits.

Policies (each gives every task a fixed rank, smaller first; `ranks`):

- `fifo`: the engine's `Fifo` (earlier workflows first, then plan order), dispatched by the
  engine's rule: ready tasks start in rank order while they fit, and a later one may start
  where an earlier one does not fit;
- `shortest-predicted-first`: the engine's `ShortestPredictedFirst` (the workflow
  predicted to finish soonest: the trace's `predicted_s`, else its tasks' summed wall
  time), dispatched the same way;
- `easy`: `fifo`'s ranks with EASY backfilling: the first task in rank order that does not
  fit gets a reservation (the earliest time a node has its cores, given what runs), and
  a later task starts now only if it does not delay that reservation;
- `memory-aware`: `fifo`, placing by cores and memory;
- `tail-aware`: memory-aware, and workflows ranked by their expected time, the prediction
  times (1 + tail_probability x (k - 1)) with k the models' tail factor: a workflow the
  models expect in the tail waits behind those that will finish sooner, instead of
  holding cores ahead of them.

The loop keeps its state in arrays: free cores and memory per node, each task's count of
unfinished parents, a heap of (end time, task) for what runs, and one heap of (rank, task)
per distinct thread count for what is ready, so a dispatch looks only at the heads of the
heaps whose tasks can fit somewhere.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from genscale.errors import UserError
from genscale.model.options import FitOptions
from genscale.sim.policies import POLICIES
from genscale.sim.trace import Trace


@dataclass(frozen=True)
class Cluster:
    nodes: int
    cores_per_node: int
    memory_per_node_bytes: float


@dataclass
class Schedule:
    """Each task's node, start and end (seconds), and when it became ready."""

    node: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    ready_s: np.ndarray


def _workflow_values(trace: Trace, column: str) -> np.ndarray | None:
    if column not in trace.table.columns:
        return None
    values = trace.table[column].astype(float).groupby(trace.workflow).max()
    return values.reindex(range(int(trace.workflow.max()) + 1)).to_numpy()[trace.workflow]


def ranks(trace: Trace, policy: str) -> np.ndarray:
    """Each task's rank under `policy` (0 first)."""
    if policy not in POLICIES:
        raise UserError(f"--policy {policy}: expected one of {', '.join(POLICIES)}")
    keys: list[np.ndarray] = [trace.plan_order, trace.workflow]
    if policy in ("shortest-predicted-first", "tail-aware"):
        predicted = _workflow_values(trace, "predicted_s")
        if predicted is None:  # the oracle: what the workflow's tasks took
            totals = np.bincount(trace.workflow, weights=trace.wall_s)
            predicted = totals[trace.workflow]
        if policy == "tail-aware":
            tail = _workflow_values(trace, "tail_probability")
            if tail is None:
                raise UserError("--policy tail-aware: the trace has no tail_probability "
                                "column (genscale synth trace writes one)")
            k = FitOptions().tail_k  # a tail run takes k times its typical time, at least
            predicted = predicted * (1.0 + np.nan_to_num(tail) * (k - 1.0))
        keys.append(predicted)
    order = np.lexsort(keys)  # the last key sorts first
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(len(order))
    return out


def simulate(trace: Trace, cluster: Cluster, policy: str = "fifo") -> Schedule:
    """The schedule of `trace` on `cluster` under `policy` (module docstring)."""
    if cluster.nodes < 1 or cluster.cores_per_node < 1 or cluster.memory_per_node_bytes <= 0:
        raise UserError("the cluster needs at least one node, one core and some memory")
    rank = ranks(trace, policy)
    with_memory = policy in ("memory-aware", "tail-aware")
    n = len(trace)
    threads = np.minimum(trace.threads, cluster.cores_per_node)
    memory = trace.memory_bytes.astype(float)
    if with_memory and (memory > cluster.memory_per_node_bytes).any():
        i = int(np.argmax(memory > cluster.memory_per_node_bytes))
        raise UserError(f"task {trace.table['task_id'].iloc[i]} of workflow "
                        f"{trace.table['workflow_id'].iloc[i]} needs {memory[i]:.0f} bytes, "
                        f"more than a node's {cluster.memory_per_node_bytes:.0f}")
    free = np.full(cluster.nodes, cluster.cores_per_node, dtype=np.int64)
    free_memory = np.full(cluster.nodes, float(cluster.memory_per_node_bytes))
    pending = trace.parent_count.copy()
    child_start, child_index = trace.child_start, trace.child_index
    wall = trace.wall_s
    node_of = np.full(n, -1, dtype=np.int64)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    ready_at = np.full(n, np.nan)
    # roots arrive with their workflow; the others are released by their parents
    roots = np.flatnonzero(pending == 0)
    roots = roots[np.argsort(trace.arrival_s[roots], kind="stable")]
    root_times = trace.arrival_s[roots]
    next_root = 0
    sizes = sorted({int(t) for t in threads})
    bucket_of = {t: b for b, t in enumerate(sizes)}
    bucket = np.array([bucket_of[int(t)] for t in threads], dtype=np.int64)
    ready: list[list[tuple[int, int]]] = [[] for _ in sizes]
    running: list[tuple[float, int]] = []
    now = 0.0
    done = 0
    while done < n:
        # what happens at `now`: arrivals, then ends
        while next_root < len(roots) and root_times[next_root] <= now:
            i = int(roots[next_root])
            ready_at[i] = now
            heapq.heappush(ready[bucket[i]], (int(rank[i]), i))
            next_root += 1
        while running and running[0][0] <= now:
            _, i = heapq.heappop(running)
            done += 1
            k = int(node_of[i])
            free[k] += threads[i]
            if with_memory:
                free_memory[k] += memory[i]
            for child in child_index[child_start[i]:child_start[i + 1]]:
                pending[child] -= 1
                if pending[child] == 0:
                    ready_at[child] = now
                    heapq.heappush(ready[bucket[child]], (int(rank[child]), int(child)))
        _dispatch(now, ready, sizes, free, free_memory, threads, memory, wall, with_memory,
                  policy == "easy", running, node_of, start, end)
        if done >= n:
            break
        upcoming = [running[0][0]] if running else []
        if next_root < len(roots):
            upcoming.append(float(root_times[next_root]))
        if not upcoming:  # cannot happen: every task becomes ready once its parents end
            raise RuntimeError("simulation stalled with tasks left")
        now = min(upcoming)
    return Schedule(node_of, start, end, ready_at)


def _dispatch(now: float, ready: list[list[tuple[int, int]]], sizes: list[int],
              free: np.ndarray, free_memory: np.ndarray, threads: np.ndarray,
              memory: np.ndarray, wall: np.ndarray, with_memory: bool, easy: bool,
              running: list[tuple[float, int]], node_of: np.ndarray, start: np.ndarray,
              end: np.ndarray) -> None:
    """Start what the policy lets start at `now`."""
    deferred: list[tuple[int, int, int]] = []  # (bucket, rank, task): fit no node's memory
    shadow: tuple[float, int, int] | None = None  # EASY: (time, node, extra cores)
    while True:
        most = int(free.max())
        best = -1
        for b, heap in enumerate(ready):
            if heap and ((easy and shadow is None) or sizes[b] <= most) \
                    and (best < 0 or heap[0][0] < ready[best][0][0]):
                best = b
        if best < 0:
            break
        r, i = ready[best][0]
        t = int(threads[i])
        fits = free >= t
        if with_memory:
            fits &= free_memory >= memory[i]
        if not fits.any():
            if easy and shadow is None:  # the first that waits: reserve for it
                shadow = _reserve(t, free, running, threads, node_of)
            heapq.heappop(ready[best])
            deferred.append((best, r, i))
            continue
        candidates = np.flatnonzero(fits)
        k = int(candidates[0])
        if shadow is not None:
            shadow_s, reserved, extra = shadow
            if now + wall[i] > shadow_s:  # ends after the reservation: not on its cores
                others = candidates[candidates != reserved]
                if others.size:
                    k = int(others[0])
                elif t <= extra:
                    shadow = (shadow_s, reserved, extra - t)
                else:
                    heapq.heappop(ready[best])
                    deferred.append((best, r, i))
                    continue
        heapq.heappop(ready[best])
        free[k] -= t
        if with_memory:
            free_memory[k] -= memory[i]
        node_of[i] = k
        start[i] = now
        end[i] = now + wall[i]
        heapq.heappush(running, (end[i], i))
    for b, r, i in deferred:
        heapq.heappush(ready[b], (r, i))


def _reserve(t: int, free: np.ndarray, running: list[tuple[float, int]],
             threads: np.ndarray, node_of: np.ndarray) -> tuple[float, int, int]:
    """EASY's reservation for a task of `t` threads: the earliest end after which a node
    has `t` free cores, that node, and the cores it will have beyond `t`."""
    projected = free.copy()
    for end_s, i in sorted(running):
        k = int(node_of[i])
        projected[k] += threads[i]
        if projected[k] >= t:
            return end_s, k, int(projected[k] - t)
    return float("inf"), -1, 0  # never: it would have fit an idle node now
