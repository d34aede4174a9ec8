"""Per-task cgroups: kernel-side counters that miss nothing, where the machine allows them.

Each task gets its own cgroup before its command starts (a shell trampoline writes its own
pid into the task's `cgroup.procs`, then execs), so everything the task ever runs is charged
to it: a child that lives 20 ms, threads that come and go, and processes that daemonise and
leave the process tree. CPU and memory come from whichever hierarchy offers them:

- CPU: cgroup v2 `cpu.stat` (usage_usec, user_usec, system_usec), else v1 `cpuacct.usage*`;
- memory: v2 `memory.current`, `memory.peak`, `memory.stat` (anon, file), else v1
  `memory.usage_in_bytes`, `memory.max_usage_in_bytes`, `memory.stat` (total_rss,
  total_cache).

The cgroup's memory peak includes the page cache the task filled; the anonymous and file
parts are sampled separately. Storage I/O stays with /proc/PID/io, which charges buffered
writes to the task that dirtied them (v1 blkio charges them to whoever writes them back).
Nothing here is required: where cgroups cannot be created, `detect` returns None and the
process-tree sampler is the accounting path.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CgroupCounters:
    cpu_usage_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    memory_bytes: int = 0
    memory_peak_bytes: int = 0
    anon_bytes: int = 0
    file_bytes: int = 0


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, OSError):
        return ""


def _keyed(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def parse_v2_cpu(text: str) -> tuple[float, float, float]:
    """(usage, user, system) seconds from a v2 cpu.stat."""
    v = _keyed(text)
    return (v.get("usage_usec", 0) / 1e6, v.get("user_usec", 0) / 1e6,
            v.get("system_usec", 0) / 1e6)


def parse_memory_stat(text: str, version: int) -> tuple[int, int]:
    """(anonymous, file cache) bytes from memory.stat of either version."""
    v = _keyed(text)
    if version == 2:
        return v.get("anon", 0), v.get("file", 0)
    return v.get("total_rss", v.get("rss", 0)), v.get("total_cache", v.get("cache", 0))


def _mounts() -> dict[str, Path]:
    """Controller name (or 'unified') -> mount point, from /proc/self/mountinfo."""
    found: dict[str, Path] = {}
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = [*right.split(), "", "", ""][:3]
        mount = Path(left.split()[4])
        if fstype == "cgroup2":
            found["unified"] = mount
        elif fstype == "cgroup":
            for opt in options.split(","):
                if opt in ("cpuacct", "memory", "cpu"):
                    found[opt] = mount
    return found


def _own_paths() -> dict[str, str]:
    """Controller (or 'unified') -> this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            out["unified"] = path
        for c in controllers.split(","):
            out[c] = path
    return out


@dataclass
class CgroupLayout:
    """Where this run's task cgroups go: one parent directory per hierarchy used."""

    cpu_dir: Path  # parent of the task cgroups that give CPU
    cpu_version: int
    memory_dir: Path | None
    memory_version: int
    _serial: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _reaper: CgroupReaper | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def description(self) -> str:
        memory = (f"memory from cgroup v{self.memory_version}" if self.memory_dir
                  else "memory from the process tree")
        return f"cgroup: CPU from cgroup v{self.cpu_version}, {memory}"

    @classmethod
    def detect(cls, name: str) -> CgroupLayout | None:
        """Create `name` under this process's own cgroups; None where that is not allowed."""
        mounts, own = _mounts(), _own_paths()
        candidates: list[tuple[str, str, int]] = [("unified", "cpu.stat", 2),
                                                  ("cpuacct", "cpuacct.usage", 1)]
        cpu = _first_usable(candidates, mounts, own, name)
        if cpu is None:
            return None
        memory_candidates = [("unified", "memory.peak", 2),
                             ("memory", "memory.max_usage_in_bytes", 1)]
        memory = _first_usable(memory_candidates, mounts, own, name)
        used = [cpu[0]] + ([memory[0]] if memory else [])
        for base in {d.parent for d in used}:  # this process's own cgroup, per hierarchy
            remove_abandoned(base)
        return cls(cpu[0], cpu[1], memory[0] if memory else None, memory[1] if memory else 0)

    def task(self, task_id: str) -> TaskCgroup:
        """A new cgroup for one attempt of `task_id` (its own name, so that the removal of an
        earlier attempt's, done in the background, never meets it)."""
        with self._lock:  # job threads ask at once: one reaper, one number each
            safe = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', task_id)}.{next(self._serial)}"
            if self._reaper is None:
                self._reaper = CgroupReaper()
            reaper = self._reaper
        dirs = [self.cpu_dir / safe]
        if self.memory_dir is not None and self.memory_dir != self.cpu_dir:
            dirs.append(self.memory_dir / safe)
        for d in dirs:
            d.mkdir(exist_ok=True)
        memory = (self.memory_dir / safe) if self.memory_dir is not None else None
        return TaskCgroup(dirs, self.cpu_dir / safe, self.cpu_version, memory,
                          self.memory_version, reaper.submit)

    def remove(self) -> None:
        """Remove the run's parent cgroups, once every task cgroup under them is gone."""
        with self._lock:
            reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.close()
        for d in {self.cpu_dir, self.memory_dir}:
            if d is not None:
                with contextlib.suppress(OSError):
                    d.rmdir()


