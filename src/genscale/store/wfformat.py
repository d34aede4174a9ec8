"""WfFormat 1.5 instances (WfCommons' JSON, which WRENCH reads): one workflow's tasks.

`instance` takes one workflow's task rows with the trace columns (`task_id`, `step`,
`parents`, `threads`, `wall_s`, `cpu_time_s`, `peak_rss_bytes`, `read_bytes`,
`write_bytes`, and `start_s` where the tasks ran or were simulated) and gives the JSON
object: the specification (tasks with parents and children, and files: each task writes
one output of its `write_bytes` that its children read; a task without parents reads the
workflow's input of its `read_bytes`), and the execution (each task's runtime, start, cores,
average CPU in percent of one core, bytes and memory). Times are seconds from `start`; a
task without `start_s` starts as soon as its parents end (the workflow on unlimited cores).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

SCHEMA_VERSION = "1.5"
_ID = re.compile(r"[^0-9a-zA-Z_.-]")


def _id(text: str) -> str:
    """A task or file id the schema's pattern takes (`^[0-9a-zA-Z-_.]*$`)."""
    return _ID.sub("_", text)


def _iso(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=float(seconds))).isoformat().replace("+00:00", "Z")


def _parents(value: Any) -> list[str]:
    if isinstance(value, str):
        return [p for p in value.replace(",", " ").split() if p]
    return [] if value is None or (isinstance(value, float) and np.isnan(value)) \
        else [str(p) for p in value]


def instance(name: str, tasks: pd.DataFrame, start: datetime,
             machines: list[dict[str, Any]] | None = None,
             description: str = "a GenScale workflow") -> dict[str, Any]:
    """The WfFormat 1.5 object of one workflow's `tasks` (module docstring)."""
    ids = {str(t): _id(str(t)) for t in tasks["task_id"]}
    parents = {ids[str(t)]: [ids[p] for p in _parents(v) if p in ids]
               for t, v in zip(tasks["task_id"], tasks["parents"], strict=True)}
    children: dict[str, list[str]] = {i: [] for i in parents}
    for child, of in parents.items():
        for parent in of:
            children[parent].append(child)
    files: list[dict[str, Any]] = []
    spec_tasks, run_tasks = [], []
    records = [{str(k): v for k, v in r.items()} for r in tasks.to_dict("records")]
    starts = _starts(records, ids, parents)
    first = min(starts.values())
    for row in records:
        task = ids[str(row["task_id"])]
        out_file = f"{task}.out"
        files.append({"id": out_file, "sizeInBytes": _bytes(row.get("write_bytes"))})
        inputs = [f"{p}.out" for p in parents[task]]
        if not inputs:
            inputs = [f"{task}.in"]
            files.append({"id": f"{task}.in", "sizeInBytes": _bytes(row.get("read_bytes"))})
        spec_tasks.append({"name": str(row.get("step") or task), "id": task,
                           "parents": parents[task], "children": children[task],
                           "inputFiles": inputs, "outputFiles": [out_file]})
        wall = float(row["wall_s"])
        cpu = row.get("cpu_time_s")
        started = starts[task]
        executed: dict[str, Any] = {
            "id": task, "runtimeInSeconds": wall, "executedAt": _iso(start, started),
            "coreCount": max(1, int(row.get("threads") or 1)),
            "command": {"program": str(row.get("app") or row.get("step") or task)}}
        if cpu is not None and cpu == cpu and wall > 0:
            executed["avgCPU"] = 100.0 * float(cpu) / wall
        for key, column in (("readBytes", "read_bytes"), ("writtenBytes", "write_bytes"),
                            ("memoryInBytes", "peak_rss_bytes")):
            value = row.get(column)
            if value is not None and value == value:
                executed[key] = int(value)
        run_tasks.append(executed)
    ends = [starts[ids[str(r["task_id"])]] + float(r["wall_s"]) for r in records]
    execution: dict[str, Any] = {"makespanInSeconds": max(ends) - first,
                                 "executedAt": _iso(start, first), "tasks": run_tasks}
    if machines:
        execution["machines"] = machines
    return {"name": name, "description": description, "schemaVersion": SCHEMA_VERSION,
            "createdAt": _iso(start, 0.0),
            "runtimeSystem": {"name": "GenScale", "version": _version()},
            "workflow": {"specification": {"tasks": spec_tasks, "files": files},
                         "execution": execution}}


def _starts(records: list[dict[str, Any]], ids: dict[str, str],
            parents: dict[str, list[str]]) -> dict[str, float]:
    """Each task's start: as it ran (`start_s`), else as early as its parents allow from
    its workflow's arrival (`arrival_s`, else 0): the workflow on unlimited cores."""
    given = {ids[str(r["task_id"])]: r.get("start_s") for r in records}
    if all(v is not None and v == v for v in given.values()):
        return {k: float(v) for k, v in given.items()}  # type: ignore[arg-type]
    wall = {ids[str(r["task_id"])]: float(r["wall_s"]) for r in records}
    arrival = {ids[str(r["task_id"])]: float(r.get("arrival_s") or 0.0) for r in records}
    starts: dict[str, float] = {}

    def start_of(task: str) -> float:
        if task not in starts:
            starts[task] = max([arrival[task]] + [start_of(p) + wall[p] for p in parents[task]])
        return starts[task]

    for task in wall:
        start_of(task)
    return starts


def _bytes(value: Any) -> int:
    return int(value) if value is not None and value == value and value >= 0 else 0


def _version() -> str:
    from genscale import __version__

    return __version__


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # a synthetic trace's time zero
