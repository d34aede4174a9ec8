"""`genscale run`: plan and run a workflow; prints the run directory on stdout."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from genscale.api import resume_workflow, run_workflow
from genscale.cli.display import print_summary, progress, stderr
from genscale.cli.options import dataclass_options, executor_options
from genscale.engine.runner import RunResult, RunSettings, run_settings
from genscale.errors import UserError
from genscale.eta import Eta, Prediction, clock, predict_steps
from genscale.store.rundir import RunDirectory
from genscale.workflow.plan import PlannedTask


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


class TaskEvents:
    """The engine's events as progress lines on stderr: how many tasks of all have a final
    status, the time since the start and how long is left (`genscale.eta`); nothing when
    `quiet`."""

    def __init__(self, quiet: bool = False, prediction: Prediction | None = None) -> None:
        self.quiet = quiet
        self.eta = Eta(prediction)

    def __call__(self, kind: str, task: PlannedTask, values: dict[str, object]) -> None:
        self.eta.update(kind, task.task_id, task.step, values)
        if self.quiet:
            return
        width = len(str(self.eta.total))
        counter = f"[{self.eta.done:>{width}}/{self.eta.total}]"
        if kind == "started":
            progress(kind, task.task_id, counter)
            return
        if kind == "retrying":
            how = "was lost" if values.get("lost") else f"exited {values['exit_code']}"
            progress(kind, f"{task.task_id}  attempt {values['attempt']} {how}", counter)
            return
        if kind == "failed" and values.get("exit_code") is not None:
            text = f"{task.task_id}  exit {values['exit_code']}"
        elif values.get("reason") and kind != "failed":
            text = f"{task.task_id}  {values['reason']}"
        else:
            wall = values.get("wall_s")
            text = f"{task.task_id}  {wall:.1f} s" if isinstance(wall, float) else task.task_id
        progress(kind, f"{text}  ({self.timing()})", counter)

    def timing(self) -> str:
        """"0:12 elapsed, about 0:41 left" (or "0:51 in all" at the end)."""
        elapsed = time.monotonic() - self.eta.started
        left = self.eta.remaining_s()
        if left == 0.0:
            return f"{clock(elapsed)} in all"
        return f"{clock(elapsed)} elapsed" + (f", about {clock(left)} left"
                                              if left is not None else "")


def _prediction(workflow: str | None, dataset: Path | None,
                settings: dict[str, Any]) -> Prediction | None:
    """The scaling model's prediction of each step, for the ETA, where it applies."""
    import os

    if workflow is None or dataset is None or settings.get("executor") != "local":
        return None  # on a cluster, the cores a task gets are the scheduler's to say
    cores = settings.get("cores") or os.cpu_count() or 1
    try:
        return predict_steps(workflow, dataset, int(cores), settings.get("max_threads"))
    except Exception as exc:  # the ETA is a courtesy: it never stops a run from starting
        click.echo(f"genscale: warning: no ETA from the scaling model ({exc}); "
                   "it comes from the tasks that finish", err=True)
        return None


def finish(result: RunResult, events: TaskEvents) -> None:
    """What every run command prints at the end: the summary (unless quiet), each failure
    with the last lines of its stderr, the counts and the time, the run directory on
    stdout; exit 130 when interrupted, 1 when a task failed."""
    run_dir = result.run_dir
    if not events.quiet:
        print_summary(RunDirectory(run_dir).tasks(), f"{run_dir.name}")
    for failure in result.outcome.failures:
        stderr.print(f"[bold red]failed[/] {failure.task_id} (exit {failure.exit_code}); "
                     f"last lines of logs/{failure.task_id}.err:")
        for line in failure.stderr_tail:
            stderr.print(f"    {line}", markup=False)
    if not events.quiet:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.outcome.counts().items()))
        elapsed = time.monotonic() - events.eta.started
        stderr.print(f"{counts} in {clock(elapsed)}; run directory:")
    click.echo(str(run_dir))
    if result.outcome.interrupted:
        sys.exit(130)
    if result.outcome.failures:
        sys.exit(1)


@click.command()
@click.argument("workflow", required=False)
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path),
              help="finish the run in this directory, after its manager was killed")
@click.option("--dataset", type=click.Path(path_type=Path), help="dataset directory "
              "(from 'genscale data synth')")
@click.option("--param", "param", multiple=True, metavar="KEY=VALUE",
              help="override a workflow parameter (repeatable)")
@click.option("--no-plots", is_flag=True, help="skip drawing the plots at the end")
@click.option("--quiet", "-q", is_flag=True,
              help="no progress lines and no summary: only failures, and the run directory "
                   "on stdout")
@dataclass_options(RunSettings, skip=("executor_settings",))
@executor_options
def run(workflow: str | None, resume_dir: Path | None, dataset: Path | None,
        param: tuple[str, ...], no_plots: bool, quiet: bool, **settings: object) -> None:
    """Plan and run WORKFLOW (a catalog name such as dnaseq, or a YAML path), or finish an
    interrupted run with --resume RUN_DIR.

    \b
    Example:
      genscale run dnaseq --dataset demo/data --interval 0.5 --cores 2
    """
    if resume_dir is not None:
        if workflow is not None or dataset is not None or param:
            raise UserError("--resume RUN_DIR takes no WORKFLOW, --dataset or --param: the "
                            "run directory has them")
        info = RunDirectory(resume_dir).read_run_info() if (resume_dir / "run.json").is_file() \
            else {}
        stored = info.get("dataset") or {}
        events = TaskEvents(quiet, _prediction(
            (info.get("workflow") or {}).get("name"),
            Path(stored["path"]) if stored.get("path") else None, info.get("settings") or {}))
        result = resume_workflow(resume_dir, on_event=events, plots=not no_plots)
    elif workflow is None:
        raise UserError("give a WORKFLOW to run (dnaseq, rnaseq or a YAML path), or "
                        "--resume RUN_DIR")
    else:
        chosen = run_settings(settings)
        events = TaskEvents(quiet, _prediction(workflow, dataset, asdict(chosen)))
        result = run_workflow(workflow, dataset, chosen, _params(param), on_event=events,
                              plots=not no_plots)
    run_dir = result.run_dir
    if (run_dir / "manifests").is_dir():
        count = len(list((run_dir / "manifests").glob("*.yaml")))
        stderr.print(f"{count} Jobs written and validated under manifests/ (dry run: nothing "
                     "was submitted); run directory:")
        click.echo(str(run_dir))
        return
    finish(result, events)
