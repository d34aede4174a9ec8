"""`genscale report RUN_DIR`: plots and the HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from genscale.cli.display import print_summary
from genscale.errors import UserError
from genscale.report.compare import compare_runs
from genscale.report.summary import build_report
from genscale.store.rundir import RunDirectory


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--csv", "csv_out", type=click.Path(path_type=Path),
              help="with several runs: write the comparison here too")
def report(run_dirs: tuple[Path, ...], csv_out: Path | None) -> None:
    """Draw the plots and write report.html for RUN_DIR; with several run directories,
    compare them on makespan, mean, p95 and p99 workflow time, and utilisation.

    \b
    Example:
      genscale report runs/dnaseq-20261203T101500Z-ab12
    """
    for run_dir in run_dirs:
        for name in ("run.json", "tasks.csv", "samples.csv"):
            if not (run_dir / name).is_file():
                raise UserError(f"{run_dir}: not a run directory (no {name})")
    if len(run_dirs) > 1:
        table = compare_runs(list(run_dirs))
        click.echo(table.to_string(index=False))
        if csv_out is not None:
            table.to_csv(csv_out, index=False)
        return
    run_dir = run_dirs[0]
    page = build_report(run_dir)
    print_summary(RunDirectory(run_dir).tasks(), run_dir.name)
    click.echo(str(page))
