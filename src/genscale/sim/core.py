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
import math
from dataclasses import dataclass, field

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
    with_memory = policy in ("memory-aware", "tail-aware")
    n = len(trace)
    threads_array = np.minimum(trace.threads, cluster.cores_per_node)
    memory_array = trace.memory_bytes.astype(float)
    if with_memory and (memory_array > cluster.memory_per_node_bytes).any():
        i = int(np.argmax(memory_array > cluster.memory_per_node_bytes))
        raise UserError(f"task {trace.table['task_id'].iloc[i]} of workflow "
                        f"{trace.table['workflow_id'].iloc[i]} needs {memory_array[i]:.0f} "
                        f"bytes, more than a node's {cluster.memory_per_node_bytes:.0f}")
    # the loop reads plain lists: indexing one costs a tenth of indexing a numpy array
    rank = ranks(trace, policy).tolist()
    threads = threads_array.tolist()
    memory = memory_array.tolist()
    wall = trace.wall_s.tolist()
    pending = trace.parent_count.tolist()
    child_start, child_index = trace.child_start.tolist(), trace.child_index.tolist()
    sizes = sorted(set(threads))
    bucket_of = {t: b for b, t in enumerate(sizes)}
    bucket = [bucket_of[t] for t in threads]
    state = _State([cluster.cores_per_node] * cluster.nodes,
                   [float(cluster.memory_per_node_bytes)] * cluster.nodes,
                   [-1] * n, [math.nan] * n, [math.nan] * n)
    ready_at = [math.nan] * n
    # roots arrive with their workflow; the others are released by their parents
    roots_array = np.flatnonzero(trace.parent_count == 0)
    roots_array = roots_array[np.argsort(trace.arrival_s[roots_array], kind="stable")]
    roots, root_times = roots_array.tolist(), trace.arrival_s[roots_array].tolist()
    next_root = 0
    ready: list[list[tuple[int, int]]] = [[] for _ in sizes]
    running = state.running
    free, free_memory, node_of = state.free, state.free_memory, state.node_of
    push, pop = heapq.heappush, heapq.heappop
    now = 0.0
    done = 0
    while done < n:
        # what happens at `now`: arrivals, then ends
        while next_root < len(roots) and root_times[next_root] <= now:
            i = roots[next_root]
            ready_at[i] = now
            push(ready[bucket[i]], (rank[i], i))
            next_root += 1
        while running and running[0][0] <= now:
            i = pop(running)[1]
            done += 1
            k = node_of[i]
            free[k] += threads[i]
            if with_memory:
                free_memory[k] += memory[i]
            for child in child_index[child_start[i]:child_start[i + 1]]:
                pending[child] -= 1
                if pending[child] == 0:
                    ready_at[child] = now
                    push(ready[bucket[child]], (rank[child], child))
        _dispatch(now, ready, sizes, state, threads, memory, wall, with_memory,
                  policy == "easy")
        if done >= n:
            break
        if running and (next_root >= len(roots) or running[0][0] <= root_times[next_root]):
            now = running[0][0]
        elif next_root < len(roots):
            now = root_times[next_root]
        else:  # cannot happen: every task becomes ready once its parents end
            raise RuntimeError("simulation stalled with tasks left")
    return Schedule(np.array(node_of, dtype=np.int64), np.array(state.start),
                    np.array(state.end), np.array(ready_at))


@dataclass
class _State:
    """What the dispatch changes: each node's free cores and memory, each task's node,
    start and end, and the heap of (end, task) of what runs."""

    free: list[int]
    free_memory: list[float]
    node_of: list[int]
    start: list[float]
    end: list[float]
    running: list[tuple[float, int]] = field(default_factory=list)


def _first_fit(state: _State, t: int, m: float, with_memory: bool, skip: int = -1) -> int:
    """The first node (not `skip`) with `t` cores (and `m` memory) free; -1 if none."""
    free, free_memory = state.free, state.free_memory
    for k in range(len(free)):
        if free[k] >= t and k != skip and (not with_memory or free_memory[k] >= m):
            return k
    return -1


def _dispatch(now: float, ready: list[list[tuple[int, int]]], sizes: list[int],
              state: _State, threads: list[int], memory: list[float], wall: list[float],
              with_memory: bool, easy: bool) -> None:
    """Start what the policy lets start at `now`."""
    if not any(ready):
        return  # the usual case between arrivals: nothing waits
    deferred: list[tuple[int, int, int]] = []  # (bucket, rank, task): waits this round
    shadow: tuple[float, int, int] | None = None  # EASY: (time, node, extra cores)
    free, free_memory = state.free, state.free_memory
    nodes = range(len(free))
    most = max(free)
    while True:
        best = -1
        best_rank = 0
        for b, heap in enumerate(ready):
            if heap and ((easy and shadow is None) or sizes[b] <= most) \
                    and (best < 0 or heap[0][0] < best_rank):
                best, best_rank = b, heap[0][0]
        if best < 0:
            break
        r, i = heapq.heappop(ready[best])
        t, m = threads[i], memory[i]
        # first fit, inline: this loop is the simulator's hottest
        k = -1
        for node in nodes:
            if free[node] >= t and (not with_memory or free_memory[node] >= m):
                k = node
                break
        if k < 0:
            if easy and shadow is None:  # the first that waits: reserve for it
                shadow = _reserve(t, free, state.running, threads, state.node_of)
            deferred.append((best, r, i))
            continue
        if shadow is not None and now + wall[i] > shadow[0]:
            # it would still run at the reservation: not on the reserved node's cores
            shadow_s, reserved, extra = shadow
            if k == reserved:
                other = _first_fit(state, t, m, with_memory, skip=reserved)
                if other >= 0:
                    k = other
                elif t <= extra:
                    shadow = (shadow_s, reserved, extra - t)
                else:
                    deferred.append((best, r, i))
                    continue
        free[k] -= t
        if with_memory:
            free_memory[k] -= m
        if free[k] + t == most:
            most = max(free)
        state.node_of[i] = k
        state.start[i] = now
        state.end[i] = now + wall[i]
        heapq.heappush(state.running, (now + wall[i], i))
    for b, r, i in deferred:
        heapq.heappush(ready[b], (r, i))


def _reserve(t: int, free: list[int], running: list[tuple[float, int]],
             threads: list[int], node_of: list[int]) -> tuple[float, int, int]:
    """EASY's reservation for a task of `t` threads: the earliest end after which a node
    has `t` free cores, that node, and the cores it will have beyond `t`."""
    projected = list(free)
    for end_s, i in sorted(running):
        k = node_of[i]
        projected[k] += threads[i]
        if projected[k] >= t:
            return end_s, k, projected[k] - t
    return float("inf"), -1, 0  # never: it would have fit an idle node now
