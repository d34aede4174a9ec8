"""What a simulation gives: `summary.json` and `tasks.parquet`, each written whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.sim.core import Cluster, Schedule
from genscale.sim.trace import Trace
from genscale.store.rundir import atomic_write_json


def summarise(trace: Trace, schedule: Schedule, cluster: Cluster, policy: str,
              wall_seconds_taken: float) -> dict[str, Any]:
    """The schedule's makespan, workflow turnaround (end of its last task less its
    arrival) at p50/p95/p99, queue wait (start less ready) at mean/p95, and utilisation
    (core-seconds held over the cluster's over the makespan)."""
    first = float(trace.arrival_s.min())
    makespan = float(schedule.end_s.max()) - first
    ends = pd.Series(schedule.end_s).groupby(trace.workflow).max().to_numpy()
    arrivals = pd.Series(trace.arrival_s).groupby(trace.workflow).min().to_numpy()
    turnaround = ends - arrivals
    wait = schedule.start_s - schedule.ready_s
    threads = np.minimum(trace.threads, cluster.cores_per_node)
    held = float((threads * trace.wall_s).sum())
    capacity = cluster.nodes * cluster.cores_per_node * makespan
    return {
        "policy": policy,
        "nodes": cluster.nodes, "cores_per_node": cluster.cores_per_node,
        "memory_per_node_bytes": cluster.memory_per_node_bytes,
        "workflows": len(turnaround), "tasks_simulated": len(trace),
        "makespan_s": makespan,
        "turnaround_s": {f"p{q}": float(np.percentile(turnaround, q)) for q in (50, 95, 99)}
        | {"mean": float(turnaround.mean())},
        "queue_wait_s": {"mean": float(wait.mean()), "p95": float(np.percentile(wait, 95)),
                         "max": float(wait.max())},
        "utilisation": held / capacity if capacity > 0 else 0.0,
        "wall_seconds_taken": wall_seconds_taken,
    }


def task_table(trace: Trace, schedule: Schedule) -> pd.DataFrame:
    """The trace's rows with each task's simulated `node`, `ready_s`, `start_s`, `end_s`."""
    keep = [c for c in ("workflow_id", "task_id", "step", "app", "arrival_s", "threads",
                        "memory_bytes", "wall_s") if c in trace.table.columns]
    out = trace.table[keep].copy()
    out["node"] = schedule.node
    out["ready_s"] = schedule.ready_s
    out["start_s"] = schedule.start_s
    out["end_s"] = schedule.end_s
    return out


def write(out: Path, summary: dict[str, Any], tasks: pd.DataFrame) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".tasks.parquet.tmp"
    tasks.to_parquet(tmp, index=False)
    tmp.replace(out / "tasks.parquet")
    atomic_write_json(out / "summary.json", summary)
