"""`genscale import`: measurements from other tools, in GenScale's schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from genscale.cli.display import print_summary
from genscale.store.importers import Rows, import_run
from genscale.store.importers.pidstat import to_rows as pidstat_rows
from genscale.store.importers.traces import nextflow_rows, snakemake_rows
from genscale.store.importers.wfformat import wfformat_rows


@click.group(name="import")
def import_() -> None:
    """Bring existing measurements into a run directory."""


def _importer(name: str, source: str, convert: Callable[[Path, str], list[Rows]],
              doc: str, example: str) -> None:
    """One `genscale import NAME FILE... --out RUN_DIR` command over `convert`."""

    @import_.command(name=name, help=f"{doc}\n\n\b\nExample:\n  {example}")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), required=True,
                  help="run directory to write (new or empty)")
    def command(files: tuple[Path, ...], out: Path) -> None:
        run = import_run(list(files), out, source, convert)
        print_summary(run.tasks(), out.name)
        click.echo(str(run.path))


_importer("pidstat", "pidstat-import", lambda path, run_id: [pidstat_rows(path, run_id)],
          "Logs of `pidstat -h -u -t -d -r [-G NAME] 1`: each file one task.",
          "genscale import pidstat bwa.pidstat.log --out runs/prototype-bwa")
_importer("nextflow-trace", "nextflow-import", nextflow_rows,
          "Nextflow trace files (-with-trace; CSV or TSV, raw or human-readable units): "
          "each file one workflow, each line one task.",
          "genscale import nextflow-trace trace.txt --out runs/nf-trace")
_importer("snakemake-benchmark", "snakemake-import", snakemake_rows,
          "Snakemake `benchmark:` files: each line of each file one task (one repeat).",
          "genscale import snakemake-benchmark benchmarks/*.tsv --out runs/smk")
_importer("wfformat", "wfformat-import", wfformat_rows,
          "WfCommons instances (WfFormat JSON, schema 1.0 to 1.6): each file one workflow, "
          "each task one row.",
          "genscale import wfformat montage-instance.json --out runs/wfcommons-montage")
