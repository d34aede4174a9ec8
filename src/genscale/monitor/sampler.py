"""Periodic sampling of task process trees into a sample sink.

One sampler thread serves every running task: it wakes on an absolute schedule of the
monotonic clock (tick k at t0 + k * interval, so there is no drift however long the run),
reads each registered tree once, and hands the rows to the sink, which puts them on disk
before the next tick.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genscale.errors import UserError
from genscale.monitor.cgroups import TaskCgroup
from genscale.monitor.node import NodeProbe
from genscale.monitor.procfs import IO_FIELDS, ProcCounters, tree_counters

SampleRow = dict[str, object]


@dataclass
class Clock:
    """Wall-clock timestamps derived from the monotonic clock, anchored once."""

    wall0: float = field(default_factory=time.time)
    mono0: float = field(default_factory=time.monotonic)

    def wall(self, mono: float) -> float:
        return self.wall0 + (mono - self.mono0)


MAX_INTERVAL_S = 3600.0


def check_interval(interval_s: float) -> None:
    """A sampling interval the monitor can keep: finite seconds above 0, at most an hour
    (float() accepts nan and inf); UserError naming --interval otherwise."""
    if not (math.isfinite(interval_s) and 0 < interval_s <= MAX_INTERVAL_S):
        raise UserError(f"--interval: expected a positive number of seconds, at most "
                        f"{MAX_INTERVAL_S:.0f}, got {interval_s}")


def usable_cores(pid: int = 0) -> int:
    """The CPUs a process may run on (its affinity), which bounds any CPU rate it shows."""
    try:
        return len(os.sched_getaffinity(pid))
    except OSError:
        return os.cpu_count() or 1


class TaskProbe:
    """The running state of one monitored task: cumulative counters never go backwards,
    and the peaks seen so far. No row claims more than `cores` cores: the CPU a row adds
    is spread over at least the time `cores` cores need to use it."""

    def __init__(self, pid: int, run_id: str, task_id: str, app: str, clock: Clock,
                 start_mono: float, launcher: bool = False,
                 cgroup: TaskCgroup | None = None, attempt: int = 1,
                 cores: int | None = None) -> None:
        self.pid = pid
        self.cores = cores or usable_cores()
        self.attempt = attempt
        self.launcher = launcher
        self.cgroup = cgroup
        self.ident = {"run_id": run_id, "task_id": task_id, "app": app}
        self.clock = clock
        self.start_mono = start_mono
        self.last_mono = start_mono
        self.cum = ProcCounters()
        self.peak_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.max_procs = 1
        self.max_threads = 1
        self.samples = 0
        self._lock = threading.Lock()
        self._closed = False

    def _row(self, mono: float, cpu_s: float, current: ProcCounters, procs: int,
             memory: tuple[int, int] | None = None, final: bool = False) -> SampleRow:
        dt = mono - self.last_mono
        # CPU counters move in clock ticks (10 ms), so at a fine interval one row can see
        # two ticks in 2 ms: what exceeds `cores` over the interval is carried to the next
        # row (`cum.cpu_s` is the CPU the rows have shown so far), and the closing row
        # shows the rest; the series' integral stays the task's CPU time.
        gained = max(0.0, cpu_s - self.cum.cpu_s)
        shown = gained if final else min(gained, self.cores * max(dt, 0.0))
        cpu_cores = shown / dt if dt > 0 else 0.0
        self.cum.cpu_s += shown
        for name in IO_FIELDS:
            setattr(self.cum, name, max(getattr(self.cum, name), getattr(current, name)))
        self.last_mono = mono
        self.samples += 1
        return {
            **self.ident,
            "timestamp": round(self.clock.wall(mono), 6),
            "elapsed_s": round(mono - self.start_mono, 6),
            "cpu_cores": round(cpu_cores, 4),
            "rss_bytes": current.rss_bytes,
            "read_bytes": self.cum.read_bytes,
            "write_bytes": self.cum.write_bytes,
            "read_chars": self.cum.rchar,
            "write_chars": self.cum.wchar,
            "read_ops": self.cum.syscr,
            "write_ops": self.cum.syscw,
            "procs": procs,
            "threads": current.threads,
            "pss_bytes": current.pss_bytes,
            "anon_bytes": memory[0] if memory else "",
            "file_cache_bytes": memory[1] if memory else "",
            "attempt": self.attempt,
        }

    def sample(self) -> SampleRow | None:
        """Read the live tree now; None once the task has been finalised."""
        with self._lock:
            if self._closed:
                return None
            current, procs = tree_counters(self.pid, self.launcher)
            mono = time.monotonic()
            if procs == 0 or mono <= self.last_mono:
                return None
            self.peak_rss_bytes = max(self.peak_rss_bytes, current.rss_bytes)
            self.peak_pss_bytes = max(self.peak_pss_bytes, current.pss_bytes)
            self.max_procs = max(self.max_procs, procs)
            self.max_threads = max(self.max_threads, current.threads)
            if self.cgroup is None:
                return self._row(mono, current.cpu_s, current, procs)
            # the cgroup's CPU also holds processes that left the tree, at ns resolution
            counters = self.cgroup.counters()
            return self._row(mono, counters.cpu_usage_s, current, procs,
                             (counters.anon_bytes, counters.file_bytes))

    def close(self, end_mono: float, exact: ProcCounters,
              memory: tuple[int, int] | None = None) -> SampleRow:
        """The last sample, at exit, carrying the exact totals; no sample follows it."""
        with self._lock:
            self._closed = True
            exact.rss_bytes = 0
            exact.pss_bytes = 0
            exact.threads = 0
            # A periodic row can be taken after the exit (the tree is a zombie until it is
            # reaped) and CPU that no periodic row saw (children reaped between rows) only
            # shows in the exact total: stamped at the exit, such a row would divide that
            # CPU by microseconds. Its interval is at least what `cores` cores need for it.
            unseen_cpu_s = max(0.0, exact.cpu_s - self.cum.cpu_s)
            closing = max(end_mono, self.last_mono + unseen_cpu_s / self.cores,
                          self.last_mono + 1e-6)
            return self._row(closing, exact.cpu_s, exact, 0, memory, final=True)


class Sampler:
    """Samples every registered probe each `interval_s` and passes rows to `sink`."""

    def __init__(self, interval_s: float, sink: Callable[[list[SampleRow]], None],
                 clock: Clock | None = None, node: NodeProbe | None = None,
                 node_sink: Callable[[list[SampleRow]], None] | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("sampling interval must be positive")
        self.interval_s = interval_s
        self.sink = sink
        self.clock = clock or Clock()
        self.node = node
        self.node_sink = node_sink
        self._probes: dict[str, TaskProbe] = {}
        self._lock = threading.Lock()
        # held from reading probes until their rows are in the sink, so a task's closing
        # row can never be overtaken by a periodic row taken just before it
        self._emit = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="genscale-sampler", daemon=True)
        self.busy_s = 0.0  # the sampler's own CPU time, for overhead reports

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; the node series gets a closing sample, as each task's does."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._sample_node()

    def _sample_node(self) -> None:
        if self.node is not None and self.node_sink is not None:
            mono = time.monotonic()
            self.node_sink([self.node.sample(mono, self.clock.wall(mono))])

    def add(self, probe: TaskProbe) -> None:
        with self._lock:
            self._probes[str(probe.ident["task_id"])] = probe

    def remove(self, probe: TaskProbe) -> None:
        with self._lock:
            self._probes.pop(str(probe.ident["task_id"]), None)

    def finish(self, probe: TaskProbe, end_mono: float, exact: ProcCounters,
               memory: tuple[int, int] | None = None) -> None:
        """Unregister `probe` and sink its closing row (see `TaskProbe.close`) as the
        task's last row in the sink."""
        with self._emit:
            self.remove(probe)
            self.sink([probe.close(end_mono, exact, memory)])

    def _loop(self) -> None:
        t0 = time.monotonic()
        tick = 1
        while not self._stop.is_set():
            due = t0 + tick * self.interval_s
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            # after a stall, skip the ticks already missed instead of bursting
            tick = max(tick + 1, int((time.monotonic() - t0) / self.interval_s) + 1)
            cpu0 = time.thread_time()
            with self._emit:
                with self._lock:
                    probes = list(self._probes.values())
                rows = [r for r in (p.sample() for p in probes) if r is not None]
                if rows:
                    self.sink(rows)
            self._sample_node()
            self.busy_s += time.thread_time() - cpu0