def _first_usable(candidates: list[tuple[str, str, int]], mounts: dict[str, Path],
                  own: dict[str, str], name: str) -> tuple[Path, int] | None:
    for hierarchy, probe_file, version in candidates:
        if hierarchy not in mounts or hierarchy not in own:
            continue
        parent = mounts[hierarchy] / own[hierarchy].lstrip("/") / name
        created = not parent.exists()
        try:
            parent.mkdir(parents=True, exist_ok=True)
            probe = parent / ".probe"
            probe.mkdir(exist_ok=True)
            usable = (probe / probe_file).exists()
            probe.rmdir()
        except OSError:
            continue
        if usable:
            return parent, version
        if created:
            with contextlib.suppress(OSError):
                parent.rmdir()
    return None


class CgroupReaper:
    """Removes the cgroups of finished tasks in a thread of its own: the kernel frees a
    cgroup a moment after its last process exits (an rmdir before that fails, and is tried
    again 10 ms later), and a task's end should not wait for that (issue 22: 3 ms per task).
    `close` waits until every cgroup handed over is removed."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[TaskCgroup | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="cgroup-reaper", daemon=True)
        self._thread.start()

    def submit(self, cgroup: TaskCgroup) -> None:
        self._queue.put(cgroup)

    def _loop(self) -> None:
        while (cgroup := self._queue.get()) is not None:
            cgroup.remove()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


@dataclass
class TaskCgroup:
    dirs: list[Path]
    cpu_dir: Path
    cpu_version: int
    memory_dir: Path | None
    memory_version: int
    # who removes it once its task has ended: a reaper, or None (at once, here)
    remover: Callable[[TaskCgroup], None] | None = None

    def release(self) -> None:
        """The task has ended and its counters are read: remove the cgroup, in the
        background where a reaper is given."""
        if self.remover is not None:
            self.remover(self)
        else:
            self.remove()

    @property
    def procs_files(self) -> list[Path]:
        """The `cgroup.procs` file of each hierarchy: a process joins by writing its pid."""
        return [d / "cgroup.procs" for d in self.dirs]

    def counters(self) -> CgroupCounters:
        c = CgroupCounters()
        if self.cpu_version == 2:
            c.cpu_usage_s, c.cpu_user_s, c.cpu_system_s = parse_v2_cpu(
                _read(self.cpu_dir / "cpu.stat"))
        else:
            c.cpu_usage_s = _int(self.cpu_dir / "cpuacct.usage") / 1e9
            c.cpu_user_s = _int(self.cpu_dir / "cpuacct.usage_user") / 1e9
            c.cpu_system_s = _int(self.cpu_dir / "cpuacct.usage_sys") / 1e9
        if self.memory_dir is not None:
            v2 = self.memory_version == 2
            c.memory_bytes = _int(self.memory_dir / ("memory.current" if v2
                                                     else "memory.usage_in_bytes"))
            c.memory_peak_bytes = _int(self.memory_dir / ("memory.peak" if v2
                                                          else "memory.max_usage_in_bytes"))
            c.anon_bytes, c.file_bytes = parse_memory_stat(
                _read(self.memory_dir / "memory.stat"), self.memory_version)
        return c

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.cpu_dir / "cgroup.procs").split()]

    def kill_leftovers(self, grace_s: float = 2.0) -> int:
        """SIGKILL what the task left running (daemonised children); returns how many."""
        left = self.pids()
        if not left:  # the usual case: one read, no waiting
            return 0
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + grace_s
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(left)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):  # the kernel frees a cgroup a moment after its last exit
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.01)


def _int(path: Path) -> int:
    text = _read(path).strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def remove_abandoned(base: Path) -> int:
    """Remove the empty cgroups that a manager killed outright left under `base`: its
    parent (`genscale-RUN-PID`, PID no longer running) and the task cgroups in it that
    hold no process. A cgroup with a process left in it stays (the kernel refuses to remove
    it; a resume of its run stops those). Returns how many parents were removed."""
    removed = 0
    for parent in base.glob("genscale-*-*"):
        pid = parent.name.rpartition("-")[2]
        if not pid.isdigit() or os.path.exists(f"/proc/{pid}") or not parent.is_dir():
            continue
        with contextlib.suppress(OSError):
            for task in parent.iterdir():
                if task.is_dir():
                    with contextlib.suppress(OSError):
                        task.rmdir()
            parent.rmdir()
            removed += 1
    return removed


def kill_stale_cgroups(prefix: str) -> int:
    """Kill every process in this process's cgroups whose run directory name starts with
    `prefix` (a dead manager's), and remove those cgroups; returns how many were killed."""
    killed = 0
    mounts, own = _mounts(), _own_paths()
    for hierarchy, mount in mounts.items():
        if hierarchy not in own:
            continue
        base = mount / own[hierarchy].lstrip("/")
        for parent in base.glob(f"{prefix}*"):
            for task in [p for p in parent.iterdir() if p.is_dir()]:
                group = TaskCgroup([task], task, 1, None, 0)
                killed += group.kill_leftovers()
                group.remove()
            with contextlib.suppress(OSError):
                parent.rmdir()
    return killed
