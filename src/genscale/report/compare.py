"""Comparing runs (policies, settings) on what a scheduler is judged by: makespan, workflow
time (mean, p95, p99) and utilisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.store.rundir import RunDirectory


def workflow_times(run_dir: Path, info: dict[str, Any] | None = None,
                   tasks: pd.DataFrame | None = None) -> dict[str, float]:
    """Each workflow's time: from its arrival (the run's start for a single workflow) to
    its last task's end. `info` and `tasks`: the run's, when the caller has read them."""
    run = RunDirectory(run_dir)
    info = run.read_run_info() if info is None else info
    tasks = run.tasks() if tasks is None else tasks
    ran = tasks[tasks["end_time"].notna()]
    start = float(info["start_time"])
    instances = (info.get("workload") or {}).get("instances", {})
    arrivals = {w: start + float(i["arrival_s"]) for w, i in instances.items()}
    return {str(wid): float(group["end_time"].max())
            - arrivals.get(str(wid), float(group["submit_time"].min()))
            for wid, group in ran.groupby("workflow_id")}


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """Workflow time is from a workflow's arrival to its last task's end; makespan from the
    first arrival to the last end; utilisation the CPU used over makespan x cores."""
    run = RunDirectory(run_dir)
    info = run.read_run_info()
    tasks = run.tasks()
    ran = tasks[tasks["end_time"].notna()]
    start = float(info["start_time"])
    workload = info.get("workload") or {}
    arrivals = [start + float(i["arrival_s"]) for i in workload.get("instances", {}).values()]
    times = list(workflow_times(run_dir, info, tasks).values())
    first = min(arrivals) if arrivals else float(ran["submit_time"].min())
    makespan = float(ran["end_time"].max()) - first if len(ran) else 0.0
    cores = int(info.get("host", {}).get("cores") or 1)
    cpu = float(ran["cpu_time_s"].sum())
    t = np.array(times) if times else np.zeros(1)
    return {
        "run_id": info["run_id"],
        "policy": workload.get("policy", "fifo"),
        "workflows": len(times),
        "tasks_failed": int((tasks["status"] == "failed").sum()),
        "makespan_s": round(makespan, 2),
        "workflow_mean_s": round(float(t.mean()), 2),
        "workflow_p95_s": round(float(np.percentile(t, 95)), 2),
        "workflow_p99_s": round(float(np.percentile(t, 99)), 2),
        "utilisation": round(cpu / (makespan * cores), 3) if makespan else 0.0,
    }


def compare_runs(run_dirs: list[Path]) -> pd.DataFrame:
    return pd.DataFrame([run_metrics(d) for d in run_dirs])
