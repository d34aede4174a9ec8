"""`genscale monitor -- CMD`: any command as a one-task run directory.

The same sampler and kernel totals as in a workflow run; this is what runs on a SLURM node or
in a Kubernetes pod. The command is executed directly (no shell), and the wrapper's exit
status is the command's (128 + N when it was killed by signal N).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shlex
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from genscale import __version__
from genscale.errors import UserError
from genscale.monitor.host import host_facts
from genscale.monitor.process import TaskTotals, run_monitored
from genscale.monitor.prometheus import PrometheusExporter
from genscale.monitor.sampler import check_interval
from genscale.monitor.session import MonitorSession
from genscale.store.rundir import (
    RunDirectory,
    disk_message,
    is_disk_error,
    require_new_or_empty,
)


def monitor_command(argv: Sequence[str], out: Path, interval_s: float = 1.0,
                    task_id: str | None = None, app: str | None = None,
                    cgroups: bool = True, prometheus_port: int | None = None,
                    prometheus_host: str = "127.0.0.1") -> tuple[int, TaskTotals]:
    """Run `argv` under the monitor into run directory `out` (new or empty), as
    `genscale monitor` does: its process tree sampled every `interval_s`, into
    samples.csv and a one-row tasks.csv; (its exit status, its totals).

        code, totals = genscale.monitor_command(["gzip", "-k", "reads.fq"], Path("gz"))
        totals.cpu_time_s, totals.peak_rss_bytes
    """
    if not argv:
        raise UserError("monitor: no command given; usage: genscale monitor --out DIR -- CMD")
    check_interval(interval_s)
    if shutil.which(argv[0]) is None:
        raise UserError(f"{argv[0]}: command not found")
    require_new_or_empty(out)
    exporter = (PrometheusExporter(prometheus_port, prometheus_host)
                if prometheus_port is not None else None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir()
        run = RunDirectory(out)
        run.reserve()
    except OSError as exc:
        if exporter is not None:
            exporter.close()
        if is_disk_error(exc):
            raise UserError(f"{disk_message(exc, out)}: cannot write the run there") from None
        raise
    app = app or Path(argv[0]).name
    task_id = task_id or app
    run_id = out.resolve().name
    info: dict[str, object] = {
        "run_id": run_id, "genscale_version": __version__, "status": "running",
        "host": host_facts(), "command": shlex.join(argv), "executor": "monitor",
        "sample_interval_s": interval_s, "start_time": time.time(), "end_time": None,
    }
    run.write_run_info(info)
    session = MonitorSession(run, run_id, interval_s, cgroups, exporter)
    pid: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid[0], signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM,
                                                       signal.SIGHUP)}
    stdout, stderr = run.log_paths(task_id)
    try:
        with session:
            totals = run_monitored(argv, sampler=session.sampler, run_id=run_id,
                                   task_id=task_id, app=app, cwd=Path.cwd(),
                                   stdout_path=stdout, stderr_path=stderr,
                                   on_start=pid.append, cgroup=session.task_cgroup(task_id))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    code = totals.exit_code
    run.record_task({
        "run_id": run_id, "workflow_id": run_id, "workflow": "monitor", "task_id": task_id,
        "step": task_id, "app": app, "host": info["host"]["hostname"],  # type: ignore[index]
        "executor": "monitor", "status": "succeeded" if code == 0 else "failed",
        "submit_time": round(totals.start_time, 6), **totals.columns(),
        "sample_interval_s": interval_s,
    })
    disk_error = run.disk_error
    if disk_error is None:
        run.write_parquet()
    else:  # room to close the run: the command ran whole, some samples may be missing
        run.release_reserve()
        run.finish_tasks()
        info["error"] = disk_message(disk_error, run.path)
    info.update(status="succeeded" if code == 0 else "failed", end_time=time.time(),
                exit_code=code)
    own = resource.getrusage(resource.RUSAGE_SELF)
    # the monitor's own CPU, for comparing with a resource manager's total of the job
    # (SLURM's TotalCPU covers the monitor and the command)
    info["monitor"] = {**session.summary(), "process_cpu_s": round(own.ru_utime + own.ru_stime, 6)}
    run.write_run_info(info)
    run.release_reserve()
    if disk_error is not None:
        raise UserError(f"{info['error']}: samples stopped when the disk filled; the task's "
                        f"totals are in {run.tasks_csv}")
    return (code if code >= 0 else 128 - code), totals
