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

The loop keeps its state in arrays and is compiled (numba): free cores and memory per node,
each task's count of unfinished parents, a heap of (end time, task) for what runs, and one
heap of ranks per distinct thread count for what is ready, so a dispatch looks only at the
heads of the heaps whose tasks can fit somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
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
    threads = np.minimum(trace.threads, cluster.cores_per_node).astype(np.int64)
    memory = trace.memory_bytes.astype(np.float64)
    if with_memory and (memory > cluster.memory_per_node_bytes).any():
        i = int(np.argmax(memory > cluster.memory_per_node_bytes))
        raise UserError(f"task {trace.table['task_id'].iloc[i]} of workflow "
                        f"{trace.table['workflow_id'].iloc[i]} needs {memory[i]:.0f} "
                        f"bytes, more than a node's {cluster.memory_per_node_bytes:.0f}")
    rank = ranks(trace, policy)
    task_of_rank = np.empty(n, dtype=np.int64)
    task_of_rank[rank] = np.arange(n)
    sizes, bucket = np.unique(threads, return_inverse=True)
    # roots arrive with their workflow; the others are released by their parents
    roots = np.flatnonzero(trace.parent_count == 0)
    roots = roots[np.argsort(trace.arrival_s[roots], kind="stable")].astype(np.int64)
    node_of = np.full(n, -1, dtype=np.int64)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    ready_at = np.full(n, np.nan)
    if n:
        stalled = _events(
            rank.astype(np.int64), task_of_rank, threads, memory,
            trace.wall_s.astype(np.float64), trace.parent_count.astype(np.int64),
            trace.child_start.astype(np.int64), trace.child_index.astype(np.int64),
            sizes.astype(np.int64), bucket.astype(np.int64).ravel(), roots,
            trace.arrival_s[roots].astype(np.float64), cluster.nodes, cluster.cores_per_node,
            float(cluster.memory_per_node_bytes), with_memory, policy == "easy",
            node_of, start, end, ready_at)
        if stalled:  # cannot happen: every task becomes ready once its parents end
            raise RuntimeError("simulation stalled with tasks left")
    return Schedule(node_of, start, end, ready_at)


# The event loop, compiled by numba (cached after the first use): the same rules in Python
# ran 4 µs a task, most of it the interpreter's. Its heaps are arrays: what runs, as (end,
# task) pairs; what is ready, one heap of ranks per distinct thread count, each a segment
# of one array (ranks are unique, so a rank names its task).

@numba.njit(cache=True, nogil=True, inline="always")
def _before(end_a: float, task_a: int, end_b: float, task_b: int) -> bool:
    return end_a < end_b or (end_a == end_b and task_a < task_b)


@numba.njit(cache=True, nogil=True)
def _running_push(ends: np.ndarray, tasks: np.ndarray, size: int, end_s: float,
                  task: int) -> int:
    j = size
    while j > 0:
        parent = (j - 1) >> 1
        if not _before(end_s, task, ends[parent], tasks[parent]):
            break
        ends[j], tasks[j] = ends[parent], tasks[parent]
        j = parent
    ends[j], tasks[j] = end_s, task
    return size + 1


@numba.njit(cache=True, nogil=True)
def _running_pop(ends: np.ndarray, tasks: np.ndarray, size: int) -> int:
    """Remove the heap's head (read it first); return the new size."""
    size -= 1
    last_end, last_task = ends[size], tasks[size]
    j = 0
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and _before(ends[child + 1], tasks[child + 1], ends[child],
                                        tasks[child]):
            child += 1
        if not _before(ends[child], tasks[child], last_end, last_task):
            break
        ends[j], tasks[j] = ends[child], tasks[child]
        j = child
    ends[j], tasks[j] = last_end, last_task
    return size


@numba.njit(cache=True, nogil=True)
def _ready_push(heap: np.ndarray, offset: int, size: int, rank: int) -> int:
    j = size
    while j > 0:
        parent = (j - 1) >> 1
        if heap[offset + parent] <= rank:
            break
        heap[offset + j] = heap[offset + parent]
        j = parent
    heap[offset + j] = rank
    return size + 1


@numba.njit(cache=True, nogil=True)
def _ready_pop(heap: np.ndarray, offset: int, size: int) -> int:
    size -= 1
    last = heap[offset + size]
    j = 0
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and heap[offset + child + 1] < heap[offset + child]:
            child += 1
        if heap[offset + child] >= last:
            break
        heap[offset + j] = heap[offset + child]
        j = child
    heap[offset + j] = last
    return size


@numba.njit(cache=True, nogil=True)
def _reserve(t: int, free: np.ndarray, ends: np.ndarray, tasks: np.ndarray, size: int,
             threads: np.ndarray, node_of: np.ndarray) -> tuple[float, int, int]:
    """EASY's reservation for a task of `t` threads: the earliest end after which a node
    has `t` free cores, that node, and the cores it will have beyond `t`."""
    projected = free.copy()
    ends, tasks = ends[:size].copy(), tasks[:size].copy()
    while size:
        end_s, i = ends[0], tasks[0]
        size = _running_pop(ends, tasks, size)
        k = node_of[i]
        projected[k] += threads[i]
        if projected[k] >= t:
            return end_s, k, projected[k] - t
    return np.inf, -1, 0  # never: it would have fit an idle node now


