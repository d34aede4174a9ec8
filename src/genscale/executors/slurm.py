"""SLURM: each task one batch job, run on its node under `genscale monitor`.

A job's monitor writes a one-task run directory, `pods/TASK.aN/` inside the run directory
(which must be on storage the nodes share), as its samples are taken. When SLURM reports the
job over, the executor folds that directory into the run's own tables: the samples go to the
run's sample sink and the task's totals become the engine's result. SLURM's own accounting
(sacct's TotalCPU, MaxRSS and elapsed time) is kept beside the monitor's in
`slurm_accounting.csv`, one row per job, so the two witnesses can be compared.

A job that ended without its monitor's record (a lost node, a killed job) is reported as
lost, with SLURM's state, and the engine runs it again while `--retries` allows. Jobs are
submitted with `--no-requeue`: SLURM's own requeue would run the job again into the same
directory, behind the engine's back.
"""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.executors.base import ExecutorContext, Job, JobResult, Resources, read_registry
from genscale.executors.pods import monitor_argv
from genscale.executors.remote import RemoteExecutor, Submitted
from genscale.monitor.process import TaskTotals
from genscale.store.importers.sacct import parse_duration_s, parse_size_bytes
from genscale.store.rundir import CsvAppender, RunDirectory

MIB = 2**20
ACTIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "RESIZING",
                 "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "STAGE_OUT", "SIGNALING"}
ACCOUNTING_FIELDS = ("task_id", "attempt", "job_id", "state", "node", "exit_code",
                     "sacct_cpu_s", "monitor_cpu_s", "monitor_process_cpu_s", "sacct_elapsed_s",
                     "monitor_wall_s",
                     "sacct_max_rss_bytes", "monitor_peak_rss_bytes")
SUBMITTED_REGISTRY = ".slurm-jobs.json"


@dataclass
class SlurmSettings:
    """How tasks are submitted to SLURM; each field is a flag of `genscale run`."""

    partition: str | None = field(default=None, metadata={
        "help": "slurm: sbatch --partition (default: the cluster's default)",
        "flag": "--slurm-partition"})
    account: str | None = field(default=None, metadata={
        "help": "slurm: sbatch --account", "flag": "--slurm-account"})
    time_limit: str = field(default="24:00:00", metadata={
        "help": "slurm: sbatch --time of every task", "flag": "--slurm-time"})
    poll_s: float = field(default=1.0, metadata={
        "help": "slurm: seconds between two squeue calls", "flag": "--slurm-poll"})
    monitor_memory_mib: int = field(default=128, metadata={
        "help": "slurm: MiB added to each step's --mem for the monitor beside the tool",
        "flag": "--slurm-monitor-memory"})
    accounting_wait_s: float = field(default=60.0, metadata={
        "help": "slurm: how long a job that left squeue may wait for sacct's final record",
        "flag": "--slurm-accounting-wait"})


# -- what sacct prints (its durations and sizes: genscale.store.importers.sacct) -------


@dataclass
class SacctRecord:
    job_id: str
    state: str  # the first word: "CANCELLED by 0" is CANCELLED
    exit_code: int
    signal: int
    node: str
    total_cpu_s: float
    elapsed_s: float
    max_rss_bytes: int | None
    reason: str


SACCT_FORMAT = "JobID,State,ExitCode,NodeList,TotalCPU,ElapsedRaw,MaxRSS,Reason"


def parse_sacct(text: str) -> dict[str, SacctRecord]:
    """`sacct -n -P -o SACCT_FORMAT` output, by job id: the allocation's line, with the
    largest MaxRSS of its steps (only steps carry one)."""
    records: dict[str, SacctRecord] = {}
    step_rss: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 8:
            raise ValueError(f"sacct: expected 8 fields, got {len(parts)}: {line!r}")
        job, state, exit_code, node, cpu, elapsed, rss, reason = parts
        base, _, step = job.partition(".")
        rss_bytes = parse_size_bytes(rss)
        if step:
            if rss_bytes is not None:
                step_rss[base] = max(step_rss.get(base, 0), rss_bytes)
            continue
        code, _, signum = exit_code.partition(":")
        records[base] = SacctRecord(base, state.split()[0] if state else "", int(code or 0),
                                    int(signum or 0), node, parse_duration_s(cpu),
                                    float(elapsed or 0), rss_bytes, reason)
    for base, rss_bytes in step_rss.items():
        if base in records:
            current = records[base].max_rss_bytes or 0
            records[base].max_rss_bytes = max(current, rss_bytes)
    return records


