"""A run directory in the formats other tools read: `genscale export`. It sits above `store`
and `workflow` (a WfFormat instance needs the plan's dependencies).

- `csv`, `parquet`: the tasks table (`store.schema`'s columns).
- `wfformat`: one WfFormat 1.5 instance of the whole run (`store.wfformat`): every task
  that ran, with its parents as its plan had them, its files, runtimes, cores, CPU, bytes
  and memory, and the machine from run.json.
- `nextflow-trace`: Nextflow's raw trace (`-with-trace`, `trace.raw`), tab-separated:
  times in epoch milliseconds, durations in milliseconds, memory and bytes in bytes, `%cpu`
  in percent of one core (CPU time over real time). `genscale import nextflow-trace` reads
  it back to the same totals (tested).

Every file is written to a temporary name and renamed when whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.store.rundir import RunDirectory
from genscale.store.wfformat import EPOCH, instance

FORMATS = ("csv", "parquet", "wfformat", "nextflow-trace")
NEXTFLOW_STATUS = {"succeeded": "COMPLETED", "failed": "FAILED", "cancelled": "ABORTED",
                   "skipped": "CACHED"}


def export_run(run_dir: Path, fmt: str, out: Path) -> int:
    """Write `run_dir`'s tasks to `out` in `fmt`; return the tasks written."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    run = RunDirectory(run_dir)
    if not run.run_json.is_file():
        raise UserError(f"{run_dir}: not a run directory (no run.json)")
    info = run.read_run_info()
    tasks = run.tasks()
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "csv":
            tasks.to_csv(tmp, index=False)
        elif fmt == "parquet":
            tasks.to_parquet(tmp, index=False)
        elif fmt == "wfformat":
            tmp.write_text(json.dumps(wfformat(run_dir, info, tasks), indent=1) + "\n")
        else:
            nextflow_trace(tasks).to_csv(tmp, sep="\t", index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(tasks)


def wfformat(run_dir: Path, info: dict[str, Any], tasks: pd.DataFrame) -> dict[str, Any]:
    """The run's WfFormat 1.5 instance (its tasks that ran)."""
    from genscale.workflow.shape import run_task_parents

    ran = tasks[tasks["wall_s"].notna()].reset_index(drop=True)
    if ran.empty:
        raise UserError(f"{run_dir}: no task ran; WfFormat needs at least one")
    parents = run_task_parents(run_dir, info, ran["workflow_id"].astype(str).tolist(),
                               ran["step"].astype(str).tolist(),
                               ran["task_id"].astype(str).tolist())
    started = pd.to_numeric(ran["start_time"], errors="coerce")
    # tasks that record no start (an instance imported without executedAt) start as their
    # parents allow, from the synthetic traces' time zero when no task has a time at all
    first = float(started.min()) if started.notna().any() else EPOCH.timestamp()
    rows = ran.assign(parents=[" ".join(p) for p in parents], start_s=started - first,
                      threads=ran["threads_requested"].fillna(1))
    host = info.get("host") or {}
    machine: dict[str, Any] = {"nodeName": str(host.get("hostname") or "localhost"),
                               "system": "linux"}
    if host.get("kernel"):
        machine["release"] = str(host["kernel"])
    if host.get("memory_bytes"):
        machine["memoryInBytes"] = int(host["memory_bytes"])
    cpu: dict[str, Any] = {}
    if host.get("cores"):
        cpu["coreCount"] = int(host["cores"])
    if host.get("cpu_model"):
        cpu["vendor"] = str(host["cpu_model"])
    if cpu:
        machine["cpu"] = cpu
    start = datetime.fromtimestamp(first, UTC)
    name = str(info.get("run_id") or run_dir.name)
    workflow = (info.get("workflow") or {}).get("name") or "workflow"
    return instance(name, rows, start, machines=[machine],
                    description=f"GenScale run of {workflow}")


def _ms(values: pd.Series, decimals: int = 0) -> pd.Series:
    """Milliseconds as Nextflow's raw trace writes them (`-` where missing): whole for
    timestamps (the importer reads epoch milliseconds as an integer), to the microsecond
    for durations (what the run measured)."""
    return (pd.to_numeric(values, errors="coerce") * 1000).map(
        lambda v: "-" if pd.isna(v) else f"{float(v):.{decimals}f}")


def nextflow_trace(tasks: pd.DataFrame) -> pd.DataFrame:
    """The tasks as Nextflow's raw trace columns (`-` where a value is missing)."""
    wall = pd.to_numeric(tasks["wall_s"], errors="coerce")
    cpu = pd.to_numeric(tasks["cpu_time_s"], errors="coerce")
    percent = (100 * cpu / wall).where(wall > 0)

    def raw(column: str) -> pd.Series:
        values = pd.to_numeric(tasks[column], errors="coerce") if column in tasks else \
            pd.Series(np.nan, index=tasks.index)
        return values.map(lambda v: "-" if pd.isna(v) else str(round(v)))

    return pd.DataFrame({
        "task_id": np.arange(1, len(tasks) + 1),
        "hash": tasks["task_id"].astype(str),
        "native_id": tasks["task_id"].astype(str),
        "name": tasks["task_id"].astype(str),
        "process": tasks["step"].astype(str),
        "status": tasks["status"].map(NEXTFLOW_STATUS).fillna("FAILED"),
        "exit": pd.to_numeric(tasks["exit_code"], errors="coerce").map(
            lambda v: "-" if pd.isna(v) else str(int(v))),
        "submit": _ms(tasks["submit_time"]), "start": _ms(tasks["start_time"]),
        "complete": _ms(tasks["end_time"]),
        "duration": _ms(pd.to_numeric(tasks["end_time"], errors="coerce")
                        - pd.to_numeric(tasks["submit_time"], errors="coerce")),
        "realtime": _ms(wall, 3),
        # enough digits that %cpu x realtime gives back the CPU time
        "%cpu": percent.map(lambda v: "-" if pd.isna(v) else f"{float(v):.10f}"),
        "cpus": raw("threads_requested"), "memory": raw("memory_requested_bytes"),
        "peak_rss": raw("peak_rss_bytes"), "rchar": raw("read_chars"),
        "wchar": raw("write_chars"), "syscr": raw("read_ops"), "syscw": raw("write_ops"),
        "read_bytes": raw("read_bytes"), "write_bytes": raw("write_bytes"),
        "hostname": tasks["host"].fillna("").astype(str),
        "attempt": raw("attempt"),
    })
