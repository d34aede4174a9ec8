"""QC reports written by the real tools in these tests parse to known values; FASTQ features
agree with FastQC on the same file."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.quality import picard
from genscale.quality.detect import parse_report
from genscale.quality.errors import ReportError
from genscale.quality.fastq import fastq_features
from genscale.quality.numbers import number
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, write


def report(path: Path) -> dict[str, Any]:
    return parse_report(path)


def trimmed_pairs(run: RunDirectory) -> int:
    log = report(run.path / "logs" / "trim.err")
    assert log["format"] == "trimmomatic"
    return int(log["metrics"]["Both Surviving"])


def test_dnaseq_reports_parse_to_known_values(dnaseq_run: RunDirectory,
                                              dna_dataset: Dataset, tmp_path: Path) -> None:
    work = dnaseq_run.path / "work"
    pairs = dna_dataset.info["stats"]["pairs"]
    trim = report(dnaseq_run.path / "logs" / "trim.err")["metrics"]
    assert trim["Input Read Pairs"] == pairs
    surviving = trimmed_pairs(dnaseq_run)

    fastqc = report(next((work / "qc" / "fastqc_1").glob("*_fastqc.zip")))
    assert fastqc["format"] == "fastqc" and fastqc["metrics"]["Total Sequences"] == pairs
    assert len(fastqc["status"]) >= 10 and set(fastqc["status"].values()) <= {
        "pass", "warn", "fail"}
    assert isinstance(fastqc["metrics"]["%GC"], int)
    with zipfile.ZipFile(next((work / "qc" / "fastqc_1").glob("*_fastqc.zip"))) as z:
        name = next(n for n in z.namelist() if n.endswith("fastqc_data.txt"))
        plain = write(tmp_path / "fastqc_data.txt", z.read(name).decode())
    assert report(plain)["metrics"] == fastqc["metrics"]

    flagstat = report(work / "metrics" / "flagstat.txt")["metrics"]
    assert flagstat["in total"] == 2 * surviving
    stats = report(work / "metrics" / "samtools_stats.txt")["metrics"]
    assert stats["raw total sequences"] == flagstat["primary"]

    dup = report(work / "metrics" / "markdup.txt")
    assert dup["type"] == "DuplicationMetrics"
    assert 0.98 * surviving <= dup["metrics"]["READ_PAIRS_EXAMINED"] <= surviving
    assert isinstance(picard.typed(dup)["PERCENT_DUPLICATION"], float)
    insert = report(work / "metrics" / "insert_size.txt")
    assert insert["type"] == "InsertSizeMetrics"
    assert abs(insert["metrics"]["MEDIAN_INSERT_SIZE"] - 300) <= 10  # synth's insert mean
    assert insert["histogram"]["rows"]
    summary = report(work / "metrics" / "alignment_summary.txt")
    assert summary["metrics"]["CATEGORY"] == "PAIR"
    assert summary["metrics"]["TOTAL_READS"] == 2 * surviving
    wgs = report(work / "metrics" / "wgs.txt")
    assert wgs["type"] == "WgsMetrics" and wgs["metrics"]["MEAN_COVERAGE"] > 5

    idx = write(tmp_path / "idxstats.txt", subprocess.run(
        ["samtools", "idxstats", str(work / "align" / "markdup.bam")], capture_output=True,
        text=True, check=True).stdout)
    assert report(idx)["metrics"]["mapped"] == flagstat["mapped"]

    fastp_json = tmp_path / "fastp.json"
    subprocess.run(["fastp", "-i", str(dna_dataset.file("reads_1")), "-I",
                    str(dna_dataset.file("reads_2")), "-j", str(fastp_json), "-h",
                    str(tmp_path / "fastp.html"), "-o", str(tmp_path / "o1.fq"), "-O",
                    str(tmp_path / "o2.fq")], check=True, capture_output=True)
    fastp = report(fastp_json)
    assert fastp["metrics"]["before_filtering.total_reads"] == 2 * pairs


def test_star_log_parses_to_known_values(rnaseq_run: RunDirectory) -> None:
    star = report(rnaseq_run.path / "work" / "star" / "Log.final.out")
    assert star["format"] == "star"
    assert star["metrics"]["Number of input reads"] == trimmed_pairs(rnaseq_run)
    assert isinstance(star["metrics"]["Uniquely mapped reads %"], float)


GATK_TABLE = """#:GATKReport.v1.1:2
#:GATKTable:2:1:%s:%s:;
#:GATKTable:Arguments:Recalibration argument collection values used in this run
Argument  Value
covariate ReadGroupCovariate,QualityScoreCovariate

