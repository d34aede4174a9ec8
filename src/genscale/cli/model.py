"""`genscale model`: the model dataset, and training, predicting and evaluating bundles."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import click

from genscale.cli.display import stderr
from genscale.cli.options import build, dataclass_options
from genscale.errors import UserError
from genscale.model.options import FitOptions

# scikit-learn is imported by the commands that need it, not by every genscale command (the
# monitor on a SLURM node starts once per task)


def _columns(text: str | None, available: Iterable[object] = ()) -> list[str] | None:
    """A comma-separated list; None when the flag was not given ('' is the empty list). A
    column of `available` whose name holds commas (STAR's `Mismatch rate per base, %`) is
    one item: the longest run of parts that names a column is taken whole."""
    if text is None:
        return None
    names = {str(c) for c in available}
    parts = text.split(",")
    out = []
    i = 0
    while i < len(parts):
        j = next((j for j in range(len(parts), i + 1, -1)
                  if ",".join(parts[i:j]).strip() in names), i + 1)
        name = ",".join(parts[i:j]).strip()
        if name:
            out.append(name)
        i = j
    return out


@click.group()
def model() -> None:
    """Execution-time models: build the table, train, predict, evaluate."""


@model.command(name="dataset")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="table to write (.csv or .parquet)")
@click.option("--post-step", is_flag=True,
              help="add the QC reports of upstream steps (each only on rows of tasks that "
                   "started after it ended)")
def dataset_(corpus: Path, out: Path, post_step: bool) -> None:
    """The model table of a corpus: every task and every whole workflow, with the features
    known before it ran.

    \b
    Example:
      genscale model dataset datasets/corpus-v1 --out table.parquet
    """
    from genscale.model.bundle import write_table
    from genscale.model.dataset import model_table

    table = model_table(corpus, post_step)
    write_table(table, out)
    stderr.print(f"{len(table)} rows, {len(table.columns)} columns")
    click.echo(str(out))


@model.command()
@click.option("--table", type=click.Path(path_type=Path), required=True,
              help="training table, CSV or Parquet")
@click.option("--target", required=True, help="column to predict, e.g. wall_s")
@click.option("--features", help="comma-separated feature columns (default: the pre-run "
                                 "features of our tables, else every numeric column)")
@click.option("--by", help="fit one model per group of these columns (default: "
                           "workflow,step when the table has them; '' for one model)")
@click.option("--group", help="rows sharing this column's value are never split between "
                              "train and test (default: dataset_id, else run_id)")
@click.option("--size", help="the size feature the scaling law uses (default: the first of "
                             "read_bases, dataset_input_bytes, input_bytes)")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="bundle directory to write")
@click.option("--pickle", "plain_pickle", is_flag=True,
              help="also write model.pkl, a plain pickle (load only what you trust)")
@click.option("--where", help="train on the rows matching this pandas query, e.g. "
                              "'background_cores < 0.1'")
@click.option("--no-evaluate", is_flag=True, help="skip cross-validation and extrapolation")
@click.option("--pilot", is_flag=True, help="add the pilot features (pilot.*) to the default "
                                            "features: predict --dataset then runs a pilot")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="fit this many groups at once, one process each (the bundle is the same)")
@dataclass_options(FitOptions)
def train(table: Path, target: str, features: str | None, by: str | None,
          group: str | None, size: str | None, out: Path, plain_pickle: bool,
          where: str | None, no_evaluate: bool, pilot: bool, jobs: int,
          **options: object) -> None:
    """Train a bundle on TABLE; its held-out metrics go to model.json and the screen.

    \b
    Example:
      genscale model train --table table.parquet --target wall_s --out my-model
    """
    from genscale.model import bundle

    frame = bundle.select(bundle.read_table(table), where)
    spec = bundle.default_spec(frame, target, _columns(features, frame.columns),
                               _columns(by, frame.columns), group, size,
                               pilot)
    stderr.print(f"size for the scaling law: {spec.size_reason}", markup=False)
    groups, meta = bundle.train(frame, spec, build(FitOptions, options),
                                evaluate=not no_evaluate, jobs=jobs)
    meta["where"] = where
    bundle.save(out, groups, meta, plain_pickle)
    for key, result in meta["metrics"].items():
        cv = result.get("cross_validation")
        if cv:
            stderr.print(f"{key:<40} R² model {cv['model']['r2']:6.3f}  line "
                         f"{cv['line']['r2']:6.3f}  median {cv['median']['r2']:6.3f}  "
                         f"MdAPE {cv['model']['mdape']:5.1f}%", markup=False)
    stderr.print(f"{len(groups)} models on {len(spec.features)} features; bundle:")
    click.echo(str(out))


@model.command()
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--table", type=click.Path(path_type=Path), help="rows to predict")
@click.option("--dataset", type=click.Path(path_type=Path),
              help="a dataset that has not run: every step and the whole workflow")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="table to write (.csv or .parquet)")
def predict(bundle_dir: Path, table: Path | None, dataset: Path | None, out: Path) -> None:
    """Write the rows plus predicted_<target>, its p50/p90/p99 and the tail call, and
    `extrapolated`: the row's features outside the training ranges (each also warned of
    on stderr, with how many rows).

    \b
    Example:
      genscale model predict models/corpus-v1-wall_s --dataset demo/data --out predicted.csv
    """
    from genscale import forecast
    from genscale.model import bundle
    from genscale.model.ranges import EXTRAPOLATED, outside_training

    if (table is None) == (dataset is None):
        raise UserError("give exactly one of --table FILE or --dataset DIR")
    groups, meta = bundle.load(bundle_dir)
    rows = (bundle.read_table(table) if table is not None
            else forecast.dataset_rows(dataset, meta))  # type: ignore[arg-type]
    predicted = bundle.predict(groups, meta, rows)
    flags, outside = outside_training(meta, rows)
    predicted[EXTRAPOLATED] = flags
    bundle.write_table(predicted, out)
    for found in outside:
        click.echo(f"genscale: warning: {found.message()}", err=True)
    column = f"predicted_{meta['target']}"
    stderr.print(f"{int(predicted[column].notna().sum())} of {len(predicted)} rows predicted"
                 + (f"; {int((flags != '').sum())} outside the training ranges (column "
                    f"{EXTRAPOLATED})" if outside else ""))
    click.echo(str(out))


@model.command()
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--table", type=click.Path(path_type=Path), required=True,
              help="held-out rows with the target measured")
def evaluate(bundle_dir: Path, table: Path) -> None:
    """Print the bundle's metrics on TABLE as JSON (model and baselines, per group).

    \b
    Example:
      genscale model evaluate models/corpus-v1-wall_s --table held-out.parquet
    """
    from genscale.model import bundle

    groups, meta = bundle.load(bundle_dir)
    click.echo(json.dumps(bundle.evaluate(groups, meta, bundle.read_table(table)), indent=2))


@model.command()
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--group", "only", multiple=True,
              help="only this group, such as 'dnaseq | bwa_mem' (repeatable; default: all)")
def show(bundle_dir: Path, only: tuple[str, ...]) -> None:
    """Print the bundle's held-out metrics (from its model.json) as Markdown tables.

    \b
    Example:
      genscale model show models/corpus-v1-wall_s --group 'dnaseq | bwa_mem'
    """
    from genscale.model.bundle import load_meta
    from genscale.report.model_metrics import metrics_markdown

    meta = load_meta(bundle_dir)
    unknown = set(only) - set(meta["metrics"])
    if unknown:
        raise UserError(f"{bundle_dir}: no group {sorted(unknown)[0]!r}; it has "
                        f"{', '.join(sorted(meta['metrics']))}")
    click.echo(metrics_markdown(meta, (lambda k: k in only) if only else (lambda _: True)),
               nl=False)


@model.command()
@click.argument("corpora", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="scaling model file to write (.json)")
@click.option("--quality-model", type=click.Path(path_type=Path),
              help="a wall_s bundle by workflow,step whose predictions give each preset's "
                   "quality factors")
@click.option("--quality-corpus", type=click.Path(path_type=Path),
              help="the corpus that bundle was trained on (its presets' reads)")
def scaling(corpora: tuple[Path, ...], out: Path, quality_model: Path | None,
            quality_corpus: Path | None) -> None:
    """Fit the work laws of every workflow in the CORPORA, each from the first corpus that
    ran it (`genscale project` reads them): per step, CPU time, peak memory and I/O across
    reference length, read length, read count and threads, and its parallel fraction.
    Prints each step's chosen terms and held-out error.

    \b
    Example:
      genscale model scaling datasets/production-v1 datasets/corpus-v1 \\
          --out my.scaling.json --quality-model models/corpus-v1-wall_s \\
          --quality-corpus datasets/corpus-v1
    """
    from genscale.model import scaling as laws

    if (quality_model is None) != (quality_corpus is None):
        raise UserError("give --quality-model and --quality-corpus together")
    fitted = laws.fit_file(list(corpora), quality_model, quality_corpus)
    laws.save(fitted, out)
    for workflow, part in fitted["workflows"].items():
        for step, state in part["steps"].items():
            for name, demand in state["demands"].items():
                stderr.print(f"{workflow:<8} {step:<26} {name:<15} "
                             f"{' + '.join(demand['terms']):<34} held-out median error "
                             f"{100 * demand['held_out_median_error']:5.1f}%", markup=False)
    click.echo(str(out))
