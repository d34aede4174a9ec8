"""The features table: one row per sample, wide and flat, columns named `source.metric`.

A row comes from a run directory (the FASTQ features of its dataset's reads, plus every QC
report its steps wrote) or from a dataset directory alone (the pre-run features only). The
keys `run_id`, `workflow_id` and `sample` join it to tasks.csv.

Sources: `fastq_1`, `fastq_2` (reads, before anything runs), `fastqc_1`, `fastqc_2`,
`trimmomatic`, `cutadapt`, `fastp`, `picard.<MetricsClass>`, `samtools_stats`,
`samtools_markdup`, `samtools_coverage`, `idxstats`, `bcftools_stats`, `flagstat`, `star`,
`gatk` (BaseRecalibrator), `gatk_depth` (DepthOfCoverage), `mosdepth`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.quality.detect import parse_report
from genscale.quality.errors import ReportError
from genscale.quality.fastq import fastq_features

SOURCE_OF = {"samtools-stats": "samtools_stats", "samtools-flagstat": "flagstat",
             "bcftools-stats": "bcftools_stats", "samtools-markdup": "samtools_markdup",
             "samtools-idxstats": "idxstats", "star": "star", "trimmomatic": "trimmomatic",
             "cutadapt": "cutadapt", "fastp": "fastp", "gatk-report": "gatk",
             "gatk-depthofcoverage": "gatk_depth", "samtools-coverage": "samtools_coverage",
             "mosdepth": "mosdepth"}


def _numeric(source: str, metrics: dict[str, Any]) -> dict[str, float | int]:
    return {f"{source}.{k}": v for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _source(report: dict[str, Any], path: Path) -> str:
    if report["format"] == "fastqc":
        return path.parent.name if path.parent.name.startswith("fastqc") else "fastqc"
    if report["format"] == "picard":
        return f"picard.{report['type']}"  # the class's Picard 2.x name, whatever wrote it
    return SOURCE_OF.get(report["format"], report["format"])


def dataset_features(dataset: Dataset) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for mate in ("reads_1", "reads_2"):
        if mate in dataset.files:
            features = fastq_features(dataset.file(mate))
            row.update(_numeric(f"fastq_{mate[-1]}", features["metrics"]))
    row["input_bytes"] = dataset.input_bytes
    row.update(reference_features(dataset))
    return row


def reference_features(dataset: Dataset) -> dict[str, float]:
    """What is known of the dataset's reference before a run: `reference.bases`, its length
    (where the manifest counted it), and for a synthetic reference of the human repeat
    model its repeat knobs (`reference.sine_fraction`, ..., `data.genome.RepeatModel`)."""
    row: dict[str, float] = {}
    if dataset.genome_bases is not None:
        row["reference.bases"] = float(dataset.genome_bases)
    made = dataset.info.get("reference") or {}
    if made.get("model") == "human":
        row.update({f"reference.{k}": float(v) for k, v in made.items()
                    if k.endswith(("_fraction", "_divergence")) and isinstance(v, int | float)})
    return row


def run_features(run_dir: Path) -> dict[str, Any]:
    info = json.loads((run_dir / "run.json").read_text())
    row: dict[str, Any] = {"run_id": info["run_id"],
                           "workflow": info.get("workflow", {}).get("name")}
    tasks = run_dir / "tasks.csv"
    if tasks.is_file():
        ids = pd.read_csv(tasks, usecols=["workflow_id"])["workflow_id"].unique()
        row["workflow_id"] = ids[0] if len(ids) == 1 else None
    dataset = info.get("dataset") or {}
    if dataset.get("path") and Path(dataset["path"]).is_dir():
        row["sample"] = Path(dataset["path"]).name
        row.update(dataset_features(Dataset.load(Path(dataset["path"]))))
    work = run_dir / "work"
    candidates = sorted([*work.glob("qc/*/*_fastqc.zip"), *work.glob("metrics/*.txt"),
                         *work.glob("star/Log.final.out"), run_dir / "logs" / "trim.err"])
    seen: dict[str, int] = {}
    for path in candidates:
        if not path.is_file():
            continue
        try:
            report = parse_report(path)
        except ReportError:
            continue  # a file that is not a report (a step's plain output)
        source = _source(report, path)
        # a second report of one kind (both reads' trimming reports, two MarkDuplicates
        # files) gets its own columns, `source_2`, in the files' name order
        seen[source] = seen.get(source, 0) + 1
        if seen[source] > 1:
            source = f"{source}_{seen[source]}"
        row.update(_numeric(source, report.get("metrics", {})))
    return row


def features_table(dirs: list[Path]) -> pd.DataFrame:
    rows = []
    for d in dirs:
        if (d / "run.json").is_file():
            rows.append(run_features(d))
        elif (d / "manifest.json").is_file():
            rows.append({"sample": d.resolve().name, **dataset_features(Dataset.load(d))})
        else:
            raise UserError(f"{d}: neither a run directory (run.json) nor a dataset "
                            "(manifest.json)")
    frame = pd.DataFrame(rows)
    keys = [k for k in ("run_id", "workflow_id", "workflow", "sample") if k in frame]
    return frame[keys + sorted(c for c in frame.columns if c not in keys)]