#:GATKTable:6:1:%s:%s:%.4f:%.4f:%d:%.2f:;
#:GATKTable:RecalTable0:
ReadGroup  EventType  EmpiricalQuality  EstimatedQReported  Observations  Errors
sample     M          31.0000           34.2116             19992318      15743.00

"""


def test_gatk_recalibration_table(tmp_path: Path) -> None:
    # GATK 4 is not packaged in Debian: this is the GATKReport v1.1 layout as documented
    parsed = report(write(tmp_path / "recal.table", GATK_TABLE))
    assert parsed["format"] == "gatk-report"
    assert parsed["metrics"] == {"EmpiricalQuality": 31.0, "EstimatedQReported": 34.2116,
                                 "Observations": 19992318, "Errors": 15743.0}
    truncated = GATK_TABLE.replace("sample     M", "")
    with pytest.raises(ReportError, match="truncated: table RecalTable0"):
        report(write(tmp_path / "cut.table", truncated.replace(
            "31.0000           34.2116             19992318      15743.00\n", "")))


def test_versions_and_locales_read_the_same(dnaseq_run: RunDirectory, tmp_path: Path) -> None:
    original = (dnaseq_run.path / "work" / "metrics" / "insert_size.txt").read_text()
    expected = report(dnaseq_run.path / "work" / "metrics" / "insert_size.txt")
    # a decimal-comma locale, and Picard 1.x's class package
    comma = re.sub(r"(\d)\.(\d)", r"\1,\2", original)
    old = original.replace("picard.analysis.InsertSizeMetrics",
                           "net.sf.picard.analysis.InsertSizeMetrics")
    for name, text in (("comma.txt", comma), ("old.txt", old)):
        parsed = report(write(tmp_path / name, text))
        assert parsed["type"] == "InsertSizeMetrics"
        assert parsed["metrics"] == expected["metrics"], name
    assert number("0,00045") == 0.00045 and number("1,234,567") == 1234567
    assert number("99.84%") == 99.84 and number("?") is None


def test_bad_files_one_line_each_and_the_rest_still_parsed(dnaseq_run: RunDirectory,
                                                           tmp_path: Path) -> None:
    good = dnaseq_run.path / "work" / "metrics" / "markdup.txt"
    lines = good.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("## METRICS CLASS"))
    truncated = write(tmp_path / "truncated.txt", "\n".join(lines[: at + 2]) + "\n")
    fastqc_cut = write(tmp_path / "fastqc_data.txt",
                       "##FastQC\t0.11.9\n>>Basic Statistics\tpass\n#Measure\tValue\n")
    corrupt = tmp_path / "broken_fastqc.zip"
    corrupt.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    unknown = write(tmp_path / "notes.txt", "just some words\n")
    proc = subprocess.run([GENSCALE, "quality", "--json", str(truncated), str(good),
                           str(fastqc_cut), str(corrupt), str(unknown)], capture_output=True,
                          text=True)
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 4, errors
    assert f"{truncated}: truncated: picard.sam.DuplicationMetrics has a header but no rows" \
        in errors[0]
    assert "truncated: module 'Basic Statistics' never ends" in errors[1]
    assert str(corrupt) in errors[2] and str(unknown) in errors[3]
    parsed = json.loads(proc.stdout)
    assert [p["format"] for p in parsed] == ["picard"]


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return synthesize(SynthOptions(genome_bases=300_000, pairs=40_000, seed=9,
                                   preset="degraded"), tmp_path_factory.mktemp("q") / "d")


def fastqc_modules(fastq: Path, out: Path) -> dict[str, Any]:
    out.mkdir()
    subprocess.run(["fastqc", "--nogroup", "--quiet", "--outdir", str(out), str(fastq)],
                   check=True)
    return report(next(out.glob("*_fastqc.zip")))


@pytest.mark.slow
def test_fastq_features_agree_with_fastqc(degraded: Dataset, tmp_path: Path) -> None:
    fastq = degraded.file("reads_1")
    ours = fastq_features(fastq)
    m = ours["metrics"]
    theirs = fastqc_modules(fastq, tmp_path / "qc")
    basic = theirs["metrics"]
    modules = theirs["modules"]
    # exact: counts and lengths
    assert m["reads"] == basic["Total Sequences"]
    assert f"{m['length_min']}-{m['length_max']}" == str(basic["Sequence length"]) or \
        m["length_min"] == m["length_max"] == basic["Sequence length"]
    # %GC: FastQC rounds to a whole percent
    assert abs(m["gc_percent"] - basic["%GC"]) <= 1
    # per-position mean quality: within 0.01 at every position
    per_base = modules["Per base sequence quality"]["rows"]
    fastqc_means = [row[1] for row in per_base]
    assert len(fastqc_means) == len(ours["per_position_quality"])
    worst = max(abs(a - b) for a, b in zip(fastqc_means, ours["per_position_quality"],
                                          strict=True))
    assert worst <= 0.01
    # N content per position: the highest, within 0.01 percentage points
    n_rows = modules["Per base N content"]["rows"]
    assert abs(max(r[1] for r in n_rows) - m["n_position_max_percent"]) <= 0.01
    # adapter content at the last position, within 0.5 percentage points
    adapters = modules["Adapter Content"]
    column = adapters["columns"].index("Illumina Universal Adapter")
    last = adapters["rows"][-1][column]
    assert abs(last - m["adapter_percent.Illumina Universal Adapter"]) <= 0.5
    assert last > 5  # the degraded preset has adapter read-through to find
    # duplication: FastQC's total deduplicated percentage, within 2 points
    assert abs(basic["Total Deduplicated Percentage"] - m["dedup_percent"]) <= 2


def test_trim_features_agree_with_trimmomatic(degraded: Dataset, tmp_path: Path) -> None:
    """The reads and bases Trimmomatic keeps with SLIDINGWINDOW:4:15 MINLEN:36 are the ones
    the features predict, exactly; the expected errors are those of the Phred scores."""
    import dnaio

    fastq = degraded.file("reads_1")
    m = fastq_features(fastq)["metrics"]
    out = tmp_path / "trimmed.fq"
    subprocess.run(["java", "-jar", "/usr/share/java/trimmomatic.jar", "SE", "-phred33",
                    "-quiet", str(fastq), str(out), "SLIDINGWINDOW:4:15", "MINLEN:36"],
                   check=True)
    with dnaio.open(out) as kept_reads:
        kept = [r.qualities for r in kept_reads]
    with dnaio.open(fastq) as all_reads:
        qualities = [r.qualities for r in all_reads]
    bases = sum(len(q) for q in qualities)
    assert 20 < m["q15_trim_surviving_percent"] < 100  # the preset has bad reads to drop
    assert round(100 * len(kept) / len(qualities), 4) == m["q15_trim_surviving_percent"]
    assert round(100 * sum(map(len, kept)) / bases, 4) == m["q15_trim_kept_bases_percent"]

    def errors(qs: list[str]) -> float:
        return sum(10 ** (-(ord(c) - 33) / 10) for q in qs for c in q)

    assert m["expected_error_percent"] == pytest.approx(100 * errors(qualities) / bases,
                                                        abs=1e-4)
    assert m["q15_trim_kept_error_percent"] == pytest.approx(
        100 * errors(kept) / sum(map(len, kept)), abs=1e-4)


def _window_trim_reference(q: list[int]) -> int:
    """Trimmomatic 0.39's SLIDINGWINDOW:4:15, one read at a time, as its manual and source
    describe it."""
    if len(q) < 4 or sum(q[:4]) < 60:
        return 0
    end = len(q)
    for start in range(1, len(q) - 3):
        if sum(q[start:start + 4]) < 60:
            end = start + 3
            break
    while end > 1 and q[end - 1] < 15:
        end -= 1
    return end


@given(st.lists(st.lists(st.tuples(st.integers(0, 41), st.booleans()), max_size=60),
                min_size=1, max_size=30), st.booleans())
def test_window_trim_matches_a_read_at_a_time(reads: list[list[tuple[int, bool]]],
                                              one_length: bool) -> None:
    """Each base: its score, and whether it is an N (quality 0 to Trimmomatic). Reads of
    one length take the 2-D path."""
    import numpy as np

    if one_length:
        reads = [r[: min(map(len, reads))] for r in reads]

    from genscale.quality.fastq import window_trim

    raw = np.array([q + 33 for read in reads for q, _ in read], dtype=np.uint8)
    is_n = np.array([n for read in reads for _, n in read], dtype=bool)
    lengths = np.array([len(r) for r in reads], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    expected = [_window_trim_reference([0 if n else q for q, n in r]) for r in reads]
    assert window_trim(raw, lengths, starts, is_n).tolist() == expected


def test_fastq_cli_and_bad_fastq(degraded: Dataset, tmp_path: Path) -> None:
    cut = tmp_path / "cut.fq.gz"
    data = degraded.file("reads_2").read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    proc = subprocess.run([GENSCALE, "quality", "fastq", "--json", str(degraded.file("reads_1")),
                           str(cut)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"genscale: error: {cut}: truncated gzip"
    parsed = json.loads(proc.stdout)
    assert parsed[0]["metrics"]["reads"] == degraded.info["stats"]["pairs"]


def test_features_table_joins_tasks(dnaseq_run: RunDirectory, dna_dataset: Dataset,
                                    tmp_path: Path) -> None:
    out = tmp_path / "features.csv"
    proc = subprocess.run([GENSCALE, "quality", "table", str(dnaseq_run.path),
                           str(dna_dataset.path), "--out", str(out)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    table = pd.read_csv(out)
    assert len(table) == 2  # the run, and the dataset alone (pre-run features only)
    run_row = table.iloc[0]
    assert run_row["fastq_1.reads"] == run_row["fastqc_1.Total Sequences"]
    assert "picard.DuplicationMetrics.PERCENT_DUPLICATION" in table.columns
    assert all("." in c for c in table.columns if c not in
               {"run_id", "workflow_id", "workflow", "sample", "input_bytes"})
    joined = dnaseq_run.tasks().merge(table.dropna(subset=["run_id"]),
                                      on=["run_id", "workflow_id"])
    assert len(joined) == len(dnaseq_run.tasks())
    assert table.iloc[1]["fastq_2.reads"] == dna_dataset.info["stats"]["pairs"]


@given(st.lists(st.text(alphabet="ACGTN", max_size=120), max_size=40),
       st.lists(st.tuples(st.integers(0, 39), st.integers(0, 4)), max_size=10))
def test_adapter_search_counts_like_bytes_count(reads: list[str],
                                                plants: list[tuple[int, int]]) -> None:
    from genscale.quality.fastq import ADAPTERS, _adapter_counts

    adapters = list(ADAPTERS.values())
    reads = list(reads)
    for where, which in plants:  # put adapters into some reads
        if where < len(reads):
            reads[where] = reads[where][:30] + adapters[which] + reads[where][30:]
    joined = ("\n".join(reads) + "\n").encode()
    assert list(_adapter_counts(joined)) == [joined.count(a.encode()) for a in adapters]
