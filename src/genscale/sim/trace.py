"""A trace as the simulator reads it: one row per task, as arrays.

A trace is a table with the columns `workflow_id, task_id, arrival_s, parents, threads,
memory_bytes, wall_s` (and, where known, `step`, `app`, `cpu_time_s`, `peak_rss_bytes`,
`predicted_s`, `tail_probability`): a synthetic trace directory's `tasks.parquet`, or a
run directory's measured tasks (`from_run`). `parents` names task ids of the same workflow
(a list, or a string of ids separated by spaces or commas).

`Trace` holds it as arrays, with the dependencies in compressed form (each task's children
in `child_index[child_start[i]:child_start[i + 1]]`), so the simulator's loop touches no
per-task Python object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.workflow.shape import run_task_parents

REQUIRED = ("workflow_id", "task_id", "arrival_s", "parents", "threads", "memory_bytes",
            "wall_s")


@dataclass
class Trace:
    """The tasks of a trace as arrays (index i is the table's row i)."""

    table: pd.DataFrame
    workflow: np.ndarray  # workflow number, 0.. in order of arrival
    arrival_s: np.ndarray
    wall_s: np.ndarray
    threads: np.ndarray
    memory_bytes: np.ndarray
    parent_count: np.ndarray
    child_start: np.ndarray
    child_index: np.ndarray
    plan_order: np.ndarray  # the task's place within its workflow

    def __len__(self) -> int:
        return len(self.wall_s)


def _parent_pairs(parents: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(child row, parent id) for every parent named in `parents` (lists, or strings of
    ids separated by spaces or commas)."""
    if parents.map(lambda v: isinstance(v, str) or v is None
                   or (isinstance(v, float) and np.isnan(v))).all():
        text = parents.fillna("").astype(str).str.replace(",", " ", regex=False)
        split = text.str.split()
    else:
        split = parents.map(_parents)
    exploded = split.explode()
    exploded = exploded[exploded.notna() & (exploded != "")]
    return exploded.index.to_numpy(dtype=np.int64), exploded.astype(str).to_numpy()


def _parents(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [p for p in value.replace(",", " ").split() if p]
    return [str(p) for p in value]


def _numbers(table: pd.DataFrame, column: str, source: str, minimum: float) -> np.ndarray:
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < minimum)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = table[column].iloc[row]
        shown = value.item() if isinstance(value, np.generic) else value
        raise UserError(f"{source}: row {row + 1}: {column} {shown!r}: "
                        f"expected a finite number of at least {minimum:g}")
    return values


def from_table(table: pd.DataFrame, source: str) -> Trace:
    """A Trace of `table` (columns as the module docstring says); UserError naming the
    row and column of the first thing wrong."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise UserError(f"{source}: no column {', '.join(missing)} (a trace has "
                        f"{', '.join(REQUIRED)})")
    if table.empty:
        raise UserError(f"{source}: no task")
    table = table.reset_index(drop=True)
    arrival = _numbers(table, "arrival_s", source, 0.0)
    wall = _numbers(table, "wall_s", source, 0.0)
    threads = _numbers(table, "threads", source, 1.0).astype(np.int64)
    memory = _numbers(table, "memory_bytes", source, 0.0)
    workflows = table["workflow_id"].astype(str).to_numpy()
    tasks = table["task_id"].astype(str).to_numpy()
    n = len(table)
    # one integer per task: its workflow's code and its id's code, so that pairs match as
    # numbers (a dict of ten million string pairs is most of a trace's load time)
    workflow_code, workflow_names = pd.factorize(workflows)
    task_code, task_names = pd.factorize(tasks)
    pair = workflow_code.astype(np.int64) * (len(task_names) + 1) + task_code
    if len(np.unique(pair)) < n:
        row = int(np.flatnonzero(pd.Series(pair).duplicated().to_numpy())[0])
        raise UserError(f"{source}: row {row + 1}: task {tasks[row]} of workflow "
                        f"{workflows[row]} appears twice")
    child_rows, parent_names = _parent_pairs(table["parents"])
    parent_task = pd.Index(task_names).get_indexer(pd.Index(parent_names))
    parent_pair = workflow_code[child_rows].astype(np.int64) * (len(task_names) + 1) \
        + parent_task
    where = pd.Index(pair).get_indexer(pd.Index(parent_pair))
    unknown = (parent_task < 0) | (where < 0)
    if unknown.any():
        k = int(np.flatnonzero(unknown)[0])
        row = int(child_rows[k])
        raise UserError(f"{source}: row {row + 1}: parent {parent_names[k]!r} is not a task "
                        f"of workflow {workflows[row]}")
    first_arrival = pd.Series(arrival).groupby(workflow_code).transform("min").to_numpy()
    if not np.allclose(arrival, first_arrival):
        row = int(np.flatnonzero(~np.isclose(arrival, first_arrival))[0])
        raise UserError(f"{source}: row {row + 1}: arrival_s differs from its workflow's "
                        "other tasks (a workflow arrives once)")
    # workflows numbered by arrival, ties in the order they are listed
    first_row = pd.Series(np.arange(n)).groupby(workflow_code).transform("min").to_numpy()
    ranked = np.lexsort((first_row, arrival))
    number = np.full(len(workflow_names), -1, dtype=np.int64)
    seen = workflow_code[ranked]
    firsts = seen[np.sort(np.unique(seen, return_index=True)[1])]
    number[firsts] = np.arange(len(firsts))
    workflow = number[workflow_code]
    counts = np.bincount(child_rows, minlength=n).astype(np.int64)
    by_parent = np.argsort(where, kind="stable")
    index = child_rows[by_parent].astype(np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    start[1:] = np.cumsum(np.bincount(where, minlength=n))
    _check_acyclic(counts, start, index, tasks, workflows, source)
    plan_order = pd.Series(np.arange(n)).groupby(workflow_code).cumcount().to_numpy()
    return Trace(table, workflow, arrival, wall, threads, memory, counts, start, index,
                 plan_order)


def _check_acyclic(counts: np.ndarray, start: np.ndarray, index: np.ndarray,
                   tasks: np.ndarray, workflows: np.ndarray, source: str) -> None:
    pending = counts.copy()
    ready = list(np.flatnonzero(pending == 0))
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for child in index[start[i]:start[i + 1]]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if seen < len(counts):
        row = int(np.flatnonzero(pending > 0)[0])
        raise UserError(f"{source}: task {tasks[row]} of workflow {workflows[row]} is in a "
                        "cycle of parents")


def load(path: Path) -> Trace:
    """A trace directory (`tasks.parquet` or `tasks.csv` with the trace's columns), a run
    directory (its measured tasks: `from_run`), or WfCommons instances: a `.json` file, or
    a directory of them (`from_instances`)."""
    if path.is_file() and path.suffix.lower() == ".json":
        return from_instances([path], str(path))
    if (path / "run.json").is_file():
        return from_run(path)
    for name in ("tasks.parquet", "tasks.csv"):
        if (path / name).is_file():
            file = path / name
            table = pd.read_parquet(file) if name.endswith(".parquet") else pd.read_csv(file)
            return from_table(table, str(file))
    instances = sorted(path.glob("*.json")) if path.is_dir() else []
    if instances:
        return from_instances(instances, str(path))
    raise UserError(f"{path}: not a trace (no tasks.parquet or tasks.csv), run directory "
                    "(no run.json) or WfCommons instance (no .json)")


def from_run(run_dir: Path) -> Trace:
    """A run directory's succeeded tasks as a trace: each workflow arrives when the
    workload's schedule let it arrive (else when its first task was submitted; with the
    first when its tasks record no time), relative to the first, its tasks' parents are its
    plan's, or those an import recorded (`run_task_parents`), among the tasks that ran, and
    each task's wall time, threads and memory are as measured and requested (memory: its
    peak where no request was recorded)."""
    from genscale.store.rundir import RunDirectory

    run = RunDirectory(run_dir)
    info = run.read_run_info()
    tasks = run.tasks()
    tasks = tasks[tasks["status"] == "succeeded"].reset_index(drop=True)
    if tasks.empty:
        raise UserError(f"{run_dir}: no succeeded task to replay")
    parents = run_task_parents(
        run_dir, info, tasks["workflow_id"].astype(str).tolist(),
        tasks["step"].astype(str).tolist(), tasks["task_id"].astype(str).tolist())
    return _measured(tasks, parents, info, str(run_dir))


def from_instances(paths: list[Path], source: str) -> Trace:
    """WfCommons instances (WfFormat JSON, any schema version), each one workflow, read as
    `genscale import wfformat` reads them, as a trace the way `from_run` makes one of
    their import."""
    from genscale.store.importers import pop_parents
    from genscale.store.importers.wfformat import wfformat_rows

    rows = [task for path in paths for task, _ in wfformat_rows(path, "sim")]
    parents = [given or [] for given in pop_parents(rows)]
    return _measured(pd.DataFrame(rows), parents, {}, source)


def _measured(tasks: pd.DataFrame, parents: list[list[str]], info: dict[str, Any],
              source: str) -> Trace:
    """The trace of measured tasks (tasks.csv's columns; a missing one is unknown)."""
    def numbers(column: str) -> pd.Series:
        if column not in tasks.columns:
            return pd.Series(np.nan, index=tasks.index, dtype=float)
        return pd.to_numeric(tasks[column], errors="coerce")

    workflow_ids = tasks["workflow_id"].astype(str)
    submit, start = numbers("submit_time"), numbers("start_time")
    first = submit.fillna(start).groupby(workflow_ids).transform("min")
    instances = (info.get("workload") or {}).get("instances") or {}
    if instances and info.get("start_time") is not None:
        # a workload's instances arrive when its schedule said, which may be before their
        # first task could start
        began = float(info["start_time"])
        arrived = {w: began + float(i["arrival_s"]) for w, i in instances.items()}
        first = pd.Series([arrived.get(w, f) for w, f in zip(workflow_ids, first,
                                                              strict=True)])
    # a workflow whose tasks record no time (a WfFormat instance may not) arrives first
    zero = float(first.min()) if first.notna().any() else 0.0
    first = first.fillna(zero)
    table = pd.DataFrame({
        "workflow_id": workflow_ids, "task_id": tasks["task_id"].astype(str),
        "step": tasks["step"], "app": tasks["app"], "arrival_s": first - zero,
        "parents": [" ".join(p) for p in parents],
        "threads": numbers("threads_requested").fillna(1).astype(int),
        # what was asked for; an import that records no request (WfFormat) asks its peak
        "memory_bytes": numbers("memory_requested_bytes").fillna(
            numbers("peak_rss_bytes")).fillna(0),
        "wall_s": numbers("wall_s"), "cpu_time_s": numbers("cpu_time_s"),
        "peak_rss_bytes": numbers("peak_rss_bytes"),
        "measured_start_s": start - zero,
        "measured_end_s": numbers("end_time") - zero,
    })
    return from_table(table, source)
