"""Reading a process tree's counters from /proc.

Every counter read here is cumulative and, for a process, already includes the children it
has reaped (`cutime`/`cstime` in stat, and the reaped children's I/O in `/proc/PID/io`). So the
sum over the processes alive in a tree is the total of everything the tree has ever run,
provided no descendant was orphaned out of it. That invariant is what the sampler relies on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
IO_FIELDS = ("rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes")


@dataclass
class ProcCounters:
    """Counters of one process, its reaped children included."""

    cpu_s: float = 0.0  # utime + stime + cutime + cstime
    rss_bytes: int = 0
    pss_bytes: int = 0
    threads: int = 0
    rchar: int = 0
    wchar: int = 0
    syscr: int = 0
    syscw: int = 0
    read_bytes: int = 0
    write_bytes: int = 0

    def add(self, other: ProcCounters) -> None:
        self.cpu_s += other.cpu_s
        self.rss_bytes += other.rss_bytes
        self.pss_bytes += other.pss_bytes
        self.threads += other.threads
        self.rchar += other.rchar
        self.wchar += other.wchar
        self.syscr += other.syscr
        self.syscw += other.syscw
        self.read_bytes += other.read_bytes
        self.write_bytes += other.write_bytes


def read_counters(pid: int, pss: bool = False) -> ProcCounters | None:
    """Counters of `pid`, or None if it is gone. A zombie still answers: its stat and io
    hold everything it and its reaped children did."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/io", "rb") as f:
            io = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(b")") + 2 :].split()
    # fields[0] is stat field 3 (state); utime is field 14, so index 11
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    counters = ProcCounters(
        cpu_s=ticks / CLOCK_TICKS_PER_S,
        threads=int(fields[17]),
        rss_bytes=int(fields[21]) * PAGE_BYTES,
    )
    for line in io.splitlines():
        key, _, value = line.partition(b":")
        name = key.decode()
        if name in IO_FIELDS:
            setattr(counters, name, int(value))
    if pss:
        counters.pss_bytes = read_pss(pid)
    return counters


def read_pss(pid: int) -> int:
    """Proportional set size: each shared page divided among the processes mapping it, so
    summing over a tree counts shared pages once (summed RSS does not). 0 for a zombie."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of every thread of `pid` (a thread may fork too)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def tree(root: int) -> list[int]:
    """`root` and all its live descendants, root first."""
    pids = [root]
    i = 0
    while i < len(pids):
        pids.extend(children(pids[i]))
        i += 1
    return pids


def tree_counters(root: int, launcher: bool = False) -> tuple[ProcCounters, int]:
    """Summed counters over the live tree and the number of processes in it.

    With `launcher`, the root is our own reaper, not the task: its CPU and I/O (which hold
    everything it reaped) count, its memory, threads and process do not.
    """
    total = ProcCounters()
    procs = 0
    for pid in tree(root):
        is_launcher = launcher and pid == root
        c = read_counters(pid, pss=not is_launcher)
        if c is None:
            continue
        if is_launcher:
            c.rss_bytes = 0
            c.threads = 0
        else:
            procs += 1
        total.add(c)
    return total, procs
