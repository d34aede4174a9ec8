"""`genscale import`: measurements from other tools, in GenScale's schema."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from genscale.cli.display import print_summary
from genscale.store.importers import Rows, import_run
from genscale.store.importers.pidstat import to_rows as pidstat_rows
from genscale.store.importers.sacct import sacct_rows
from genscale.store.importers.traces import nextflow_rows, snakemake_rows
from genscale.store.importers.wfformat import wfformat_rows


@click.group(name="import")
def import_() -> None:
    """Bring existing measurements into a run directory."""


def _importer(name: str, source: str, convert: Callable[..., list[Rows]],
              doc: str, example: str, *options: Callable[[Any], Any]) -> None:
    """One `genscale import NAME FILE... --out RUN_DIR [OPTIONS]` command over `convert`
    (called with a file, the run id and the `options`' values by name)."""

    @import_.command(name=name, help=f"{doc}\n\n\b\nExample:\n  {example}")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), required=True,
                  help="run directory to write (new or empty)")
    def command(files: tuple[Path, ...], out: Path, **settings: Any) -> None:
        run = import_run(list(files), out, source, partial(convert, **settings))
        print_summary(run.tasks(), out.name)
        click.echo(str(run.path))

    for option in options:
        option(command)


_importer("pidstat", "pidstat-import", lambda path, run_id: [pidstat_rows(path, run_id)],
          "Logs of `pidstat -h -u -t -d -r [-G NAME] 1`: each file one task.",
          "genscale import pidstat bwa.pidstat.log --out runs/prototype-bwa")
_importer("nextflow-trace", "nextflow-import", nextflow_rows,
          "Nextflow trace files (-with-trace; CSV or TSV, raw or human-readable units): "
          "each file one workflow, each line one task.",
          "genscale import nextflow-trace trace.txt --out runs/nf-trace")
_importer("snakemake-benchmark", "snakemake-import", snakemake_rows,
          "Snakemake `benchmark:` files: each line of each file one task (one repeat). The "
          "rule is the file's `rule_name` (8.x `--benchmark-extended`), else where "
          "--rule-pattern puts it, else the file's folder (benchmarks/RULE/x.tsv), else the "
          "file name up to its first dot.",
          "genscale import snakemake-benchmark benchmarks/*.txt --out runs/smk "
          "--rule-pattern '{sample}.{rule}.benchmark.txt'",
          click.option("--rule-pattern", metavar="PATTERN", default=None,
                       help="the benchmark: directive's path (its last components) with "
                            "{rule} where the rule's name stands, Snakemake's wildcard "
                            "syntax: '{sample}.{rule}.benchmark.txt'"))
_importer("wfformat", "wfformat-import", wfformat_rows,
          "WfCommons instances (WfFormat JSON, schema 1.0 to 1.6): each file one workflow, "
          "each task one row.",
          "genscale import wfformat montage-instance.json --out runs/wfcommons-montage")
_importer("sacct", "sacct-import", sacct_rows,
          "SLURM accounting as `sacct -P` prints it, with its header (any fields; JobID and "
          "Elapsed or ElapsedRaw needed): each ended job one task, its steps' MaxRSS, "
          "MaxDiskRead and MaxDiskWrite folded into it. For example, from\n\n\b\n"
          "  sacct -a -P -S 2024-05-01 -o JobID,JobName,State,ExitCode,Submit,"
          "Start,End,ElapsedRaw,TotalCPU,ReqCPUS,ReqMem,MaxRSS,MaxDiskRead,"
          "MaxDiskWrite,NodeList > jobs.txt",
          "genscale import sacct jobs.txt --out runs/cluster-may")
