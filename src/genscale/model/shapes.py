"""How a step's CPU and memory move over its run: shapes measured from a corpus's samples.

A task's series is put on its own clock (elapsed time over its wall time, 0 to 1); its CPU
divided by its mean over the run (so a shape averages 1) and its resident memory by its peak
(so a shape peaks at 1). The closing sample of a process that has exited (no process left,
memory 0) is left out of the memory: it is the exit, not the run. A step's shape is the
median over its tasks at `GRID` evenly spaced points. `resample` gives a shape at any number
of points, normalised again, ready to be scaled by a task's drawn totals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GRID = 20


def _task_shape(times: np.ndarray, cpu: np.ndarray, rss: np.ndarray, procs: np.ndarray,
                wall: float) -> tuple[np.ndarray, np.ndarray] | None:
    if wall <= 0 or len(times) < 2:
        return None
    grid = (np.arange(GRID) + 0.5) / GRID
    clock = np.clip(times / wall, 0.0, 1.0)
    mean = float(np.mean(cpu))
    alive = procs > 0
    if mean <= 0 or alive.sum() < 1:
        return None
    peak = float(np.max(rss[alive]))
    if peak <= 0:
        return None
    cpu_shape = np.interp(grid, clock, cpu / mean)
    rss_shape = np.interp(grid, clock[alive], rss[alive] / peak)
    return cpu_shape, rss_shape


def measure(corpus_dir: Path) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Each workflow's steps' shapes, from the corpus's `samples.parquet` and `tasks.csv`."""
    samples = pd.read_parquet(corpus_dir / "samples.parquet",
                              columns=["run_id", "task_id", "attempt", "elapsed_s",
                                       "cpu_cores", "rss_bytes", "procs"])
    tasks = pd.read_csv(corpus_dir / "tasks.csv", usecols=["run_id", "task_id", "workflow",
                                                           "step", "wall_s", "status",
                                                           "attempt"])
    tasks = tasks[tasks["status"] == "succeeded"]
    joined = samples.merge(tasks, on=["run_id", "task_id", "attempt"])
    collected: dict[tuple[str, str], tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for (workflow, step, _, _), group in joined.groupby(
            ["workflow", "step", "run_id", "task_id"], sort=True):
        group = group.sort_values("elapsed_s")
        shape = _task_shape(group["elapsed_s"].to_numpy(dtype=float),
                            group["cpu_cores"].to_numpy(dtype=float),
                            group["rss_bytes"].to_numpy(dtype=float),
                            group["procs"].fillna(0).to_numpy(dtype=float),
                            float(group["wall_s"].iloc[0]))
        if shape is not None:
            cpus, rsss = collected.setdefault((str(workflow), str(step)), ([], []))
            cpus.append(shape[0])
            rsss.append(shape[1])
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for (workflow, step), (cpus, rsss) in collected.items():
        out.setdefault(workflow, {})[step] = {
            "cpu": [round(float(v), 4) for v in np.median(np.array(cpus), axis=0)],
            "rss": [round(float(v), 4) for v in np.median(np.array(rsss), axis=0)],
            "tasks": len(cpus)}  # type: ignore[dict-item]
    return out


def resample(shape: dict[str, Any], points: int) -> tuple[np.ndarray, np.ndarray]:
    """(CPU averaging 1, memory peaking at 1) at `points` evenly spaced times of a run."""
    grid = (np.arange(GRID) + 0.5) / GRID
    at = (np.arange(points) + 0.5) / points
    cpu = np.interp(at, grid, np.asarray(shape["cpu"], dtype=float))
    rss = np.interp(at, grid, np.asarray(shape["rss"], dtype=float))
    cpu = cpu / cpu.mean() if cpu.mean() > 0 else np.ones(points)
    rss = rss / rss.max() if rss.max() > 0 else np.ones(points)
    return cpu, rss
