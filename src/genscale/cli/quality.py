"""`genscale quality`: QC reports and FASTQ files as numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from genscale.errors import UserError
from genscale.quality.detect import find_reports, parse_report
from genscale.quality.errors import ReportError


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file, on stdout")
@click.option("--out", type=click.Path(path_type=Path),
              help="with 'table': the features table to write (.csv or .parquet)")
def quality(files: tuple[str, ...], as_json: bool, out: Path | None) -> None:
    """Parse QC reports (FastQC, Picard, samtools, bcftools, STAR, Trimmomatic, cutadapt,
    fastp, GATK, mosdepth); with `genscale quality fastq FILE...`, compute features of FASTQ
    files; with `genscale quality table DIR... --out FILE`, write one row of features per
    run or dataset directory.

    A bad file gets one line on stderr; the others are still read, and the exit status is 1
    at the end.

    \b
    Example:
      genscale quality results/ --json
    """
    if files[0] == "table":
        _table([Path(f) for f in files[1:]], out)
        return
    paths = [Path(f) for f in files]
    fastq_mode = files[0] == "fastq"
    if fastq_mode:
        paths = paths[1:]
        if not paths:
            raise click.UsageError("genscale quality fastq FILE...: no files given")
    if fastq_mode:
        from genscale.quality.fastq import fastq_features  # numba: only for FASTQ files
    results: list[dict[str, Any]] = []
    failed = 0
    if not fastq_mode:  # a folder stands for every report under it
        paths = [r for path in paths for r in (find_reports(path) if path.is_dir()
                                               else [path])]
        if not paths:
            raise UserError(f"{', '.join(files)}: no QC report found")
    for path in paths:
        try:
            results.append(fastq_features(path) if fastq_mode else parse_report(path))
        except ReportError as exc:
            click.echo(f"genscale: error: {exc}", err=True)  # one line, never wrapped
            failed += 1
    if as_json:
        # several files: a list; one: its object, or null when it could not be read
        click.echo(json.dumps(results if len(paths) != 1 else (results[0] if results else
                                                                None), indent=1))
    else:
        for result in results:
            _print(result)
    if failed:
        sys.exit(1)


def _print(result: dict[str, Any]) -> None:
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    metrics = result.get("metrics", {})
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:,.4g}"
        table.add_row(str(key), str(value))
    if "status" in result:
        flags = ", ".join(f"{k}: {v}" for k, v in result["status"].items() if v != "pass")
        table.caption = f"not pass: {flags}" if flags else "all modules pass"
    kind = f" {result['type']}" if result.get("type") else ""
    encoding = f", {result['encoding']}" if "encoding" in result else ""
    click.echo(f"\n{result['file']} ({result['format']}{kind}{encoding})")
    if not metrics and result.get("rows"):
        click.echo(f"{len(result['rows'])} rows (bins, cycles or substitutions), none of them "
                   "the sample's: see --json")
        return
    Console(width=110).print(table)


def _table(dirs: list[Path], out: Path | None) -> None:
    if not dirs or out is None:
        raise click.UsageError("genscale quality table DIR... --out FILE")
    from genscale.quality.table import features_table  # pandas: only for the table

    frame = features_table(dirs)
    tmp = out.with_name(f".{out.name}.tmp")
    if out.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(out)
    click.echo(str(out))
