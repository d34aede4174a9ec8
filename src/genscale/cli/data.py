"""`genscale data`: make datasets."""

from __future__ import annotations

from pathlib import Path

import click

from genscale.cli.display import stderr
from genscale.cli.options import build, dataclass_options
from genscale.data.importer import ImportRequest, import_dataset
from genscale.data.manifest import Dataset
from genscale.data.subsample import subsample as subsample_dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.engine.runner import RunSettings, run_workflow
from genscale.errors import UserError
from genscale.workflow.loader import load_workflow
from genscale.workflow.plan import make_plan


@click.group()
def data() -> None:
    """Make and describe datasets."""


@data.command()
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="new dataset directory")
@dataclass_options(SynthOptions)
def synth(out: Path, **knobs: object) -> None:
    """A synthetic reference and paired reads (and a GTF for --kind rna).

    \b
    Example:
      genscale data synth --kind dna --pairs 200000 --preset typical --out demo/data
    """
    dataset = synthesize(build(SynthOptions, knobs), out)
    stats = dataset.info["stats"]
    stderr.print(f"{dataset.kind} dataset: {stats['pairs']:,} pairs of {stats['read_length']} bp"
                 f" on a {stats['genome_bases']:,} bp reference")
    click.echo(str(dataset.path))


@data.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--fraction", type=float, required=True, help="share of read pairs to keep")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="new dataset directory")
@click.option("--seed", type=int, default=1, show_default=True, help="random seed")
def subsample(dataset: Path, fraction: float, out: Path, seed: int) -> None:
    """Keep a random FRACTION of DATASET's read pairs, mates together.

    \b
    Example:
      genscale data subsample demo/data --fraction 0.1 --out demo/data-10pc
    """
    result = subsample_dataset(dataset, fraction, out, seed)
    before = result.info["subsampled_from"]["pairs_before"]
    stderr.print(f"kept {result.info['stats']['pairs']:,} of {before:,} pairs")
    click.echo(str(result.path))


@data.command()
@click.argument("workflow")
@click.argument("step")
@click.option("--dataset", type=click.Path(path_type=Path), required=True,
              help="dataset directory")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True, help="where the run directory and the cache go")
def materialize(workflow: str, step: str, dataset: Path, runs_dir: Path) -> None:
    """Make exactly the inputs STEP of WORKFLOW needs, by running its upstream steps once
    (cached by content: a second call is instant). Prints STEP's inputs.

    \b
    Example:
      genscale data materialize dnaseq mark_duplicates --dataset demo/data
    """
    result = run_workflow(workflow, dataset, RunSettings(runs_dir=runs_dir, only=step,
                                                         repeat=0))
    if not result.outcome.ok:
        failed = ", ".join(f.task_id for f in result.outcome.failures) or "interrupted"
        raise UserError(f"materialize {step}: upstream steps did not finish ({failed}); "
                        f"see {result.run_dir}")
    spec, source = load_workflow(workflow)
    full = make_plan(spec, source, Dataset.load(dataset), result.run_dir / "work")
    target = next(t for t in full.tasks if t.step == step)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.outcome.counts().items()))
    stderr.print(f"upstream of {step}: {counts or 'nothing to run'}; its inputs:")
    for name, path in target.inputs.items():
        click.echo(f"{name}\t{path.resolve()}")


@data.command(name="import")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="new dataset directory")
@click.option("--reference", type=click.Path(path_type=Path), help="reference FASTA")
@click.option("--reads", type=click.Path(path_type=Path), multiple=True,
              help="FASTQ, gzipped or not: once for single-end, twice for paired")
@click.option("--bam", type=click.Path(path_type=Path), help="reads as BAM (unaligned or not)")
@click.option("--annotation", type=click.Path(path_type=Path), help="GTF (for rnaseq)")
@click.option("--known-sites", type=click.Path(path_type=Path),
              help="bgzipped VCF of known variants (for base recalibration)")
@click.option("--sra", help="fetch the reads of this SRA run with sra-toolkit (online only)")
@click.option("--copy", is_flag=True, help="copy the files instead of linking them")
def import_(out: Path, reference: Path | None, reads: tuple[Path, ...], bam: Path | None,
            annotation: Path | None, known_sites: Path | None, sra: str | None,
            copy: bool) -> None:
    """Validate real data and describe it with a dataset manifest.

    \b
    Example:
      genscale data import --out data/hg002 --reference ref.fa --reads r1.fq.gz --reads r2.fq.gz
    """
    dataset = import_dataset(ImportRequest(out, reference, list(reads), bam, annotation,
                                           known_sites, sra, copy))
    stats = dataset.info["stats"]
    count = stats.get("pairs") or stats.get("reads")
    stderr.print(f"{dataset.kind} dataset: {count:,} {'pairs' if 'pairs' in stats else 'reads'}"
                 f" of up to {stats['read_length']} bp; {stats['genome_bases']:,} bp reference")
    click.echo(str(dataset.path))
