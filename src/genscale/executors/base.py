"""The executor interface. The engine only ever calls these four methods (and reads
`capacity`), so it cannot tell one executor from another.

An executor takes jobs that are ready to run, runs each under the monitor, and reports each
one's end exactly once through `poll`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from genscale.monitor.process import TaskTotals


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


class Executor(ABC):
    name: str = "base"

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


def bash_argv(command: str) -> list[str]:
    """How every executor runs a step's command: bash, failing on any error in a pipe."""
    return ["/bin/bash", "-o", "pipefail", "-e", "-c", command]
