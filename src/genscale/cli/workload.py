"""`genscale workload run SPEC`: many workflow instances under a policy."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genscale.cli.display import print_summary, stderr
from genscale.cli.options import dataclass_options, executor_options
from genscale.cli.run import TaskEvents
from genscale.engine.policies import POLICIES
from genscale.engine.runner import RunSettings, run_settings, run_workload
from genscale.engine.workload import WorkflowPredictions
from genscale.report.compare import compare_runs
from genscale.store.rundir import RunDirectory


@click.group()
def workload() -> None:
    """Workloads of many workflows: arrivals, a concurrency cap, a scheduling policy."""


@workload.command(name="run")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--policy", type=click.Choice(list(POLICIES)),
              help="override the spec's policy")
@click.option("--model", type=click.Path(path_type=Path),
              help="a wall_s bundle by workflow,step (genscale model train): its "
                   "whole-workflow predictions order shortest-predicted-first")
@dataclass_options(RunSettings, skip=("only", "repeat", "dry_run", "executor_settings"))
@executor_options
def run_(spec: Path, policy: str | None, model: Path | None, **settings: object) -> None:
    """Run every instance of workload SPEC (YAML) in one run directory.

    \b
    Example:
      genscale workload run workloads/dnaseq-poisson.yaml --policy fair-share
    """
    predictions = None
    if model is not None:
        from genscale.forecast import workflow_predictor  # loads the model: only when asked

        predictions = WorkflowPredictions(workflow_predictor(model), str(model))
    result = run_workload(spec, run_settings(settings), policy, on_event=TaskEvents(),
                          predictions=predictions)
    print_summary(RunDirectory(result.run_dir).tasks(), result.run_dir.name)
    table = compare_runs([result.run_dir])
    stderr.print(table.to_string(index=False))
    click.echo(str(result.run_dir))
    if result.outcome.interrupted:
        sys.exit(130)
    if result.outcome.failures:
        sys.exit(1)
