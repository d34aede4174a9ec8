"""`genscale run`: plan and run a workflow; prints the run directory on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genscale.api import resume_workflow, run_workflow
from genscale.cli.display import print_summary, progress, stderr
from genscale.cli.options import dataclass_options, executor_options
from genscale.engine.runner import RunSettings, run_settings
from genscale.errors import UserError
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


def _event(kind: str, task: PlannedTask, values: dict[str, object]) -> None:
    if kind == "started":
        progress(kind, task.task_id)
    elif kind == "retrying":
        how = "was lost" if values.get("lost") else f"exited {values['exit_code']}"
        progress(kind, f"{task.task_id}  attempt {values['attempt']} {how}")
    elif kind == "failed" and values.get("exit_code") is not None:
        progress(kind, f"{task.task_id}  exit {values['exit_code']}")
    elif values.get("reason") and kind != "failed":
        progress(kind, f"{task.task_id}  {values['reason']}")
    else:
        wall = values.get("wall_s")
        progress(kind, f"{task.task_id}  {wall:.1f} s" if isinstance(wall, float)
                 else task.task_id)


@click.command()
@click.argument("workflow", required=False)
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path),
              help="finish the run in this directory, after its manager was killed")
@click.option("--dataset", type=click.Path(path_type=Path), help="dataset directory "
              "(from 'genscale data synth')")
@click.option("--param", "param", multiple=True, metavar="KEY=VALUE",
              help="override a workflow parameter (repeatable)")
@click.option("--no-plots", is_flag=True, help="skip drawing the plots at the end")
@dataclass_options(RunSettings, skip=("executor_settings",))
@executor_options
def run(workflow: str | None, resume_dir: Path | None, dataset: Path | None,
        param: tuple[str, ...], no_plots: bool, **settings: object) -> None:
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
        result = resume_workflow(resume_dir, on_event=_event, plots=not no_plots)
    elif workflow is None:
        raise UserError("give a WORKFLOW to run (dnaseq, rnaseq or a YAML path), or "
                        "--resume RUN_DIR")
    else:
        result = run_workflow(workflow, dataset, run_settings(settings), _params(param),
                              on_event=_event, plots=not no_plots)
    run_dir = result.run_dir
    if (run_dir / "manifests").is_dir():
        count = len(list((run_dir / "manifests").glob("*.yaml")))
        stderr.print(f"{count} Jobs written and validated under manifests/ (dry run: nothing "
                     "was submitted); run directory:")
        click.echo(str(run_dir))
        return
    print_summary(RunDirectory(run_dir).tasks(), f"{run_dir.name}")
    for failure in result.outcome.failures:
        stderr.print(f"[bold red]failed[/] {failure.task_id} (exit {failure.exit_code}); "
                     f"last lines of logs/{failure.task_id}.err:")
        for line in failure.stderr_tail:
            stderr.print(f"    {line}", markup=False)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.outcome.counts().items()))
    stderr.print(f"{counts}; run directory:")
    click.echo(str(run_dir))
    if result.outcome.interrupted:
        sys.exit(130)
    if result.outcome.failures:
        sys.exit(1)