@numba.njit(cache=True, nogil=True)
def _first_fit(free: np.ndarray, free_memory: np.ndarray, t: int, m: float,
               with_memory: bool, skip: int) -> int:
    """The first node (not `skip`) with `t` cores (and `m` memory) free; -1 if none."""
    for k in range(free.size):
        if free[k] >= t and k != skip and (not with_memory or free_memory[k] >= m):
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _events(rank: np.ndarray, task_of_rank: np.ndarray, threads: np.ndarray,
            memory: np.ndarray, wall: np.ndarray, pending: np.ndarray,
            child_start: np.ndarray, child_index: np.ndarray, sizes: np.ndarray,
            bucket: np.ndarray, roots: np.ndarray, root_times: np.ndarray, nodes: int,
            cores: int, node_memory: float, with_memory: bool, easy: bool,
            node_of: np.ndarray, start: np.ndarray, end: np.ndarray,
            ready_at: np.ndarray) -> bool:
    """Run the trace to its end, filling node_of, start, end and ready_at; True if it
    stalled with tasks left."""
    n = rank.size
    pending = pending.copy()
    n_buckets = sizes.size
    offset = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(n):
        offset[bucket[i] + 1] += 1
    for b in range(n_buckets):
        offset[b + 1] += offset[b]
    ready = np.empty(n, dtype=np.int64)
    ready_size = np.zeros(n_buckets, dtype=np.int64)
    run_end = np.empty(n)
    run_task = np.empty(n, dtype=np.int64)
    running = 0
    free = np.full(nodes, cores, dtype=np.int64)
    free_memory = np.full(nodes, node_memory)
    deferred = np.empty(n, dtype=np.int64)  # ranks that wait this round
    now = 0.0
    done = 0
    next_root = 0
    while done < n:
        # what happens at `now`: arrivals, then ends
        while next_root < roots.size and root_times[next_root] <= now:
            i = roots[next_root]
            ready_at[i] = now
            b = bucket[i]
            ready_size[b] = _ready_push(ready, offset[b], ready_size[b], rank[i])
            next_root += 1
        while running and run_end[0] <= now:
            i = run_task[0]
            running = _running_pop(run_end, run_task, running)
            done += 1
            k = node_of[i]
            free[k] += threads[i]
            if with_memory:
                free_memory[k] += memory[i]
            for c in range(child_start[i], child_start[i + 1]):
                child = child_index[c]
                pending[child] -= 1
                if pending[child] == 0:
                    ready_at[child] = now
                    b = bucket[child]
                    ready_size[b] = _ready_push(ready, offset[b], ready_size[b], rank[child])
        # dispatch: start what the policy lets start at `now`
        waiting = 0
        for b in range(n_buckets):
            waiting += ready_size[b]
        if waiting:
            n_deferred = 0
            shadow = False  # EASY: a reservation, at shadow_s on node `reserved`
            shadow_s = 0.0
            reserved = -1
            extra = 0
            most = free.max()
            while True:
                best = -1
                best_rank = 0
                for b in range(n_buckets):
                    if ready_size[b] and ((easy and not shadow) or sizes[b] <= most):
                        head = ready[offset[b]]
                        if best < 0 or head < best_rank:
                            best, best_rank = b, head
                if best < 0:
                    break
                ready_size[best] = _ready_pop(ready, offset[best], ready_size[best])
                i = task_of_rank[best_rank]
                t, m = threads[i], memory[i]
                k = _first_fit(free, free_memory, t, m, with_memory, -1)
                if k < 0:
                    if easy and not shadow:  # the first that waits: reserve for it
                        shadow = True
                        shadow_s, reserved, extra = _reserve(t, free, run_end, run_task,
                                                             running, threads, node_of)
                    deferred[n_deferred] = best_rank
                    n_deferred += 1
                    continue
                if shadow and now + wall[i] > shadow_s and k == reserved:
                    # it would still run at the reservation: not on the reserved node's cores
                    other = _first_fit(free, free_memory, t, m, with_memory, reserved)
                    if other >= 0:
                        k = other
                    elif t <= extra:
                        extra -= t
                    else:
                        deferred[n_deferred] = best_rank
                        n_deferred += 1
                        continue
                free[k] -= t
                if with_memory:
                    free_memory[k] -= m
                if free[k] + t == most:
                    most = free.max()
                node_of[i] = k
                start[i] = now
                end[i] = now + wall[i]
                running = _running_push(run_end, run_task, running, now + wall[i], i)
            for d in range(n_deferred):
                i = task_of_rank[deferred[d]]
                b = bucket[i]
                ready_size[b] = _ready_push(ready, offset[b], ready_size[b], deferred[d])
        if done >= n:
            break
        if running and (next_root >= roots.size or run_end[0] <= root_times[next_root]):
            now = run_end[0]
        elif next_root < roots.size:
            now = root_times[next_root]
        else:
            return True
    return False
