"""Tasks that run elsewhere under `genscale monitor`: the command that wraps them, and how
their record comes home.

A remote executor (SLURM, Kubernetes) runs each task as `genscale monitor --out POD ...
-- bash -o pipefail -e -c CMD` on the node that got it. The monitor writes a one-task run
directory, `pods/TASK.aN/`, inside the run directory (on storage the nodes share) as it
samples. When the resource manager says the job is over, `fold_pod` brings that record into
the run: the samples go to the run's sample sink, the logs to `logs/`, and the totals back
to the engine. A job without a record never ran its monitor to the end: it was lost.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from genscale.executors.base import Job, bash_argv
from genscale.monitor.process import TaskTotals
from genscale.store.rundir import RunDirectory


def monitor_argv(job: Job, pod: Path, interval_s: float, cgroups: bool,
                 genscale: list[str] | None = None) -> list[str]:
    """The command that runs `job` under the monitor, writing to `pod`. `genscale` is how
    the node starts GenScale (default: this interpreter's `-m genscale`)."""
    return [*(genscale or [sys.executable, "-m", "genscale"]), "monitor", "--out", str(pod),
            "--task-id", job.task_id, "--app", job.app, "--interval", str(interval_s),
            "--cgroups" if cgroups else "--no-cgroups", "--", *bash_argv(job.command)]


def pod_dir(pods: Path, job: Job, suffix: str = "") -> Path:
    """Where `job`'s monitor writes: `pods/TASK.aN`, or beside it when a previous manager's
    attempt is already there (kept, never overwritten)."""
    pod = pods / f"{job.task_id}.a{job.attempt}"
    return pod.with_name(f"{pod.name}.{suffix}") if pod.exists() and suffix else pod


@dataclass
class PodRecord:
    """What a finished pod directory told."""

    totals: TaskTotals
    host: str
    monitor_process_cpu_s: float | None  # the monitor's own CPU, beside the tool's


def fold_pod(pod: Path, job: Job, run_id: str, sink: Any) -> PodRecord | None:
    """Bring `pod`'s record into the run (samples to `sink`, logs to the job's paths) and
    return it; None when the monitor left no record."""
    record = RunDirectory(pod)
    if not record.tasks_csv.is_file():
        return None
    row = record.tasks().iloc[0]
    samples = record.samples()
    samples["run_id"] = run_id
    samples["attempt"] = job.attempt
    sink(typed_records(samples))
    for produced, wanted in zip(record.log_paths(job.task_id),
                                (job.stdout_path, job.stderr_path), strict=True):
        if produced.exists():
            produced.replace(wanted)
    own_cpu = record.read_run_info().get("monitor", {}).get("process_cpu_s")
    return PodRecord(totals_from_row(row, len(samples)), str(row["host"]), own_cpu)


def typed_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of one of our tables with plain Python values ('' for missing), as the sinks
    expect them from the sampler."""

    def plain(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return ""
        item = getattr(value, "item", None)  # numpy scalars
        return item() if callable(item) else value

    return [{str(k): plain(v) for k, v in record.items()}
            for record in frame.astype(object).to_dict("records")]


def totals_from_row(row: pd.Series, samples: int) -> TaskTotals:
    """A task's totals back from its tasks.csv row (a pod's, written by the monitor)."""

    def integer(name: str) -> int:
        value = row[name]
        return 0 if pd.isna(value) else int(value)

    def optional(name: str) -> int | None:
        value = row[name]
        return None if pd.isna(value) else int(value)

    return TaskTotals(
        exit_code=integer("exit_code"), start_time=float(row["start_time"]),
        end_time=float(row["end_time"]), wall_s=float(row["wall_s"]),
        cpu_user_s=float(row["cpu_user_s"]), cpu_system_s=float(row["cpu_system_s"]),
        peak_rss_bytes=integer("peak_rss_bytes"), read_bytes=integer("read_bytes"),
        write_bytes=integer("write_bytes"), read_chars=integer("read_chars"),
        write_chars=integer("write_chars"), read_ops=integer("read_ops"),
        write_ops=integer("write_ops"), max_procs=integer("max_procs"),
        max_threads=integer("max_threads"), samples=samples,
        peak_pss_bytes=integer("peak_pss_bytes"),
        cgroup_memory_peak_bytes=optional("cgroup_memory_peak_bytes"),
        leftover_procs=optional("leftover_procs"))
