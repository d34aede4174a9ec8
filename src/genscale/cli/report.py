"""`genscale report RUN...`: the interactive report of a run, of several runs compared, or of
a simulation."""

from __future__ import annotations

from pathlib import Path

import click

from genscale.cli.display import print_summary
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory


def _kind(path: Path) -> str:
    """"run" or "simulation", or a one-line error naming what is missing."""
    if (path / "summary.json").is_file() and (path / "tasks.parquet").is_file():
        return "simulation"
    for name in ("run.json", "tasks.csv", "samples.csv"):
        if not (path / name).is_file():
            raise UserError(f"{path}: not a run directory (no {name}) nor a simulation's "
                            "output (summary.json and tasks.parquet)")
    for name, needed in (("tasks.csv", ("task_id", "status")), ("samples.csv", ("task_id",))):
        with open(path / name, "rb") as f:
            header = f.readline().decode("utf-8", "replace").strip().split(",")
        missing = [c for c in needed if c not in header]
        if missing:
            raise UserError(f"{path / name}: line 1: not a GenScale table (no "
                            f"{', '.join(missing)} column)")
    return "run"


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path),
              help="a model bundle (genscale model train, by workflow,step) or a scaling "
                   "model file (genscale model scaling): predicted against measured per step")
@click.option("--out", type=click.Path(path_type=Path),
              help="with several runs: write the comparison as an interactive HTML file too")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path),
              help="with several runs: write the comparison table here too")
def report(run_dirs: tuple[Path, ...], model: Path | None, out: Path | None,
           csv_out: Path | None) -> None:
    """Write the interactive report (one self-contained HTML file that opens offline) of
    RUN_DIR as RUN_DIR/report.html, with the PNG figures in RUN_DIR/plots/; of a
    simulation's output directory as DIR/report.html; with several run directories, compare
    them on makespan, workflow times and utilisation (--out). Prints the file written.

    With --model (a bundle, or a scaling model such as
    src/genscale/model/production-v1.scaling.json) the report shows predicted against
    measured per step; `genscale report runs/dnaseq-* [--out comparison.html]` compares runs
    (the table on stdout, as before; the HTML file with --out).

    \b
    Example:
      genscale report runs/dnaseq-20261203T101500Z-ab12
    """
    kinds = [_kind(d) for d in run_dirs]
    if model is not None and not model.exists():
        raise UserError(f"--model {model}: no such file or directory")
    if len(run_dirs) > 1:
        if "simulation" in kinds:
            raise UserError("several directories are compared as runs: give a simulation's "
                            "output alone")
        if model is not None:
            raise UserError("--model is for the report of one run")
        from genscale.report.compare import compare_runs
        from genscale.report.html import comparison_report

        table = compare_runs(list(run_dirs))
        click.echo(table.to_string(index=False))
        if csv_out is not None:
            tmp = csv_out.with_name(f".{csv_out.name}.tmp")
            table.to_csv(tmp, index=False)
            tmp.replace(csv_out)
        if out is not None:
            click.echo(str(comparison_report(list(run_dirs), out, table)), err=True)
        return
    if out is not None or csv_out is not None:
        raise UserError("--out and --csv are for several runs compared; one run's report "
                        "is RUN_DIR/report.html")
    if kinds[0] == "simulation":
        if model is not None:
            raise UserError("--model is for the report of a run, not of a simulation")
        from genscale.report.html import simulation_report

        click.echo(str(simulation_report(run_dirs[0])))
        return
    from genscale.report.summary import build_report

    run_dir = run_dirs[0]
    page = build_report(run_dir, model)
    print_summary(RunDirectory(run_dir).tasks(), run_dir.name)
    click.echo(str(page))
