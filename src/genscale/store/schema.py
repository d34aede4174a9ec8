"""The columns of tasks.csv and samples.csv, with their types and units, in one place.

This is the data contract of DESIGN.md: renaming or re-typing a column here is a contract
change and goes in the README's changelog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # pandas dtype used for the typed (Parquet) twin
    unit: str
    meaning: str


TASK_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "string", "", "run identity"),
    Column("workflow_id", "string", "", "workflow instance identity"),
    Column("workflow", "string", "", "workflow name"),
    Column("task_id", "string", "", "task identity, unique in the run"),
    Column("step", "string", "", "step of the workflow spec"),
    Column("app", "string", "", "application (bwa, fastqc, picard, ...)"),
    Column("host", "string", "", "host name the task ran on"),
    Column("executor", "string", "", "local, slurm or kubernetes"),
    Column("status", "string", "", "succeeded, failed, skipped or cancelled"),
    Column("exit_code", "Int64", "", "exit status; negative: killed by that signal"),
    Column("submit_time", "float64", "s since the epoch, UTC", ""),
    Column("start_time", "float64", "s since the epoch, UTC", ""),
    Column("end_time", "float64", "s since the epoch, UTC", ""),
    Column("wall_s", "float64", "s", "end_time - start_time"),
    Column("cpu_user_s", "float64", "s", "user CPU of the whole tree, reaped children included"),
    Column("cpu_system_s", "float64", "s", "system CPU of the whole tree"),
    Column("cpu_time_s", "float64", "s", "cpu_user_s + cpu_system_s"),
    Column("mean_cores", "float64", "cores", "cpu_time_s / wall_s"),
    Column("peak_rss_bytes", "Int64", "bytes", "highest memory of the whole tree at once"),
    Column("read_bytes", "Int64", "bytes", "read from storage"),
    Column("write_bytes", "Int64", "bytes", "written to storage"),
    Column("read_chars", "Int64", "bytes", "through read calls"),
    Column("write_chars", "Int64", "bytes", "through write calls"),
    Column("read_ops", "Int64", "count", "read calls"),
    Column("write_ops", "Int64", "count", "write calls"),
    Column("max_procs", "Int64", "count", "most processes alive at once"),
    Column("max_threads", "Int64", "count", "most threads alive at once"),
    Column("threads_requested", "Int64", "count", "threads the step asked for"),
    Column("memory_requested_bytes", "Int64", "bytes", "memory the step asked for"),
    Column("input_bytes", "Int64", "bytes", "declared inputs"),
    Column("output_bytes", "Int64", "bytes", "declared outputs"),
    Column("sample_interval_s", "float64", "s", "sampling interval"),
    Column("peak_pss_bytes", "Int64", "bytes",
           "highest proportional set size of the tree (shared pages counted once)"),
    Column("cgroup_memory_peak_bytes", "Int64", "bytes",
           "the task cgroup's memory high-water mark, page cache included (cgroup runs)"),
    Column("leftover_procs", "Int64", "count",
           "processes still in the task's cgroup when it ended, killed then (cgroup runs)"),
    Column("attempt", "Int64", "count", "which attempt this row is (retries, resumes)"),
)

SAMPLE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "string", "", ""),
    Column("task_id", "string", "", ""),
    Column("app", "string", "", ""),
    Column("timestamp", "float64", "s since the epoch, UTC", "when the sample was taken"),
    Column("elapsed_s", "float64", "s", "since the task started (monotonic clock)"),
    Column("cpu_cores", "float64", "cores", "CPU used over the last interval"),
    Column("rss_bytes", "Int64", "bytes", "resident memory of the tree at the sample"),
    Column("read_bytes", "Int64", "bytes", "cumulative since the task started"),
    Column("write_bytes", "Int64", "bytes", "cumulative"),
    Column("read_chars", "Int64", "bytes", "cumulative"),
    Column("write_chars", "Int64", "bytes", "cumulative"),
    Column("read_ops", "Int64", "count", "cumulative"),
    Column("write_ops", "Int64", "count", "cumulative"),
    Column("procs", "Int64", "count", "processes alive in the tree"),
    Column("threads", "Int64", "count", "threads alive in the tree"),
    Column("pss_bytes", "Int64", "bytes", "proportional set size of the tree at the sample"),
    Column("anon_bytes", "Int64", "bytes", "anonymous memory of the task cgroup (cgroup runs)"),
    Column("file_cache_bytes", "Int64", "bytes", "page cache charged to the task cgroup"),
    Column("attempt", "Int64", "count", "the attempt of the task this sample belongs to"),
)

NODE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "string", "", ""),
    Column("timestamp", "float64", "s since the epoch, UTC", ""),
    Column("elapsed_s", "float64", "s", "since the run started"),
    Column("cpu_cores", "float64", "cores", "busy CPU of the machine over the last interval"),
    Column("cpu_iowait_cores", "float64", "cores", "CPU idle waiting for I/O"),
    Column("memory_used_bytes", "Int64", "bytes", "MemTotal - MemAvailable"),
    Column("memory_cache_bytes", "Int64", "bytes", "page cache and buffers"),
    Column("disk_read_bytes", "Int64", "bytes", "read from whole disks, since the run started"),
    Column("disk_write_bytes", "Int64", "bytes", "written to whole disks, cumulative"),
    Column("net_rx_bytes", "Int64", "bytes", "received on all interfaces but lo, cumulative"),
    Column("net_tx_bytes", "Int64", "bytes", "sent, cumulative"),
)

TASK_FIELDS: tuple[str, ...] = tuple(c.name for c in TASK_COLUMNS)
SAMPLE_FIELDS: tuple[str, ...] = tuple(c.name for c in SAMPLE_COLUMNS)
NODE_FIELDS: tuple[str, ...] = tuple(c.name for c in NODE_COLUMNS)

TASK_STATUSES = ("succeeded", "failed", "skipped", "cancelled")


def dtypes(columns: tuple[Column, ...]) -> dict[str, str]:
    return {c.name: c.dtype for c in columns}


class RunInfo(TypedDict, total=False):
    """run.json: the record of a run, a monitored command or an import; each key what it
    holds. Written whole at the start and at the end of a run (and by every resume)."""

    run_id: str  # the run directory's name
    genscale_version: str  # the GenScale that wrote it
    status: str  # running, succeeded, failed, interrupted, dry-run or imported
    host: dict[str, Any]  # hostname, cpu_model, cores, memory_bytes, kernel, os, python
    tool_versions: dict[str, str]  # app -> the version its step's `version` command printed
    workflow: dict[str, Any]  # name, source, sha256, spec and params (a workload: its name)
    dataset: dict[str, Any] | None  # the dataset's manifest, with its path
    skipped: dict[str, str]  # task_id -> why it did not run
    executor: str  # local, slurm, kubernetes, a plugin's; monitor; an importer's source
    sample_interval_s: float | None  # the sampling interval (s)
    settings: dict[str, Any]  # RunSettings' fields, each executor's settings by its name
    start_time: float  # s since the epoch, UTC
    end_time: float | None  # s since the epoch, UTC; None while it runs
    failures: list[dict[str, Any]]  # task_id, exit_code, stderr_tail of each failed task
    retried: dict[str, list[dict[str, Any]]]  # task_id -> its earlier attempts
    monitor: dict[str, Any]  # the sampler's own cost (sampler_cpu_s), accounting path, ...
    error: str  # why the run stopped short (a full disk, an unreachable API), one line
    resumed: list[dict[str, Any]]  # each resume: time, previous_status, tasks_done, ...
    workload: dict[str, Any]  # a workload's spec, source, policy, instances, predictions
    manifests: list[str]  # a Kubernetes dry run's Job manifests, relative paths
    command: str  # `genscale monitor`: the command, shell-quoted
    exit_code: int  # `genscale monitor`: the command's exit status
    imported_from: list[str]  # an import: the files, absolute paths
    imported_at: float  # an import: s since the epoch, UTC
    task_parents: dict[str, list[str]]  # an import that records dependencies (WfFormat):
    # task_id -> the task_ids it waited for
