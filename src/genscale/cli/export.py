"""`genscale export`: a run directory in the formats other tools read."""

from __future__ import annotations

from pathlib import Path

import click

from genscale.cli.display import stderr


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "wfformat",
                                                    "nextflow-trace"]), required=True,
              help="the tasks table (csv, parquet), a WfFormat 1.5 instance, or a raw "
                   "Nextflow trace")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="file to write")
def export(run_dir: Path, fmt: str, out: Path) -> None:
    """Write RUN_DIR's tasks in another tool's format (docs/run-directory.md).

    \b
    Example:
      genscale export runs/dnaseq-20261203T2000Z-ab12 --format wfformat --out run.json
    """
    from genscale.export import export_run

    count = export_run(run_dir, fmt, out)
    stderr.print(f"{count} tasks written as {fmt}")
    click.echo(str(out))