def _slurm(argv: list[str]) -> str:
    """Run a SLURM client command; a failure is the user's cluster, so one line."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UserError(f"--executor slurm: {argv[0]} not found; is SLURM installed "
                        "('make slurm-up' starts one on this machine)?") from None
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise UserError(f"{argv[0]}: {message[-1] if message else 'failed'} "
                        f"(exit {done.returncode})")
    return done.stdout


def cluster_capacity() -> Resources:
    """Every node's CPUs and memory, from sinfo (a node in two partitions counts once)."""
    nodes: dict[str, tuple[int, int]] = {}
    for line in _slurm(["sinfo", "-h", "-N", "-o", "%N|%c|%m"]).splitlines():
        name, cpus, memory_mb = line.strip().split("|")
        nodes[name] = (int(cpus), int(memory_mb.rstrip("+")))
    if not nodes:
        raise UserError("--executor slurm: sinfo lists no nodes")
    return Resources(sum(c for c, _ in nodes.values()),
                     sum(m for _, m in nodes.values()) * MIB)


class SlurmExecutor(RemoteExecutor):
    """Each task a batch job (sbatch), its end learnt from squeue and sacct."""

    name = "slurm"
    settings_class = SlurmSettings
    flag_prefix = "slurm_"
    registry_name = SUBMITTED_REGISTRY

    def __init__(self, run: RunDirectory, run_id: str, sink: Any, interval_s: float,
                 settings: SlurmSettings | None = None, cores: int | None = None,
                 memory_bytes: int | None = None, cgroups: bool = True) -> None:
        """`sink` takes the merged sample rows (the run's sample writer, or its fan-out to
        the Prometheus exporter)."""
        for exe in ("sbatch", "squeue", "sacct", "scancel", "sinfo"):
            if shutil.which(exe) is None:
                raise UserError(f"--executor slurm: {exe} not found; is SLURM installed "
                                "('make slurm-up' starts one on this machine)?")
        self.settings = settings or SlurmSettings()
        self.cgroups = cgroups
        cluster = cluster_capacity()
        super().__init__(run, run_id, sink, interval_s, self.settings.poll_s,
                         Resources(min(cores or cluster.cores, cluster.cores),
                                   min(memory_bytes or cluster.memory_bytes,
                                       cluster.memory_bytes)))
        self.accounting = CsvAppender(run.path / "slurm_accounting.csv", ACCOUNTING_FIELDS)

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> SlurmExecutor:
        # the tasks are sampled on their nodes; the session samples this (submit) host
        return cls(context.run, context.run_id, context.session.sampler.sink,
                   context.interval_s, settings, context.cores, context.memory_bytes,
                   context.cgroups)

    @classmethod
    def stop_leftovers(cls, run: RunDirectory, run_id: str, settings: Any) -> int:
        """Cancel the jobs a dead manager had submitted (its registry): they run again on
        resume, and their pod directories stay."""
        jobs = list(read_registry(run.path / SUBMITTED_REGISTRY) or {})
        if jobs:
            subprocess.run(["scancel", *jobs], capture_output=True, check=False)
        return len(jobs)

    def sbatch_argv(self, job: Job, pod: Path) -> list[str]:
        """The sbatch command line of `job`, its monitor writing to `pod`."""
        monitor = monitor_argv(job, pod, self.interval_s, self.cgroups)
        memory_mib = math.ceil(job.memory_bytes / MIB) + self.settings.monitor_memory_mib
        argv = ["sbatch", "--parsable", "--no-requeue",
                f"--job-name=genscale-{self.run_id}-{job.task_id}",
                f"--cpus-per-task={job.threads}", f"--mem={memory_mib}M",
                f"--time={self.settings.time_limit}", f"--chdir={job.cwd}",
                # exec: the monitor is the batch step's process, so a signal to the step
                # reaches it, and it forwards the signal to the tool
                f"--output={pod}.slurm.out", "--wrap", "exec " + shlex.join(monitor)]
        if self.settings.partition:
            argv.insert(2, f"--partition={self.settings.partition}")
        if self.settings.account:
            argv.insert(2, f"--account={self.settings.account}")
        return argv

    def submit(self, job: Job) -> None:
        pod = self.new_pod(job)
        job_id = _slurm(self.sbatch_argv(job, pod)).strip().split(";")[0]
        self._submitted(job, job_id, pod)

    def _collect(self, jobs: dict[str, Submitted]) -> list[JobResult]:
        queued = {}
        for line in _slurm(["squeue", "--me", "-h", "-o", "%i|%T"]).splitlines():
            job_id, _, state = line.strip().partition("|")
            queued[job_id] = state
        now = time.monotonic()
        gone = []
        for job_id, sub in jobs.items():
            if queued.get(job_id) in ACTIVE_STATES:
                continue
            if sub.ended_mono is None:
                sub.ended_mono = now
            gone.append(job_id)
        if not gone:
            return []
        records = parse_sacct(_slurm(["sacct", "-n", "-P", "-j", ",".join(gone),
                                      "-o", SACCT_FORMAT]))
        results = []
        for job_id in gone:
            sub = jobs[job_id]
            record = records.get(job_id)
            final = record is not None and record.state not in ACTIVE_STATES
            waited = now - (sub.ended_mono or now)
            if not final and waited < self.settings.accounting_wait_s:
                continue  # slurmdbd has not caught up yet
            results.append(self._finish(sub, record))
        return results

    def _finish(self, sub: Submitted, record: SacctRecord | None) -> JobResult:
        """Fold the pod's record into the run; a job without one was lost."""
        state = record.state if record else "UNKNOWN"
        node = record.node if record else ""
        detail = f" ({record.reason})" if record and record.reason not in ("", "None") else ""
        return self._ended(
            sub, node, f"slurm job {sub.key} ended {state}{detail} on {node or 'no node'} "
                       "without the monitor's record",
            cancelled=state == "CANCELLED",
            account=lambda folded: self._account(sub, record, folded.totals,
                                                 folded.monitor_process_cpu_s))

    def _account(self, sub: Submitted, record: SacctRecord | None,
                 totals: TaskTotals, monitor_process_cpu_s: float | None) -> None:
        self.accounting([{
                "task_id": sub.job.task_id, "attempt": sub.job.attempt, "job_id": sub.key,
                "state": record.state if record else "", "node": record.node if record else "",
                "exit_code": totals.exit_code,
                "sacct_cpu_s": round(record.total_cpu_s, 3) if record else "",
                "monitor_cpu_s": round(totals.cpu_time_s, 3),
                "monitor_process_cpu_s": (round(monitor_process_cpu_s, 3)
                                          if monitor_process_cpu_s is not None else ""),
                "sacct_elapsed_s": record.elapsed_s if record else "",
                "monitor_wall_s": round(totals.wall_s, 3),
                "sacct_max_rss_bytes": (record.max_rss_bytes
                                        if record and record.max_rss_bytes is not None else ""),
                "monitor_peak_rss_bytes": totals.peak_rss_bytes,
            }])

    def _stop(self, keys: list[str]) -> None:
        # SIGTERM to the batch step: the monitor forwards it and still writes its record
        subprocess.run(["scancel", "--full", "--signal=TERM", *keys],
                       capture_output=True, check=False)

    def _hard_stop(self, keys: list[str]) -> None:  # a monitor that did not end on SIGTERM
        subprocess.run(["scancel", *keys], capture_output=True, check=False)

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            self.accounting.close()
