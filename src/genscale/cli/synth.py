"""`genscale synth trace`: a platform's workload as a trace, drawn from the work laws."""

from __future__ import annotations

import time
from pathlib import Path

import click

from genscale.cli.display import stderr
from genscale.errors import UserError


@click.group()
def synth() -> None:
    """Synthetic workloads at the scale of a platform."""


@synth.command()
@click.option("--workflows", "count", type=click.IntRange(1, 100_000_000), required=True,
              help="workflows to draw")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="trace directory to write (must not exist)")
@click.option("--mix", type=click.Path(path_type=Path),
              help="mix file: workflows, shares, input sizes, quality, arrivals "
                   "(default: GDC's, see docs/simulation.md)")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=1, show_default=True,
              help="same seed and mix, same files")
@click.option("--format", "formats", default="parquet", show_default=True,
              help="comma-separated: parquet (always written), wfformat, alibaba, swf")
@click.option("--series-points", type=click.IntRange(0, 10_000), default=10,
              show_default=True,
              help="samples of each task's CPU and memory over its run (series.parquet; "
                   "0: none)")
@click.option("--model", "model_file", type=click.Path(path_type=Path),
              help="a scaling model file (default: the packaged production-v1 model)")
def trace(count: int, out: Path, mix: Path | None, seed: int, formats: str,
          series_points: int, model_file: Path | None) -> None:
    """Draw COUNT workflows' tasks (demands from the measured work laws, quality and the
    tail from the models) into OUT: workflows.parquet, tasks.parquet, series.parquet,
    trace.json.

    \b
    Example:
      genscale synth trace --workflows 1000 --out trace1k --format parquet,wfformat
    """
    from genscale.model import scaling
    from genscale.sim.generate import generate
    from genscale.sim.mix import load_mix
    from genscale.sim.tracefiles import write_trace

    chosen = tuple(dict.fromkeys(f.strip() for f in formats.split(",") if f.strip()))
    if not chosen:
        raise UserError("--format: give at least one format, such as parquet")
    loaded = load_mix(mix)
    model_file = model_file or scaling.PACKAGED
    model = scaling.load(model_file)
    began = time.perf_counter()
    from genscale.model.projection import step_plans

    steps = [p.shape.step for w in loaded.workflows for p in step_plans(w.workflow)]
    counts = write_trace(out, generate(loaded, count, seed, model), chosen, {
        "generator": "genscale synth trace", "seed": seed, "model": model_file.name,
        "mix": loaded.model_dump(mode="json"), "series_points": series_points}, loaded.node,
        steps, model.get("shapes") or {}, series_points)
    taken = time.perf_counter() - began
    stderr.print(f"{counts['workflows']:,} workflows, {counts['tasks']:,} tasks, "
                 f"{counts['series']:,} series samples in "
                 f"{taken:.1f} s ({counts['tasks'] / max(taken, 1e-9):,.0f} tasks/s)")
    click.echo(str(out))
