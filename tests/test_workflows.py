"""Whole workflows with the real Debian tools on small synthetic data."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.engine.runner import RunSettings, run_workflow
from genscale.report.summary import build_report
from genscale.store.rundir import RunDirectory


@pytest.mark.slow
def test_dnaseq_end_to_end(dna_dataset: Dataset, dnaseq_run: RunDirectory) -> None:
    run = dnaseq_run
    runs = run.path.parent
    tasks = run.tasks().set_index("task_id")
    info = run.read_run_info()
    # both halves of bwa mem | samtools view are in the task
    assert tasks.loc["bwa_mem", "max_procs"] >= 2
    assert tasks.loc["bwa_mem", "max_threads"] >= 3  # bwa's two workers and samtools
    gatk = {"base_recalibrator", "apply_bqsr"}
    if "gatk" not in info["tool_versions"]:
        assert gatk <= set(info["skipped"]) and all("gatk not found" in info["skipped"][t]
                                                    for t in gatk)
    assert {"bwa", "samtools", "picard", "fastqc", "trimmomatic", "bcftools"} <= set(
        info["tool_versions"])
    assert (run.path / "work" / "metrics" / "markdup.txt").read_text().count(
        "## METRICS CLASS") == 1
    # plots and the HTML report
    page = build_report(run.path)
    assert page.is_file() and "bwa_mem" in page.read_text()
    for name in ("cpu", "memory", "io_read", "io_write"):
        assert (run.path / "plots" / f"{name}.png").stat().st_size > 10_000
    # a second run reuses the index steps from the cache, and still passes the contract
    second = run_workflow("dnaseq", dna_dataset.path, RunSettings(runs_dir=runs,
                                                                  interval_s=0.2))
    assert second.outcome.ok
    again = RunDirectory(second.run_dir).tasks().set_index("task_id")
    for step in ("faidx", "bwa_index", "sequence_dictionary"):
        assert again.loc[step, "status"] == "skipped"
        assert second.outcome.skip_reasons[step].startswith("cached")
    assert again.loc["bwa_mem", "status"] == "succeeded"
    # one step alone, on inputs materialised by its upstream steps, twice: the same outputs
    # as inside the whole workflow
    alone = run_workflow("dnaseq", dna_dataset.path, RunSettings(
        runs_dir=runs, interval_s=0.2, only="flagstat", repeat=2))
    assert alone.outcome.ok
    tasks = RunDirectory(alone.run_dir).tasks().set_index("task_id")
    assert list(tasks.loc[["flagstat.r1", "flagstat.r2"], "status"]) == ["succeeded"] * 2
    assert "fastqc_1" not in tasks.index  # not upstream of flagstat
    whole = (run.path / "work" / "metrics" / "flagstat.txt").read_text()
    assert (alone.run_dir / "work" / "metrics" / "flagstat.txt").read_text() == whole
    records = [subprocess.run(["samtools", "view", str(d / "work" / "align" / "markdup.bam")],
                              capture_output=True, check=True).stdout
               for d in (run.path, alone.run_dir)]
    assert records[0] == records[1] and records[0]
    # materialising again is all cache hits
    again_alone = run_workflow("dnaseq", dna_dataset.path, RunSettings(
        runs_dir=runs, interval_s=0.2, only="flagstat", repeat=0))
    assert set(again_alone.outcome.status.values()) == {"skipped"}


@pytest.mark.slow
def test_rnaseq_end_to_end(rnaseq_run: RunDirectory) -> None:
    run = rnaseq_run
    log = (run.path / "work" / "star" / "Log.final.out").read_text()
    splices = int(next(line.split("|")[1] for line in log.splitlines()
                       if "Number of splices: Total" in line))
    assert splices > 1000  # the reads come from spliced transcripts
    counts = (run.path / "work" / "star" / "ReadsPerGene.out.tab").read_text().splitlines()
    assert sum(1 for line in counts if line.startswith("G")) > 10


def test_synth_is_deterministic(tmp_path: Path) -> None:
    options = SynthOptions(kind="rna", genome_bases=100_000, pairs=2_000, seed=11)
    a = synthesize(options, tmp_path / "a")
    b = synthesize(options, tmp_path / "b")
    assert {k: v["sha256"] for k, v in a.files.items()} == \
           {k: v["sha256"] for k, v in b.files.items()}
    c = synthesize(SynthOptions(kind="rna", genome_bases=100_000, pairs=2_000, seed=12),
                   tmp_path / "c")
    assert a.files["reads_1"]["sha256"] != c.files["reads_1"]["sha256"]
    gtf = (tmp_path / "a" / "annotation.gtf").read_text().splitlines()
    exons_per_tx: dict[str, int] = {}
    for line in gtf:
        fields = line.split("\t")
        if fields[2] == "exon":
            tx = fields[8].split('transcript_id "')[1].split('"')[0]
            exons_per_tx[tx] = exons_per_tx.get(tx, 0) + 1
    assert min(exons_per_tx.values()) >= 2  # multi-exon genes
    manifest = Dataset.load(tmp_path / "a")
    digest = hashlib.sha256((tmp_path / "a" / "reads_1.fq.gz").read_bytes()).hexdigest()
    assert manifest.files["reads_1"]["sha256"] == digest
    assert 1_800 <= manifest.info["stats"]["pairs"] <= 2_200
