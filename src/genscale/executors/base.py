"""The executor interface. The engine only ever calls these four methods (and reads
`capacity`), so it cannot tell one executor from another.

An executor takes jobs that are ready to run, runs each under the monitor, and reports each
one's end exactly once through `poll`.

Around a run, the runner asks an executor's class (found by name in
`genscale.executors.registry`, never imported by the engine itself) for the rest of what
makes a backend: `settings_class`, a dataclass whose fields become its `--NAME-*` flags;
`check_plan`, which refuses before anything runs a plan it cannot run; `create`, which makes
the executor of one run; `write_dry_run`, for the backends that can show what they would
submit; and `stop_leftovers`, which a resume calls to stop what a dead manager left running.
A new executor is one module with one such class, and its registration.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from genscale.errors import UserError
from genscale.monitor.process import TaskTotals

if TYPE_CHECKING:  # types only: executors are made by the runner, which has these
    from genscale.monitor.session import MonitorSession
    from genscale.store.rundir import RunDirectory
    from genscale.workflow.plan import Plan


@dataclass(frozen=True)
class Resources:
    cores: int
    memory_bytes: int


@dataclass
class Job:
    """One task as an executor sees it."""

    task_id: str
    app: str
    command: str  # a bash command line; values in it are already shell-quoted
    cwd: Path
    stdout_path: Path
    stderr_path: Path
    threads: int
    memory_bytes: int
    image: str | None = None
    attempt: int = 1


@dataclass
class JobResult:
    task_id: str
    host: str
    totals: TaskTotals | None  # None if the job never started
    cancelled: bool = False
    error: str | None = None  # why it could not run, when totals is None
    lost: bool = False  # the job vanished with its node or was killed from outside: rerun it


@dataclass(frozen=True)
class ExecutorContext:
    """What an executor of one run is made from (`Executor.create`)."""

    run: RunDirectory
    run_id: str
    workflow_id: str  # the run's first workflow instance, e.g. dnaseq-0
    plan: Plan
    session: MonitorSession  # this host's sampler, sample sink and task cgroups
    interval_s: float  # the sampling interval
    cores: int | None  # the core budget (None: all the backend has)
    memory_bytes: int | None  # the memory budget (None: all the backend has)
    cgroups: bool  # a cgroup per task where the machine allows it


class Executor(ABC):
    name: ClassVar[str] = "base"
    # the dataclass of its own settings, or None; each field is a flag (its metadata's
    # `flag`, e.g. --slurm-poll), whose value reaches the command as `flag_prefix` + name
    settings_class: ClassVar[type | None] = None
    flag_prefix: ClassVar[str] = ""
    dry_run_supported: ClassVar[bool] = False  # `write_dry_run` does something

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> Executor:
        """The executor of one run; `settings`: an instance of `settings_class` (or None).
        A backend that cannot be reached raises UserError with one line."""
        raise NotImplementedError(f"{cls.__name__}.create")  # pragma: no cover

    @classmethod
    def check_plan(cls, plan: Plan, run_dir: Path, run_id: str, settings: Any,
                   dry_run: bool) -> None:
        """Refuse a plan this backend cannot run (UserError), before anything is written.
        Every plan, by default."""
        return None

    @classmethod
    def write_dry_run(cls, plan: Plan, run_dir: Path, run_id: str, settings: Any,
                      interval_s: float, workflow_id: str) -> list[Path]:
        """Write what would be submitted under `run_dir`, submit nothing; the files
        written. Only where `dry_run_supported`."""
        raise UserError(f"--dry-run: the {cls.name} executor has none")

    @classmethod
    def stop_leftovers(cls, run: RunDirectory, run_id: str, settings: Any) -> int:
        """Stop what a dead manager of `run` left running on this backend (a resume calls
        it before running anything); how many it stopped."""
        return 0

    @property
    @abstractmethod
    def capacity(self) -> Resources:
        """What the engine may have running at once."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start `job` (or queue it with the resource manager); return at once."""

    @abstractmethod
    def poll(self, timeout_s: float) -> list[JobResult]:
        """Jobs that ended since the last call; waits up to `timeout_s` for the first."""

    @abstractmethod
    def cancel(self, task_id: str) -> None:
        """Stop a submitted job; its end is still reported by `poll`, as cancelled."""

    @abstractmethod
    def shutdown(self) -> None:
        """Release everything; jobs still running are cancelled."""


def read_registry(path: Path) -> Any:
    """A registry file an executor keeps in the run directory (what it has running), as
    JSON; None where there is none or a crash left it unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def bash_argv(command: str) -> list[str]:
    """How every executor runs a step's command: bash, failing on any error in a pipe."""
    return ["/bin/bash", "-o", "pipefail", "-e", "-c", command]


# a word of only these characters means the same to bash as to execve: nothing in it
# quotes, expands, redirects, pipes, lists, globs, tildes or comments
PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:,@%+=-]+")
# what bash runs itself rather than exec (`compgen -b` and `compgen -k` of bash 5.2)
BASH_OWN = frozenset((
    ".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command",
    "compgen", "complete", "compopt", "continue", "declare", "dirs", "disown", "echo", "enable",
    "eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash", "help", "history",
    "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd",
    "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source", "suspend",
    "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias", "unset",
    "wait", "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while",
    "until", "do", "done", "in", "function", "time", "coproc",
))


def direct_argv(command: str) -> list[str] | None:
    """The argv bash would exec for `command`, when `command` is one simple command of
    plain words (`PLAIN_WORD`) naming a program on PATH (or by absolute path), not a
    builtin or an assignment: bash would only add its own start-up (about 2 ms of CPU a
    task, issue 22). None otherwise: run it through `bash_argv`."""
    words = [w for w in command.split(" ") if w]  # a newline or a tab: not plain
    if not words or not all(PLAIN_WORD.fullmatch(w) for w in words):
        return None
    program = words[0]
    if "=" in program or program in BASH_OWN:
        return None
    if "/" in program and not program.startswith("/"):
        return None  # relative to the task's directory: bash finds it there, which() not
    found = _which(program, os.environ.get("PATH"))
    if found is None or not os.access(found, os.X_OK):  # removed since: let bash say so
        return None
    return [found, *words[1:]]


@functools.lru_cache(maxsize=1024)
def _which(program: str, path: str | None) -> str | None:
    """`shutil.which`, once per program and PATH: a workflow runs the same few programs
    thousands of times, and each search stats every PATH directory."""
    return shutil.which(program, path=path)
