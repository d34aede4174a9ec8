"""Executors are plugins (issue 18): the engine and the CLI reach them through
`genscale.executors.registry` only, and a new executor is one class and its registration.
The executor here runs each job in its own `submit`, one at a time, with no sampling: a
backend as small as the contract allows, run through the real runner and run directory."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from genscale.engine.runner import RunSettings, resume_workflow, run_settings, run_workflow
from genscale.errors import UserError
from genscale.executors import registry
from genscale.executors.base import (
    Executor,
    ExecutorContext,
    Job,
    JobResult,
    Resources,
    bash_argv,
)
from genscale.monitor.process import TaskTotals
from genscale.store.rundir import RunDirectory

from .conftest import write

SRC = Path(__file__).resolve().parents[1] / "src" / "genscale"
CONCRETE = re.compile(r"genscale\.executors\.(local|slurm|kubernetes|pods|remote)\b"
                      r"|from genscale\.executors import (?!registry\b)")


@dataclass
class InlineSettings:
    """How the inline executor runs."""

    host: str = field(default="inline-node", metadata={
        "help": "inline: the host its tasks are said to run on", "flag": "--inline-host"})


class InlineExecutor(Executor):
    name = "inline"
    settings_class = InlineSettings
    flag_prefix = "inline_"
    made: ClassVar[list[InlineSettings]] = []
    stopped: ClassVar[list[str]] = []

    def __init__(self, settings: InlineSettings) -> None:
        self.settings = settings
        self.done: list[JobResult] = []

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> InlineExecutor:
        cls.made.append(settings)
        return cls(settings)

    @classmethod
    def stop_leftovers(cls, run: RunDirectory, run_id: str, settings: Any) -> int:
        cls.stopped.append(run_id)
        return 0

    @property
    def capacity(self) -> Resources:
        return Resources(1, 2**30)

    def submit(self, job: Job) -> None:
        start = time.time()
        with open(job.stdout_path, "wb") as out, open(job.stderr_path, "wb") as err:
            code = subprocess.run(bash_argv(job.command), cwd=job.cwd, stdout=out,
                                  stderr=err, check=False).returncode
        end = time.time()
        totals = TaskTotals(exit_code=code, start_time=start, end_time=end,
                            wall_s=end - start, cpu_user_s=0.0, cpu_system_s=0.0,
                            peak_rss_bytes=0, read_bytes=0, write_bytes=0, read_chars=0,
                            write_chars=0, read_ops=0, write_ops=0, max_procs=1,
                            max_threads=1, samples=0)
        self.done.append(JobResult(job.task_id, self.settings.host, totals))

    def poll(self, timeout_s: float) -> list[JobResult]:
        done, self.done = self.done, []
        return done

    def cancel(self, task_id: str) -> None:
        return None

    def shutdown(self) -> None:
        return None


TWO_STEPS = """\
name: two_steps
steps:
  - name: first
    app: sh
    outputs: {out: first.txt}
    command: echo one > {outputs.out}
  - name: second
    app: sh
    inputs: {x: first.txt}
    outputs: {out: second.txt}
    command: cat {inputs.x} > {outputs.out} && echo two >> {outputs.out}
"""


@pytest.fixture
def inline() -> Any:
    registry.register("inline", InlineExecutor)
    yield InlineExecutor
    registry._registered.pop("inline", None)


def test_engine_and_cli_import_no_concrete_executor() -> None:
    found = [f"{path.relative_to(SRC)}: {match.group(0)}"
             for folder in ("engine", "cli") for path in sorted((SRC / folder).rglob("*.py"))
             for match in CONCRETE.finditer(path.read_text(encoding="utf-8"))]
    assert not found, found


def test_a_new_executor_is_one_class_and_its_registration(tmp_path: Path, inline: Any) -> None:
    spec = write(tmp_path / "two.yaml", TWO_STEPS)
    settings = run_settings({"executor": "inline", "runs_dir": tmp_path / "runs",
                             "interval_s": 0.5, "inline_host": "node-7"})
    assert settings.executor_settings["inline"] == InlineSettings("node-7")
    result = run_workflow(str(spec), None, settings)
    assert result.outcome.ok
    assert inline.made[-1] == InlineSettings("node-7")
    run = RunDirectory(result.run_dir)
    tasks = run.tasks().set_index("task_id")
    assert list(tasks["status"]) == ["succeeded", "succeeded"]
    assert set(tasks["host"]) == {"node-7"}
    assert (run.work / "second.txt").read_text() == "one\ntwo\n"
    info = run.read_run_info()
    assert info["executor"] == "inline" and info["settings"]["inline"] == {"host": "node-7"}
    # the built-in executors' settings are recorded too, with their defaults
    assert info["settings"]["slurm"]["poll_s"] == 1.0


def test_a_resumed_run_gets_its_executor_and_settings_back(tmp_path: Path, inline: Any) -> None:
    spec = write(tmp_path / "two.yaml", TWO_STEPS)
    result = run_workflow(str(spec), None, RunSettings(
        executor="inline", runs_dir=tmp_path / "runs", interval_s=0.5,
        executor_settings={"inline": InlineSettings("node-3")}))
    run = RunDirectory(result.run_dir)
    info = run.read_run_info()
    info["status"] = "interrupted"  # as a killed manager leaves it, with a task to do
    run.write_run_info(info)
    kept = run.tasks()
    run.tasks_csv.write_text(kept[kept["task_id"] == "first"].to_csv(index=False))
    resumed = resume_workflow(result.run_dir)
    assert resumed.outcome.ok
    assert inline.stopped[-1] == info["run_id"]  # its leftovers were its own to stop
    assert inline.made[-1] == InlineSettings("node-3")
    tasks = RunDirectory(result.run_dir).tasks().set_index("task_id")
    assert tasks.loc["second", "host"] == "node-3"


def test_an_unknown_executor_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--executor nowhere: expected one of local, "
                                        r"slurm, kubernetes"):
        run_workflow("dnaseq", None, RunSettings(executor="nowhere",
                                                 runs_dir=tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


def test_dry_run_is_refused_by_an_executor_that_has_none(tmp_path: Path) -> None:
    spec = write(tmp_path / "two.yaml", TWO_STEPS)
    with pytest.raises(UserError, match="--dry-run goes with --executor kubernetes"):
        run_workflow(str(spec), None, RunSettings(dry_run=True, runs_dir=tmp_path / "runs"))

