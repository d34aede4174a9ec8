"""The launcher a task runs under, and the report it leaves.

A task's command runs under a launcher, never as our direct child: a process forked from
this (large) Python process inherits our memory high-water mark across exec, so wait4's
ru_maxrss of a direct child would report our memory, not the task's; the launcher's own
wait4 of its child is clean, and gives the peak of the largest single process even between
two samples. Where the task has cgroups, the launcher also joins them before the task
starts, so that they count it from its first instruction.

The launchers, best first:

- `genscale-launch` (`launch.c`): joins the cgroups, forks, execs, waits, reports. Compiled
  with the C compiler (`cc`) on first use into the user's cache directory, once per version
  of its source.
- GNU time (`/usr/bin/time -f %M`), behind `/bin/sh -c 'echo $$ > cgroup.procs && exec
  ...'` where there are cgroups to join: one exec more per task.
- none (no GNU time either): the task runs directly, with no peak from a report.

Either writes its report into a pipe (`REPORT_FD`, or GNU time's `-o /dev/fd/N`), not a
file: a file created and removed per task is what a task costs most on a filesystem that
looks for recently freed inodes when it creates one (ext4 without a journal, issue 22).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

GNU_TIME = "/usr/bin/time"
HELPER = "genscale-launch"
_SIGNALLED = re.compile(r"Command terminated by signal (\d+)")


@dataclass(frozen=True)
class Launcher:
    """How a task's command is started: `name` as run.json's `monitor.launcher` says it,
    `path` the launcher's executable (None: the command runs directly)."""

    name: str
    path: str | None

    @property
    def reports(self) -> bool:
        """Whether it writes a report (the peak memory, the ending signal)."""
        return self.path is not None

    def argv(self, command: list[str], report_fd: int, cgroup_procs: list[Path]) -> list[str]:
        """`command` under this launcher: its report into `report_fd` (an open, inheritable
        descriptor) and the process joining each `cgroup.procs` file before it runs."""
        if self.name == HELPER:
            assert self.path is not None
            return [self.path, str(report_fd), *map(str, cgroup_procs), "--", *command]
        full = ([GNU_TIME, "-f", "%M", "-o", f"/dev/fd/{report_fd}", *command]
                if self.path is not None else list(command))
        if not cgroup_procs:
            return full
        moves = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in cgroup_procs)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "genscale-cgroup", *full]


@functools.cache
def launcher() -> Launcher:
    """The best launcher this machine has (decided once per process)."""
    helper = compiled_helper()
    if helper is not None:
        return Launcher(HELPER, str(helper))
    if os.access(GNU_TIME, os.X_OK):
        return Launcher("GNU time", GNU_TIME)
    return Launcher("none", None)


def cache_dir() -> Path:
    """Where the compiled helper is kept: $XDG_CACHE_HOME/genscale, else ~/.cache/genscale."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genscale"


def compiled_helper() -> Path | None:
    """`genscale-launch` for the source shipped with this version: compiled now if this
    user's cache does not hold it yet, and tried once. None where there is no C compiler,
    the compiler fails, the cache cannot be written or executed from, or the cache or the
    program in it is another user's or writable by others."""
    source = resources.files("genscale.monitor").joinpath("launch.c").read_bytes()
    # one per source and machine kind: a home directory may be shared by x86 and ARM nodes
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = cache_dir() / f"{HELPER}-{platform.machine()}-{digest}"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _ours(target.parent):  # another user could swap the program under us
            return None
        if not _ours(target):
            compiler = shutil.which("cc") or shutil.which("gcc")
            if compiler is None:
                return None
            with tempfile.TemporaryDirectory(dir=target.parent) as work:
                src = Path(work) / "launch.c"
                src.write_bytes(source)
                built = Path(work) / HELPER
                subprocess.run([compiler, "-O2", "-o", str(built), str(src)], check=True,
                               capture_output=True, timeout=120)
                built.chmod(0o755)  # whatever the umask: nobody else may write it
                os.replace(built, target)  # whole, under its final name, or not at all
        if _works(target):
            return target
    return None


def _ours(path: Path) -> bool:
    """`path` is this user's own file or directory, and nobody else may write to it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    return (info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            and (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)))


def _works(helper: Path) -> bool:
    """The helper runs here (a cache on a noexec mount would not) and reports."""
    read_fd, write_fd = os.pipe()
    try:
        done = subprocess.run([str(helper), str(write_fd), "--", "true"], pass_fds=(write_fd,),
                              capture_output=True, timeout=30)
        os.close(write_fd)
        write_fd = -1
        return done.returncode == 0 and read_report(read_fd)[0] is not None
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def read_report(fd: int) -> tuple[int | None, int | None]:
    """(peak resident bytes, ending signal) from what the launcher wrote into the pipe
    `fd`. The launcher has exited, so its report is whole; a process it left running may
    still hold the pipe open, so this reads without waiting for the end."""
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    signum = next((int(m.group(1)) for m in map(_SIGNALLED.match, lines) if m), None)
    try:
        return int(lines[-1].split()[0]) * 1024, signum
    except (IndexError, ValueError):
        return None, signum
