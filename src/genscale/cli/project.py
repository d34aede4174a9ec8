"""`genscale project`: what a workflow will cost on given inputs and nodes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from genscale.cli.options import COUNT
from genscale.errors import UserError

# the wall_s bundle a dataset's reads are weighed with (a checkout's; see --quality-model)
CHECKOUT_BUNDLE = Path(__file__).resolve().parents[3] / "models" / "corpus-v1-wall_s"


@click.command()
@click.argument("workflow")
@click.option("--pairs", type=COUNT, help="read pairs, such as 24M")
@click.option("--read-length", type=COUNT, help="bases per read, such as 100")
@click.option("--reference-bases", type=COUNT, help="reference length, such as 3.1G")
@click.option("--threads", type=click.IntRange(1, 4096),
              help="threads of each multi-threaded step (default: the workflow's own)")
@click.option("--cores", type=click.IntRange(1, 1_000_000), default=2, show_default=True,
              help="cores of the node it runs on")
@click.option("--memory", help="memory of the node, such as 384G: steps that need more "
                               "are marked")
@click.option("--preset", type=click.Choice(["clean", "typical", "degraded", "pathological"]),
              help="read quality, as corpus-v1's presets (default: typical)")
@click.option("--dataset", type=click.Path(path_type=Path),
              help="a dataset whose reads give the quality (and the sizes not given)")
@click.option("--model", "model_file", type=click.Path(path_type=Path),
              help="a scaling model file (genscale model scaling; default: the packaged "
                   "production-v1 model)")
@click.option("--quality-model", type=click.Path(path_type=Path),
              help="with --dataset: a wall_s bundle by workflow,step to weigh its reads "
                   "(default: a checkout's models/corpus-v1-wall_s)")
@click.option("--out", type=click.Path(path_type=Path), help="write one row per step (.csv)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of the table")
def project(workflow: str, pairs: float | None, read_length: float | None,
            reference_bases: float | None, threads: int | None, cores: int,
            memory: str | None, preset: str | None, dataset: Path | None,
            model_file: Path | None,
            quality_model: Path | None, out: Path | None, as_json: bool) -> None:
    """Project WORKFLOW's CPU time, wall time, peak memory and I/O, per step and in all,
    with their p90, from the work laws measured across reference length, read length,
    read count and threads. Figures outside what the corpus measured are marked.

    \b
    Example:
      genscale project dnaseq --pairs 24M --read-length 100 --reference-bases 3.1G \\
          --threads 8 --cores 96
    """
    from genscale.model import scaling
    from genscale.model.projection import project_workflow
    from genscale.workflow.spec import size_flag

    if preset is not None and dataset is not None:
        raise UserError("give --preset or --dataset, not both")
    model_file = model_file or scaling.PACKAGED
    model = scaling.load(model_file)
    fitted = scaling.workflow_model(model, workflow)
    quality_note = f"{preset or 'typical'} (corpus-v1's {preset or 'typical'} preset)"
    factors = None
    if dataset is not None:
        sizes, factors = _dataset_quality(dataset, workflow, model, fitted, quality_model)
        pairs = pairs or sizes["pairs"]
        read_length = read_length or sizes["read_length"]
        reference_bases = reference_bases or sizes["reference_bases"]
        quality_note = f"the reads of {dataset}"
    missing = [flag for flag, value in (("--pairs", pairs), ("--read-length", read_length),
                                        ("--reference-bases", reference_bases))
               if value is None or value != value]
    if missing:
        raise UserError(f"{', '.join(missing)}: needed (or --dataset DIR to take them from)")
    node_memory = float(size_flag(memory, "--memory")) if memory is not None else None
    table = project_workflow(workflow, pairs, read_length, reference_bases,  # type: ignore[arg-type]
                             cores=cores, threads=threads, preset=preset,
                             memory_bytes=node_memory, model=model, quality_factors=factors)
    if out is not None:
        _write_csv(table, out)
    if as_json:
        click.echo(json.dumps({
            "workflow": workflow, "inputs": {"pairs": pairs, "read_length": read_length,
                                             "reference_bases": reference_bases,
                                             "threads": threads, "cores": cores,
                                             "memory_bytes": node_memory},
            "quality": quality_note, "model": str(model_file),
            "steps": [_jsonable({str(k): v for k, v in r.items()})
                      for r in table.to_dict("records")]}, indent=2))
    else:
        _print(table, workflow, float(pairs), float(read_length),  # type: ignore[arg-type]
               float(reference_bases), cores, quality_note, fitted)  # type: ignore[arg-type]
    if out is not None:
        click.echo(str(out), err=as_json)


def _dataset_quality(dataset: Path, workflow: str, model: dict[str, Any],
                     fitted: dict[str, Any], quality_model: Path | None
                     ) -> tuple[dict[str, float], dict[str, float]]:
    """The dataset's sizes, and each step's quality factor for its reads."""
    import pandas as pd

    from genscale.data.manifest import Dataset
    from genscale.model.bundle import Bundle
    from genscale.model.dataset import size_features
    from genscale.model.scaling import quality_factors
    from genscale.quality.table import dataset_features

    bundle_dir = quality_model or CHECKOUT_BUNDLE
    if not (bundle_dir / "model.json").is_file():
        raise UserError(f"--dataset needs --quality-model DIR, a wall_s bundle by "
                        f"workflow,step (none at {bundle_dir})")
    typical = (model.get("typical_features") or {}).get(workflow)
    if not typical:
        raise UserError(f"the scaling model has no typical reads of {workflow} to weigh "
                        "the dataset's against")
    row = size_features(pd.DataFrame([dataset_features(Dataset.load(dataset))]))
    values = row.iloc[0]
    sizes = {"pairs": float(values.get("fastq_1.reads", math.nan)),
             "read_length": float(values.get("fastq_1.length_mean", math.nan)),
             "reference_bases": float(values.get("reference.bases", math.nan))}
    factors = quality_factors(Bundle.load(bundle_dir), workflow, sorted(fitted["steps"]), row,
                              pd.DataFrame([typical]))
    return sizes, factors


def _write_csv(table: Any, out: Path) -> None:
    from genscale.model.projection import COLUMNS

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    table[list(COLUMNS)].to_csv(tmp, index=False)
    tmp.replace(out)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()}


def _duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes = seconds / 60
    return f"{minutes:.0f}m" if minutes < 100 else f"{minutes / 60:.1f}h"


def _binary(value: float) -> str:
    return f"{value / 2**20:.0f}M" if value < 2**30 else f"{value / 2**30:.1f}G"


def _decimal(value: float) -> str:
    return f"{value / 1e6:.0f}MB" if value < 1e9 else f"{value / 1e9:.1f}GB"


def _print(table: Any, workflow: str, pairs: float, read_length: float,
           reference_bases: float, cores: int, quality: str, fitted: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=(f"{workflow}: {pairs:,.0f} pairs of {read_length:g} bp on a "
                       f"{reference_bases / 1e9:g} Gb reference, {cores} cores"),
                title_justify="left")
    columns = [("step", None), ("threads", None), ("CPU", _duration), ("wall", _duration),
               ("peak RSS", _binary), ("read", _decimal), ("written", _decimal)]
    figures = {"CPU": "cpu_time_s", "wall": "wall_s", "peak RSS": "peak_rss_bytes",
               "read": "read_bytes", "written": "write_bytes"}
    for i, (name, _) in enumerate(columns):
        out.add_column(name + (" (p90)" if i >= 2 else ""),
                       justify="left" if i == 0 else "right", no_wrap=True)
    marked = False
    for row in table.to_dict("records"):
        mark = "*" if row["extrapolated"] else ""
        marked |= bool(mark)
        cells = [str(row["step"]), str(row["threads"])]
        for name, fmt in columns[2:]:
            column = figures[name]
            value, p90 = float(row[column]), float(row[f"{column}_p90"])
            cells.append(f"{fmt(value)}{mark} ({fmt(p90)})"  # type: ignore[misc]
                         if math.isfinite(value) else "")
        out.add_row(*cells)
    console = Console(highlight=False)
    if not console.is_terminal:  # a file or a pipe: the whole table, unwrapped
        console = Console(highlight=False, width=160)
    console.print(out)
    console.print(f"read quality: {quality}")
    if marked:
        spans = [step["ranges"] for step in fitted["steps"].values()]
        ranges = {k: [min(r[k][0] for r in spans), max(r[k][1] for r in spans)]
                  for k in spans[0]}
        console.print("* outside what the corpus measured ("
                      + ", ".join(f"{k} {_span(v)}" for k, v in ranges.items())
                      + "): carried by the work laws (column extrapolated of --out)")
    for row in table.to_dict("records"):
        if row.get("note") and row["step"] != "(workflow)":
            console.print(f"{row['step']}: {row['note']}")


def _span(values: list[float]) -> str:
    def short(v: float) -> str:
        for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if v >= size:
                return f"{v / size:g}{unit}"
        return f"{v:g}"
    return f"{short(values[0])}-{short(values[1])}"
