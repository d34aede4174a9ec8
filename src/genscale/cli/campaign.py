"""`genscale campaign SPEC`: run a design of experiments, resumably; export its corpus."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import click

from genscale.cli.display import progress, stderr
from genscale.engine.campaign import PointOutcome, design, load_campaign, run_campaign
from genscale.errors import UserError
from genscale.store.corpus import QUIET_BACKGROUND_CORES, done_points, export_corpus


def _point(outcome: PointOutcome) -> None:
    progress(outcome.status, f"{outcome.point.point_id}  {outcome.wall_s:.0f} s")


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="campaign directory (default: runs/campaign-NAME)")
@click.option("--limit", type=click.IntRange(min=1),
              help="run at most this many of the points left")
@click.option("--only", "only", multiple=True,
              help="run only the points whose id matches this shell pattern (repeatable), "
                   "such as 'dnaseq-g1G-*': the others wait for a later invocation")
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="instead of running: write the corpus of the points done to this "
                   "directory (its tables; the datasheet is written by hand)")
@click.option("--base-corpus", type=click.Path(path_type=Path),
              help="a corpus exported earlier from this spec (such as the committed one): "
                   "its points that succeeded on a quiet machine are not run again, and "
                   "--export carries over its rows of every point this directory lacks")
@click.option("--max-background", type=float, default=QUIET_BACKGROUND_CORES,
              show_default=True,
              help="with --base-corpus: a run whose machine spent more cores than this on "
                   "other work is not quiet, and runs again")
def campaign(spec: Path, out: Path | None, limit: int | None, only: tuple[str, ...],
             export_dir: Path | None, base_corpus: Path | None, max_background: float) -> None:
    """Run every point of campaign SPEC not yet done; run it again to resume.

    \b
    Example:
      genscale campaign campaigns/corpus-v1.yaml --out runs/campaign-corpus-v1 --limit 10
    """
    parsed = load_campaign(spec)
    out = out or Path("runs") / f"campaign-{parsed.name}"
    if export_dir is not None:
        summary = export_corpus(out, export_dir, base=base_corpus)
        stderr.print(summary)
        click.echo(str(export_dir))
        return
    points = design(parsed)
    skip: set[str] = set()
    done = ""
    if base_corpus is not None:
        skip = done_points(base_corpus, max_background)
        done = f", {len(skip & {p.point_id for p in points})} done in {base_corpus}"
    if only:
        chosen = {p.point_id for p in points
                  if any(fnmatch.fnmatchcase(p.point_id, pattern) for pattern in only)}
        if not chosen:
            raise UserError(f"--only {' '.join(only)}: matches no point of {parsed.name}")
        skip |= {p.point_id for p in points} - chosen
        done += f", {len(chosen)} chosen by --only"
    stderr.print(f"{parsed.name}: {len(points)} points{done}; directory {out}")
    outcomes = run_campaign(spec, out, on_point=_point, limit=limit, skip=skip)
    failed = sum(o.status == "failed" for o in outcomes)
    stderr.print(f"{len(outcomes)} points run this time, {failed} failed")
    click.echo(str(out))
    if outcomes and outcomes[-1].status == "interrupted":
        sys.exit(130)
