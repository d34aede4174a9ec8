"""The operations a user calls from Python, as the CLI calls them (`genscale.__all__`).

Running a workflow here draws the same plots and report.html as `genscale run`; everything
else is the library's own function, re-exported under one name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from genscale.engine import runner
from genscale.engine.engine import EventHook
from genscale.engine.runner import RunResult, RunSettings


def run_workflow(workflow: str, dataset: Path | str | None = None,
                 settings: RunSettings | None = None,
                 params: Mapping[str, str] | None = None,
                 on_event: EventHook | None = None, plots: bool = True) -> RunResult:
    """Plan and run `workflow` (a catalog name, `dnaseq` or `rnaseq`, or a YAML path) on
    `dataset` (a directory from `genscale data synth` or `data import`), as `genscale run`
    does: every task under the monitor, into a new run directory under
    `settings.runs_dir`, then (with `plots`) its plots and report.html.

        result = genscale.run_workflow("dnaseq", "datasets/small")
        tasks = genscale.RunDirectory(result.run_dir).tasks()

    `params` overrides workflow parameters; `on_event(kind, task, values)` hears each task
    start, end, retry and skip (`values["done"]` of `values["total"]` tasks have a final
    status). A mistake in what was given raises UserError (one line)
    before anything runs; a failed task does not raise (see `result.outcome`)."""
    result = runner.run_workflow(workflow, Path(dataset) if dataset is not None else None,
                                 settings, params, on_event)
    _report(result, plots)
    return result


def resume_workflow(run_dir: Path | str, on_event: EventHook | None = None,
                    plots: bool = True) -> RunResult:
    """Finish a run whose manager died or was interrupted, as `genscale run --resume`
    does: what it left running is stopped, every row and sample it wrote is kept, and only
    the tasks without a final row run.

        genscale.resume_workflow("runs/dnaseq-20261203T101500Z-ab12")
    """
    result = runner.resume_workflow(Path(run_dir), on_event)
    _report(result, plots)
    return result


def _report(result: RunResult, plots: bool) -> None:
    from genscale.report.summary import build_report  # matplotlib only when drawing

    dry_run = (result.run_dir / "manifests").is_dir()
    if plots and not dry_run and not result.outcome.interrupted:
        build_report(result.run_dir)
