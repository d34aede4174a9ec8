"""Run one command as a monitored task and return its exact totals.

Totals come from the kernel, not from samples: once the task's root process has exited we
read its /proc entry while it is still a zombie (waitid with WNOWAIT), which holds the I/O of
every descendant it reaped, then reap it with wait4, whose rusage holds the CPU of the whole
waited-for tree. Short-lived children therefore count even if no sample ever saw them.

The command runs under a launcher (`genscale.monitor.launch`), never as our direct child:
it joins the task's cgroups before the task starts, and its own wait4 of the task gives the
peak of the largest single process, which ours would not.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genscale.monitor.cgroups import TaskCgroup
from genscale.monitor.launch import launcher, read_report
from genscale.monitor.procfs import ProcCounters, read_counters
from genscale.monitor.sampler import Sampler, TaskProbe


@dataclass
class TaskTotals:
    """What one finished task used, over its whole process tree."""

    exit_code: int
    start_time: float
    end_time: float
    wall_s: float
    cpu_user_s: float
    cpu_system_s: float
    peak_rss_bytes: int
    read_bytes: int
    write_bytes: int
    read_chars: int
    write_chars: int
    read_ops: int
    write_ops: int
    max_procs: int
    max_threads: int
    samples: int
    peak_pss_bytes: int = 0
    cgroup_memory_peak_bytes: int | None = None
    leftover_procs: int | None = None

    @property
    def cpu_time_s(self) -> float:
        return self.cpu_user_s + self.cpu_system_s

    def columns(self) -> dict[str, Any]:
        """The measured columns of a tasks.csv row."""
        wall = self.wall_s
        return {
            "exit_code": self.exit_code, "start_time": round(self.start_time, 6),
            "end_time": round(self.end_time, 6), "wall_s": round(wall, 6),
            "cpu_user_s": round(self.cpu_user_s, 6), "cpu_system_s": round(self.cpu_system_s, 6),
            "cpu_time_s": round(self.cpu_time_s, 6),
            "mean_cores": round(self.cpu_time_s / wall, 4) if wall > 0 else 0.0,
            "peak_rss_bytes": self.peak_rss_bytes, "read_bytes": self.read_bytes,
            "write_bytes": self.write_bytes, "read_chars": self.read_chars,
            "write_chars": self.write_chars, "read_ops": self.read_ops,
            "write_ops": self.write_ops, "max_procs": self.max_procs,
            "max_threads": self.max_threads, "peak_pss_bytes": self.peak_pss_bytes,
            "cgroup_memory_peak_bytes": self.cgroup_memory_peak_bytes,
            "leftover_procs": self.leftover_procs,
        }


def run_monitored(
    argv: Sequence[str],
    *,
    sampler: Sampler,
    run_id: str,
    task_id: str,
    app: str,
    cwd: Path,
    stdout_path: Path,
    stderr_path: Path,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    cgroup: TaskCgroup | None = None,
    attempt: int = 1,
) -> TaskTotals:
    """Run `argv` (no shell unless argv asks for one) to completion under the sampler.

    The child leads a new session, so the whole tree can be signalled through its process
    group (see `terminate_tree`). `on_start` receives the pid once the child exists.
    """
    how = launcher()
    reports = how.reports
    if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
        raise FileNotFoundError(argv[0])
    report_read, report_write = os.pipe() if reports else (-1, -1)
    try:
        full = how.argv(list(argv), report_write,
                        cgroup.procs_files if cgroup is not None else [])
        try:
            with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
                start_mono = time.monotonic()
                start_time = sampler.clock.wall(start_mono)
                proc = subprocess.Popen(
                    full, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                    env=dict(env) if env is not None else None, start_new_session=True,
                    pass_fds=(report_write,) if reports else (),
                )
        finally:
            if reports:
                os.close(report_write)
        probe = TaskProbe(proc.pid, run_id, task_id, app, sampler.clock, start_mono,
                          reports, cgroup, attempt)
        sampler.add(probe)
        if on_start is not None:
            on_start(proc.pid)
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            end_mono = time.monotonic()
            zombie = read_counters(proc.pid) or ProcCounters()
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            sampler.remove(probe)
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
        exit_code = proc.returncode
        # a direct child's ru_maxrss is polluted by our own memory (see above): only
        # trusted through the launcher
        max_rss = 0
        if reports:
            reported_rss, signum = read_report(report_read)
            max_rss = reported_rss or 0
            if signum is not None:  # the launcher exits 128+N; keep the signal as -N
                exit_code = -signum
    finally:
        if reports:
            os.close(report_read)
    cpu_user_s, cpu_system_s = rusage.ru_utime, rusage.ru_stime
    memory: tuple[int, int] | None = None
    cgroup_peak = leftovers = None
    if cgroup is not None:
        leftovers = cgroup.kill_leftovers()
        counters = cgroup.counters()
        cgroup.release()
        # the cgroup holds everything, escaped daemons included; its user/system split is
        # tick-based, so scale it to the exact total
        split = counters.cpu_user_s + counters.cpu_system_s
        share = counters.cpu_user_s / split if split > 0 else 1.0
        cpu_user_s = counters.cpu_usage_s * share
        cpu_system_s = counters.cpu_usage_s - cpu_user_s
        memory = (counters.anon_bytes, counters.file_bytes)
        cgroup_peak = counters.memory_peak_bytes if cgroup.memory_dir is not None else None
    zombie.cpu_s = cpu_user_s + cpu_system_s
    sampler.finish(probe, end_mono, zombie, memory)
    end_time = sampler.clock.wall(end_mono)
    return TaskTotals(
        exit_code=exit_code,
        start_time=start_time,
        end_time=end_time,
        wall_s=end_mono - start_mono,
        cpu_user_s=cpu_user_s,
        cpu_system_s=cpu_system_s,
        # the largest single process's peak is a floor for the tree's that also catches a
        # spike between two samples
        peak_rss_bytes=max(probe.peak_rss_bytes, max_rss),
        read_bytes=probe.cum.read_bytes,
        write_bytes=probe.cum.write_bytes,
        read_chars=probe.cum.rchar,
        write_chars=probe.cum.wchar,
        read_ops=probe.cum.syscr,
        write_ops=probe.cum.syscw,
        max_procs=probe.max_procs,
        max_threads=probe.max_threads,
        samples=probe.samples,
        peak_pss_bytes=probe.peak_pss_bytes,
        cgroup_memory_peak_bytes=cgroup_peak,
        leftover_procs=leftovers,
    )


def terminate_tree(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM the task's process group, then SIGKILL whatever is left after `grace_s`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


class ReapedCpuSinceFirstTask:
    """An engine event hook: the CPU the kernel accounted to every child this process has
    reaped since the first task started (so tool-version probes before it are excluded).
    The independent check of a run's `cpu_time_s` totals."""

    def __init__(self) -> None:
        self.start_s: float | None = None

    @staticmethod
    def reaped_cpu_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def __call__(self, kind: str, task: object, values: dict[str, object]) -> None:
        if kind == "started" and self.start_s is None:
            self.start_s = self.reaped_cpu_s()

    def elapsed_cpu_s(self) -> float:
        if self.start_s is None:
            raise RuntimeError("no task has started")
        return self.reaped_cpu_s() - self.start_s


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot: with the pid, it names one process
    (a pid alone may have been reused)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def kill_recorded(pid: int, ticks: int | None) -> bool:
    """SIGKILL the process group of `pid` if it is still the process recorded; True if so."""
    if ticks is None or start_ticks(pid) != ticks:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
