"""QC reports written by the real tools in these tests parse to known values; FASTQ features
agree with FastQC on the same file."""

from __future__ import annotations

import json
import math
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.quality import picard
from genscale.quality.detect import find_reports, parse_report
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


def test_fastp_json_with_a_quote_in_its_command(tmp_path: Path) -> None:
    """fastp writes its command line into the JSON without escaping it (OpenGene/fastp#349):
    an argument holding a quote makes the file invalid JSON. The real fastp here writes one;
    its numbers are read (0.10.x: "corrupt fastp JSON"), and a JSON broken elsewhere is
    still one line."""
    fastq = tmp_path / "r.fq"
    fastq.write_text("".join(f"@r{i}\n{'ACGT' * 25}\n+\n{'I' * 100}\n" for i in range(50)))
    out = tmp_path / "fastp.json"
    subprocess.run(["fastp", "-i", str(fastq), "-o", str(tmp_path / "o.fq"), "-j", str(out),
                    "-h", str(tmp_path / "f.html"), "-R", 'sample "A" report'],
                   check=True, capture_output=True)
    text = out.read_text()
    with pytest.raises(ValueError):
        json.loads(text)  # fastp's own file: not JSON
    parsed = report(out)
    assert parsed["metrics"]["before_filtering.total_reads"] == 50
    with pytest.raises(ReportError, match="corrupt fastp JSON"):
        report(write(tmp_path / "cut.json", text.replace('"summary": {', '"summary": {{', 1)))


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


def test_gatk2_recalibration_table_of_several_read_groups(tmp_path: Path) -> None:
    """GATK 2.x's layout (its documentation's example): the `true`/`false` before the
    column count is read (0.10.x took the column count for the rows and called the table
    truncated), and the six read groups' mismatch rows are merged into the sample's
    numbers (0.10.x gave the first row's, a deletion row). Out-of-range counts are one
    line."""
    parsed = report(Path(__file__).parent / "data" / "gatk" / "bqsr_gatk2_documentation.grp")
    assert len(parsed["tables"]["RecalTable0"]["rows"]) == 18
    m = parsed["metrics"]
    mismatch_rows = [r for r in parsed["tables"]["RecalTable0"]["rows"] if r[1] == "M"]
    observations = sum(r[4] for r in mismatch_rows)
    errors = sum(r[5] for r in mismatch_rows)
    assert (m["Observations"], m["Errors"], m["ReadGroups"]) == (observations, errors, 6)
    assert m["EmpiricalQuality"] == pytest.approx(-10 * math.log10(errors / observations),
                                                  abs=1e-4)
    # each read group's own, 23.03 to 23.26: the merged one lies among them
    assert 23.03 < m["EmpiricalQuality"] < 23.26 and 23.53 < m["EstimatedQReported"] < 23.78
    assert m["EmpiricalQuality"] == 23.1564  # 78,821,364 errors in 16,303,723,400 bases
    text = (Path(__file__).parent / "data" / "gatk" / "bqsr_gatk2_documentation.grp").read_text()
    bad = text.replace("23.5527    2441035052", "-9e9    2441035052")
    with pytest.raises(ReportError, match="read group SRR032765: expected 0 <= Errors"):
        report(write(tmp_path / "bad.grp", bad))


def test_sentieon_histogram_and_a_report_of_no_reads(tmp_path: Path) -> None:
    """Sentieon writes a file's histogram after a blank line with no `## HISTOGRAM` line,
    and for an input without pairs the table's header with no row, then the histogram's
    header alone (the layouts of public Sentieon InsertSizeMetricAlgo files in MultiQC's
    test data). 0.10.x dropped the histogram, and called the second file truncated; a
    header with nothing after it still is."""
    text = (Path(__file__).parent / "data" / "picard" /
            "insert_size_two_orientations.txt").read_text()
    picard_report = report(write(tmp_path / "picard.txt", text))
    as_sentieon = _as_sentieon(text, "InsertSizeMetricAlgo").replace("## HISTOGRAM\t"
                                                                    "java.lang.Integer\n", "")
    assert "## HISTOGRAM" not in as_sentieon
    parsed = report(write(tmp_path / "is.txt", as_sentieon))
    assert parsed["metrics"] == picard_report["metrics"]
    assert parsed["histogram"] == picard_report["histogram"]
    lines = as_sentieon.splitlines()
    empty = "\n".join([lines[0], lines[1], "", "insert_size"]) + "\n"
    nothing = report(write(tmp_path / "zero_reads.txt", empty))
    assert (nothing["type"], nothing["rows"], nothing["metrics"]) == (
        "InsertSizeMetrics", [], {})
    with pytest.raises(ReportError, match="has a header but no rows"):
        report(write(tmp_path / "cut.txt", "\n".join(lines[:2]) + "\n"))


def test_sentieon_qualcal_table_reads_as_the_gatk_report_it_copies(tmp_path: Path) -> None:
    """Sentieon's QualCal writes BaseRecalibrator's tables under its own marks, tab-separated,
    its format lines ending with `;` or not (the layout of the public Sentieon file in
    MultiQC's test data; tests/data/gatk/README). 0.10.x: unknown format. The same tables in
    GATK 4's layout (aligned with spaces, `#:GATKTable:` format lines) give the same report;
    a table cut short is one line, as in GATK's."""
    path = Path(__file__).parent / "data" / "gatk" / "sentieon_qualcal_layout.table"
    parsed = report(path)
    assert parsed["format"] == "gatk-report"
    assert list(parsed["tables"]) == ["Arguments", "Quantized", "RecalTable0"]
    assert len(parsed["tables"]["Quantized"]["rows"]) == 94
    m = parsed["metrics"]
    assert (m["Observations"], m["Errors"], m["ReadGroups"]) == (3211000, 31561.75, 2)
    assert m["EmpiricalQuality"] == round(-10 * math.log10(31561.75 / 3211000), 4)
    text = path.read_text()
    widths: dict[int, int] = {}
    for line in text.splitlines():
        for i, field in enumerate(line.split("\t") if "\t" in line else []):
            widths[i] = max(widths.get(i, 0), len(field))

    def gatk_line(line: str) -> str:
        if line.startswith("#:SENTIEON_QCAL_TABLE.V1:"):
            return line.replace("#:SENTIEON_QCAL_TABLE.V1:", "#:GATKReport.v1.1:")
        if line.startswith("#:SENTIEON_QCAL_TABLE:"):
            line = line.replace("#:SENTIEON_QCAL_TABLE:", "#:GATKTable:").rstrip(";")
            parts = line.split(":")
            if parts[2].isdigit():  # a format line: GATK names each column's format
                return line + ":" + "%s:" * int(parts[2]) + ";"
            return line
        return "  ".join(f.ljust(widths[i]) for i, f in enumerate(line.split("\t")))

    as_gatk = "\n".join(gatk_line(line) if line else "" for line in text.splitlines()) + "\n"
    assert "\t" not in as_gatk
    parsed_gatk = report(write(tmp_path / "recal.table", as_gatk))
    assert parsed_gatk["tables"] == parsed["tables"]
    assert parsed_gatk["metrics"] == m
    cut = text.replace("lib1-flowcell_A-lane2\tD", "#lib1-flowcell_A-lane2\tD")
    with pytest.raises(ReportError, match="truncated: table RecalTable0 has 5 of 6 rows"):
        report(write(tmp_path / "cut.table", cut.split("#lib1")[0]))


def test_samtools_coverage_gives_the_depth_samtools_depth_counts(dnaseq_run: RunDirectory,
                                                                tmp_path: Path) -> None:
    """`samtools coverage` (the real samtools 1.16) on the dnaseq run's BAM: its rows summed
    over the sequences give the mean depth and the bases covered that `samtools depth -a`
    counts base by base (0.10.x: "unknown format"); two outputs in one file, a row cut
    short and text in a number's place are one line each."""
    bam = str(dnaseq_run.path / "work" / "align" / "markdup.bam")
    text = subprocess.run(["samtools", "coverage", bam], check=True, capture_output=True,
                          text=True).stdout
    parsed = report(write(tmp_path / "coverage.txt", text))
    assert parsed["format"] == "samtools-coverage"
    m = parsed["metrics"]
    depth = subprocess.run(["samtools", "depth", "-a", bam], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    depths = [int(line.split("\t")[2]) for line in depth]
    assert m["length"] == len(depths) and m["sequences"] == len(parsed["rows"])
    assert m["covbases"] == sum(1 for d in depths if d > 0)
    # samtools prints each row's mean depth to 6 significant digits
    assert m["meandepth"] == pytest.approx(sum(depths) / len(depths), rel=1e-5)
    assert m["coverage"] == pytest.approx(100 * m["covbases"] / m["length"], abs=1e-4)
    assert 0 < m["meanbaseq"] <= 41 and 0 < m["meanmapq"] <= 60
    with pytest.raises(ReportError, match="line 4: a second header"):
        report(write(tmp_path / "two.txt", text + text))
    lines = text.splitlines()
    with pytest.raises(ReportError, match="line 2: 5 fields where the header has 9"):
        report(write(tmp_path / "cut.txt", "\n".join(
            [lines[0], "\t".join(lines[1].split("\t")[:5])]) + "\n"))
    bad = lines[1].split("\t")
    bad[6] = "deep"
    with pytest.raises(ReportError, match="line 2: meandepth: expected a number"):
        report(write(tmp_path / "bad.txt", "\n".join([lines[0], "\t".join(bad)]) + "\n"))


def test_mosdepth_summary_of_the_genome_and_of_regions(dnaseq_run: RunDirectory,
                                                       tmp_path: Path) -> None:
    """mosdepth's summary (the real mosdepth 0.3.3, nf-core/sarek's coverage step) of the
    dnaseq run's BAM: the genome's length is samtools coverage's, its mean depth
    samtools depth's within the pairs' overlaps (mosdepth counts an overlap once), and
    with `--by` the regions' own row (0.10.x: "unknown format"); a file cut before its
    `total` row is one line."""
    bam = tmp_path / "in.bam"
    bam.symlink_to(dnaseq_run.path / "work" / "align" / "markdup.bam")
    subprocess.run(["samtools", "index", str(bam)], check=True)
    subprocess.run(["mosdepth", "-n", "genome", str(bam)], check=True, cwd=tmp_path)
    parsed = report(tmp_path / "genome.mosdepth.summary.txt")
    assert parsed["format"] == "mosdepth"
    m = parsed["metrics"]
    coverage = report(write(tmp_path / "coverage.txt", subprocess.run(
        ["samtools", "coverage", str(bam)], check=True, capture_output=True,
        text=True).stdout))["metrics"]
    assert m["length"] == coverage["length"]
    assert m["mean"] == pytest.approx(m["bases"] / m["length"], abs=0.005)
    assert 0.9 * coverage["meandepth"] <= m["mean"] <= coverage["meandepth"]
    first = parsed["rows"][0]
    write(tmp_path / "half.bed", f"{first['chrom']}\t0\t{first['length'] // 2}\n")
    subprocess.run(["mosdepth", "-n", "--by", "half.bed", "regions", str(bam)], check=True,
                   cwd=tmp_path)
    regions = report(tmp_path / "regions.mosdepth.summary.txt")["metrics"]
    # with --by, mosdepth's rows and total are of the sequences that hold regions
    assert regions["length"] == first["length"]
    assert regions["region length"] == first["length"] // 2
    assert 0 < regions["region mean"] <= regions["region max"]
    text = (tmp_path / "genome.mosdepth.summary.txt").read_text()
    with pytest.raises(ReportError, match="truncated: no 'total' row"):
        report(write(tmp_path / "cut.txt", text.split("\ntotal")[0] + "\n"))


# GATK DepthOfCoverage's sample summary as GATK 3 writes it (tests/data/gatk/README)
DOC_GATK3 = (Path(__file__).parent / "data" / "gatk" /
             "depth_of_coverage_gatk3.sample_summary").read_text()


def test_gatk_depth_of_coverage_summary_in_both_layouts(tmp_path: Path) -> None:
    """One sample's DepthOfCoverage summary reads the same from GATK 3's tab-separated
    layout and GATK 4's CSV (0.10.x: "unknown format"); a file of several samples has no
    one sample's numbers; a file without the Total row is cut short; a CSV written under
    a decimal-comma locale (GATK formats with the locale's mark) is one line."""
    gatk3 = report(write(tmp_path / "s.sample_summary", DOC_GATK3))
    assert gatk3["format"] == "gatk-depthofcoverage" and gatk3["samples"] == ["NA12878"]
    assert gatk3["metrics"] == {"total": 5995840, "mean": 39.97,
                                "granular_third_quartile": 46, "granular_median": 40,
                                "granular_first_quartile": 34, "%_bases_above_15": 93.6,
                                "%_bases_above_30": 80.2}
    lines = DOC_GATK3.splitlines()
    gatk4 = "\n".join([lines[0].replace("\t", ","), lines[1].replace("\t", ","),
                       "Total,5995840,39.97,N/A,N/A,N/A,N/A,N/A"]) + "\n"
    assert report(write(tmp_path / "s4.sample_summary", gatk4))["metrics"] == gatk3["metrics"]
    comma_tabs = DOC_GATK3.replace("39.97", "39,97").replace("93.6", "93,6")
    assert report(write(tmp_path / "c.tsv", comma_tabs))["metrics"] == gatk3["metrics"]
    two = report(write(tmp_path / "two.sample_summary", "\n".join(
        [lines[0], lines[1], lines[1].replace("NA12878", "NA12891"), lines[2]]) + "\n"))
    assert two["samples"] == ["NA12878", "NA12891"] and two["metrics"] == {}
    with pytest.raises(ReportError, match="truncated: no 'Total' row"):
        report(write(tmp_path / "cut.sample_summary", "\n".join(lines[:2]) + "\n"))
    with pytest.raises(ReportError, match=r"line 2: 9 fields where the header has 8 \(a "
                                          r"decimal comma in a CSV\?\)"):
        report(write(tmp_path / "de.csv", gatk4.replace("39.97", "39,97", 1)))
    with pytest.raises(ReportError, match="line 2: mean: expected a number"):
        report(write(tmp_path / "bad.tsv", DOC_GATK3.replace("\t39.97\t46", "\thigh\t46", 1)))


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


def _as_sentieon(picard_text: str, algo: str) -> str:
    """A Picard file's table as Sentieon writes it: its command line, then the header and
    rows, with no class line (the layout MultiQC's Sentieon support reads)."""
    lines = picard_text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("## METRICS CLASS"))
    table = lines[at + 1:]
    return (f"#SentieonCommandLine: /opt/sentieon/libexec/driver -t 8 -i s.bam --algo {algo}"
            f" out.txt\n" + "\n".join(table) + "\n")


def test_picard_classes_of_other_versions_and_tools_read_as_picard_2(tmp_path: Path) -> None:
    """One class, however it is named (tests/data/picard/README): Picard 1.x's inner class
    `CollectWgsMetrics$WgsMetrics`, CollectWgsMetricsWithNonZeroCoverage's whole-genome row
    (real Picard 2.27.5 files of one BAM), GATK4 MarkDuplicatesSpark's
    `GATKDuplicationMetrics`, and Sentieon's files, which name no class. 0.10.x typed none
    of them (features named `picard.CollectWgsMetrics$WgsMetrics.*`, Sentieon's an unknown
    format)."""
    folder = Path(__file__).parent / "data" / "picard"
    wgs_text = (folder / "wgs_same_bam.txt").read_text()
    wgs = report(folder / "wgs_same_bam.txt")
    nonzero = report(folder / "wgs_nonzero_coverage.txt")
    assert nonzero["type"] == "WgsMetrics"
    assert nonzero["metrics"].pop("CATEGORY") == "WHOLE_GENOME"
    assert nonzero["metrics"] == wgs["metrics"] and wgs["metrics"]["MEAN_COVERAGE"] == 2
    for klass in ("picard.analysis.CollectWgsMetrics$WgsMetrics", "CollectWgsMetrics$WgsMetrics",
                  "net.sf.picard.analysis.WgsMetrics"):
        parsed = report(write(tmp_path / "old.txt", wgs_text.replace(
            "picard.analysis.WgsMetrics", klass)))
        assert (parsed["type"], parsed["metrics"]) == ("WgsMetrics", wgs["metrics"]), klass
        assert picard.typed(parsed) == picard.typed(wgs)
    dup_text = (folder / "markdup_two_libraries.txt").read_text()
    dup = report(folder / "markdup_two_libraries.txt")
    spark = report(write(tmp_path / "spark.txt", dup_text.replace(
        "picard.sam.DuplicationMetrics",
        "org.broadinstitute.hellbender.utils.read.markduplicates.GATKDuplicationMetrics")))
    assert (spark["type"], spark["metrics"]) == ("DuplicationMetrics", dup["metrics"])
    for text, algo, expected in ((dup_text, "Dedup", dup), (wgs_text, "WgsMetricsAlgo", wgs)):
        sentieon = report(write(tmp_path / f"{algo}.txt", _as_sentieon(text, algo)))
        assert sentieon["type"] == expected["type"] and sentieon["class"].startswith(
            "sentieon.")
        assert sentieon["metrics"] == expected["metrics"], algo
        assert sentieon["command"].startswith("/opt/sentieon/libexec/driver")
    # Sentieon's AlignmentStat (seen in public test data) ends header and rows with a tab
    lines = _as_sentieon(wgs_text, "WgsMetricsAlgo").splitlines()
    table_end = lines.index("", 1)
    tabbed = [lines[0], *(line + "\t" for line in lines[1:table_end]), *lines[table_end:]]
    parsed = report(write(tmp_path / "tabbed.txt", "\n".join(tabbed) + "\n"))
    assert parsed["metrics"] == wgs["metrics"] and "" not in parsed["rows"][0]
    other = report(write(tmp_path / "qd.txt", "#SentieonCommandLine: driver --algo "
                         "QualDistribution qd.txt\nquality\tcount_of_Q\n20\t300\n30\t700\n"))
    assert other["type"] == "QualDistribution" and other["rows"][1] == {
        "quality": 30, "count_of_Q": 700}
    with pytest.raises(ReportError, match="without a header row"):
        report(write(tmp_path / "cut.txt", "#SentieonCommandLine: driver --algo Dedup m\n"))
    bad = _as_sentieon(dup_text, "Dedup").replace("\t0.333333\t", "\tlots\t")
    with pytest.raises(ReportError, match="PERCENT_DUPLICATION: expected a number"):
        report(write(tmp_path / "bad.txt", bad))


def test_picard_files_seen_in_the_wild(tmp_path: Path) -> None:
    """Two layouts of public Picard 2.x files (MultiQC's test data; written here from the
    real two-library and WGS files, not copied): a MarkDuplicates file with an unnamed
    library that examined nothing (`?` for its duplication, no size), whose sample is the
    other library's (0.10.x merged it and lost the library size), and two files
    concatenated into one, which are one line (0.10.x read the first and dropped the
    second sample)."""
    folder = Path(__file__).parent / "data" / "picard"
    dup_text = (folder / "markdup_two_libraries.txt").read_text()
    header, lib_a = dup_text.splitlines()[6:8]
    assert header.startswith("LIBRARY") and lib_a.startswith("libA\t")
    empty = "\t0\t0\t0\t0\t0\t0\t0\t?\t"
    one_library = dup_text.replace(lib_a + "\n", f"{empty}\n{lib_a}\n").replace(
        "libB\t4\t4\t0\t0\t1\t0\t0\t0.083333\t\n", "")
    parsed = report(write(tmp_path / "empty_library.txt", one_library))
    assert len(parsed["rows"]) == 2
    assert parsed["metrics"]["LIBRARY"] == "libA"
    assert parsed["metrics"]["ESTIMATED_LIBRARY_SIZE"] == 6
    assert parsed["metrics"]["PERCENT_DUPLICATION"] == 0.333333
    wgs_text = (folder / "wgs_same_bam.txt").read_text()
    with pytest.raises(ReportError, match=r"2 metrics classes \(lines 6, 270\): Picard files "
                                          r"concatenated"):
        report(write(tmp_path / "two.txt", wgs_text + "\n" + dup_text))


def test_flagstat_formats_read_the_same() -> None:
    """samtools flagstat's three formats of one BAM (tests/data/flagstat/README) give one
    set of metrics. 0.10.x read only the default format, and there it took the `(mapQ>=5)`
    line for `with mate mapped to a different chr` (2 where samtools says 4)."""
    folder = Path(__file__).parent / "data" / "flagstat"
    default, tsv, as_json = (report(folder / f"{name}.txt")["metrics"]
                             for name in ("default", "tsv", "json"))
    assert default == tsv == as_json
    assert default["in total"] == 7 and default["in total (QC-failed)"] == 1
    assert default["with mate mapped to a different chr"] == 4
    assert default["with mate mapped to a different chr (mapQ>=5)"] == 2
    assert default["mapped %"] == 85.71 and default["duplicates (QC-failed)"] == 1


def test_flagstat_under_a_head_banner(tmp_path: Path) -> None:
    """`head`/`tail` of several flagstat files name each with `==> FILE <==` (a layout seen
    in public test data): one output under its name reads as without it (0.10.x: "not a
    flagstat line"), two outputs in one file are one line, not the first one's numbers."""
    text = (Path(__file__).parent / "data" / "flagstat" / "default.txt").read_text()
    expected = report(Path(__file__).parent / "data" / "flagstat" / "default.txt")["metrics"]
    named = f"==> sample.flagstat <==\n{text}"
    assert report(write(tmp_path / "named.txt", named))["metrics"] == expected
    with pytest.raises(ReportError, match=r"2 flagstat outputs \(lines 2, \d+\)"):
        report(write(tmp_path / "two.txt", named + "\n" + named))


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("tsv.txt", "7\t1\ttotal (QC-passed reads + QC-failed reads)\nlots\t0\tmapped\n",
     "line 2: mapped: expected two counts"),
    ("tsv.txt", "7\t1\ttotal (QC-passed reads + QC-failed reads)\n6\t0\n",
     "line 2: expected 3 tab-separated fields"),
    ("json.txt", '{"QC-passed reads": {"total": "many"}, "QC-failed reads": {}}',
     "total: expected a number"),
    ("json.txt", '{"QC-passed reads": {"mapped": 2}, "QC-failed reads": {}}',
     "without its 'total' count"),
])
def test_bad_flagstat_names_the_problem(name: str, text: str, problem: str,
                                        tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=re.escape(problem)):
        parse_report(write(tmp_path / name, text))


def test_duplication_metrics_of_several_libraries_are_merged() -> None:
    """A sample of two libraries (tests/data/picard/README): its duplication is the summed
    counts' (0.208333), not the first library's (0.333333, what 0.10.x reported)."""
    parsed = report(Path(__file__).parent / "data" / "picard" / "markdup_two_libraries.txt")
    assert [row["LIBRARY"] for row in parsed["rows"]] == ["libA", "libB"]
    assert parsed["rows"][0]["PERCENT_DUPLICATION"] == 0.333333  # each library's kept
    merged = parsed["metrics"]
    assert merged["PERCENT_DUPLICATION"] == round(5 / 24, 6)
    assert merged["READ_PAIRS_EXAMINED"] == 10 and merged["UNPAIRED_READS_EXAMINED"] == 4
    assert merged["ESTIMATED_LIBRARY_SIZE"] is None  # libB has none: the sum is not known
    assert picard.typed(parsed)["PERCENT_DUPLICATION"] == merged["PERCENT_DUPLICATION"]


def test_insert_size_summary_is_the_orientation_most_pairs_have() -> None:
    """Two orientations (tests/data/picard/README): Picard writes FR (10 pairs) before RF
    (30 pairs); 0.10.x took the first row, a median insert of 204.5 for a library of 2 kb."""
    parsed = report(Path(__file__).parent / "data" / "picard" /
                    "insert_size_two_orientations.txt")
    assert [row["PAIR_ORIENTATION"] for row in parsed["rows"]] == ["FR", "RF"]
    assert parsed["metrics"]["PAIR_ORIENTATION"] == "RF"
    assert picard.typed(parsed)["MEDIAN_INSERT_SIZE"] == 2145


@pytest.mark.parametrize("ends", ["pe", "se"])
def test_trimmomatic_summary_file_reads_as_its_log(ends: str) -> None:
    """Trimmomatic's `-summary` file (tests/data/trimmomatic/README) gives the metrics its
    log line gives, under the same names; 0.10.x refused it (no summary line)."""
    folder = Path(__file__).parent / "data" / "trimmomatic"
    from_summary = report(folder / f"{ends}_summary.txt")["metrics"]
    assert from_summary == report(folder / f"{ends}.log")["metrics"]
    assert from_summary["Dropped"] == (26 if ends == "pe" else 286)


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


def _phred64_copy(fastq: Path, out: Path) -> Path:
    """`fastq` (Phred+33) written as Illumina 1.5 wrote it: every score 31 characters up."""
    import dnaio

    with dnaio.open(fastq) as reads, dnaio.open(out, mode="w") as writer:
        for read in reads:
            assert read.qualities is not None
            read.qualities = "".join(chr(ord(c) + 31) for c in read.qualities)
            writer.write(read)
    return out


@pytest.mark.slow
def test_phred64_fastq_gives_the_numbers_of_its_phred33_copy(degraded: Dataset,
                                                            tmp_path: Path) -> None:
    """A Phred+64 file (Illumina 1.3-1.7) is read as such: every feature equals its
    Phred+33 copy's, FastQC names the same encoding, and Trimmomatic told -phred64 keeps
    the reads the trim features predict. (0.10.x read its scores 31 too high: quality mean
    over 60, no trim, no expected errors.)"""
    import dnaio

    fastq = degraded.file("reads_1")
    ours33 = fastq_features(fastq)
    old = _phred64_copy(fastq, tmp_path / "illumina15.fq")
    ours64 = fastq_features(old)
    assert (ours33["phred_offset"], ours64["phred_offset"]) == (33, 64)
    assert ours64["metrics"] == ours33["metrics"]
    assert ours64["per_position_quality"] == ours33["per_position_quality"]
    theirs = fastqc_modules(old, tmp_path / "qc")
    assert theirs["metrics"]["Encoding"] == ours64["encoding"] == "Illumina 1.5"
    kept = tmp_path / "kept.fq"
    subprocess.run(["java", "-jar", "/usr/share/java/trimmomatic.jar", "SE", "-phred64",
                    "-quiet", str(old), str(kept), "SLIDINGWINDOW:4:15", "MINLEN:36"],
                   check=True)
    with dnaio.open(kept) as reads:
        surviving = sum(1 for _ in reads)
    assert 20 < ours64["metrics"]["q15_trim_surviving_percent"] < 100
    assert round(100 * surviving / ours64["metrics"]["reads"], 4) == \
        ours64["metrics"]["q15_trim_surviving_percent"]


@pytest.mark.parametrize(("scores", "offset"), [
    ("IIIIIIII", 33),  # simulated reads of one score, Q40: FastQC calls them Illumina 1.5
    ("FFFF:FF:", 33),  # NovaSeq's binned scores
    ("@ABhhhhh", 64),  # Illumina 1.5: 'B' marks the read's end segment
    ("AAAehhhh", 64),  # Illumina 1.3 (its lowest 'A')
    ("OOOOO~~~", 33),  # long reads capped at Q93 (past any Phred+64 score)
    ("#########", 33),
])
def test_phred_offset_is_told_by_the_lowest_and_highest_scores(
        scores: str, offset: int, tmp_path: Path) -> None:
    path = tmp_path / "r.fq"
    path.write_text("".join(f"@r{i}\n{'A' * len(scores)}\n+\n{scores}\n" for i in range(3)))
    assert fastq_features(path)["phred_offset"] == offset


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


# a read: its bases, their scores (raised by a floor of the read's own, so that some reads
# pass the trim and some fail it), and perhaps an adapter planted at a position or (5) a
# poly-G tail appended
_READS = st.lists(
    st.tuples(st.text(alphabet="ACGTNacgtnR", max_size=70),
              st.lists(st.integers(0, 41) | st.sampled_from([14, 15, 16]), min_size=82,
                       max_size=82), st.integers(0, 30),
              st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 5)))),
    min_size=1, max_size=25)


@settings(deadline=None)  # the first example loads (or compiles) the kernel
@given(_READS, st.booleans(), st.booleans())
@example([("A" * 50, [15] * 82, 0, None),  # windows of exactly 15: kept whole
          ("A" * 50, [15] * 40 + [14] * 42, 0, None),  # the first failing one: cut
          ("A" * 50, [30] * 40 + [20, 10, 14, 15] + [30] * 38, 0, None)],  # then back
         False, False)
def test_fastq_kernel_matches_a_read_at_a_time(
        reads: list[tuple[str, list[int], int, tuple[int, int] | None]], one_length: bool,
        crlf: bool) -> None:
    """Every number the compiled pass adds up, against plain Python one read at a time:
    GC and N counts, scores and Ns by position, adapters (planted in some reads), poly-G
    tails, and what Trimmomatic's SLIDINGWINDOW:4:15 MINLEN:36 keeps."""
    import math

    import numpy as np

    from genscale.quality import fastq_kernel as kernel
    from genscale.quality.fastq import ADAPTERS, _Totals, scan_chunk

    adapters = list(ADAPTERS.values())
    records = []
    for bases, scores, floor, plant in reads:
        if plant is not None and plant[1] == 5:
            bases += "G" * 12
        elif plant is not None:
            bases = bases[: plant[0]] + adapters[plant[1]] + bases[plant[0]:]
        records.append((bases, [min(q + floor, 41) for q in scores][: len(bases)]))
    if one_length:
        width = min(len(b) for b, _ in records)
        records = [(b[:width], q[:width]) for b, q in records]
    end = "\r\n" if crlf else "\n"
    text = "".join(f"@r{i}{end}{b}{end}+{end}{''.join(chr(q + 33) for q in qs)}{end}"
                   for i, (b, qs) in enumerate(records))
    t = _Totals()
    assert scan_chunk(t, np.frombuffer(text.encode(), dtype=np.uint8), 1) == len(records)

    def trim_quality(b: str, q: int) -> int:
        return 0 if b in "Nn" else q

    kept_bases = surviving = 0
    removed_errors = 0.0
    for b, qs in records:
        kept = _window_trim_reference([trim_quality(x, q) for x, q in zip(b, qs, strict=True)])
        if kept < 36:
            kept = 0
        else:
            surviving += 1
            kept_bases += kept
        removed_errors += sum(10 ** (-q / 10) for q in qs[kept:])
    bases = "".join(b for b, _ in records)
    assert t.reads == len(records) and t.bases == len(bases)
    assert t.counts[kernel.GC] == sum(bases.count(x) for x in "CGcg")
    assert t.counts[kernel.N_BASES] == sum(bases.count(x) for x in "Nn")
    assert t.counts[kernel.POLYG] == sum(b.endswith("G" * 10) for b, _ in records)
    assert t.adapter_hits.tolist() == [sum(b.count(a) for b, _ in records) for a in adapters]
    assert (t.counts[kernel.TRIM_SURVIVING], t.counts[kernel.TRIM_KEPT_BASES]) == (
        surviving, kept_bases)
    assert math.isclose(t.sums[kernel.TRIM_REMOVED_ERRORS], removed_errors, abs_tol=1e-9)
    assert math.isclose(t.sums[kernel.READ_GC_SUM], sum(
        sum(b.count(x) for x in "CGcg") / len(b) for b, _ in records if b), abs_tol=1e-9)
    scores = [q for _, qs in records for q in qs]
    assert t.quality_hist[33:75].tolist() == [scores.count(q) for q in range(42)]
    longest = max(len(b) for b, _ in records)
    assert t.pos_quality[:longest].tolist() == [
        sum(qs[j] for _, qs in records if j < len(qs)) for j in range(longest)]
    assert t.pos_n[:longest].tolist() == [
        sum(b[j] in "Nn" for b, _ in records if j < len(b)) for j in range(longest)]
    assert sorted(t.length_counts.elements()) == sorted(len(b) for b, _ in records)


@pytest.mark.parametrize(("text", "problem"), [
    ("@a\nACGT\n+\nIIII\n@b\nACGT\n-\nIIII\n", "line 5: the third line does not start with '+'"),
    ("@a\nACGT\n+\nIIII\nb\nACGT\n+\nIIII\n", "line 5: the header does not start with '@'"),
    ("@a\nACGT\n+\nIII\n", "line 1: sequence and quality lengths differ"),
    ("@a\nACGT\n+\nII I\n", "line 1: quality characters outside Phred+33"),
    ("@a\nACGT\n+\nIIII\n@b\nACGT\n+\nII\x7fI\n", "line 5: quality characters outside"),
    ("@a\nACGT\n+\nIIII\n@b\nACGT\n", "line 5: a record is cut short"),
])
def test_malformed_fastq_names_the_record(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.fq"
    path.write_text(text)
    with pytest.raises(ReportError) as err:
        fastq_features(path)
    assert str(err.value).startswith(f"{path}: cannot be read as FASTQ: {problem}")


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


def test_reports_saved_on_windows_read_the_same(dnaseq_run: RunDirectory,
                                                tmp_path: Path) -> None:
    """A report opened and saved again on Windows (a UTF-8 byte-order mark, CRLF line ends)
    reads as the tool wrote it; 0.10.x called several of them unknown or truncated."""
    data = Path(__file__).parent / "data"
    work = dnaseq_run.path / "work"
    with zipfile.ZipFile(next((work / "qc" / "fastqc_1").glob("*_fastqc.zip"))) as z:
        name = next(n for n in z.namelist() if n.endswith("fastqc_data.txt"))
        fastqc = write(tmp_path / "fastqc_data.txt", z.read(name).decode())
    originals = [dnaseq_run.path / "logs" / "trim.err", fastqc,
                 *sorted((work / "metrics").glob("*.txt")),
                 *sorted((data / "trimmomatic").glob("*_summary.txt")),
                 *sorted((data / "flagstat").glob("*.txt")),
                 data / "gatk" / "bqsr_gatk2_documentation.grp"]
    assert len(originals) >= 12
    for number_, original in enumerate(originals):
        copy = tmp_path / "windows" / f"{number_}_{original.name}"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(b"\xef\xbb\xbf" + original.read_bytes().replace(b"\n", b"\r\n"))
        expected = report(original)
        assert {**report(copy), "file": expected["file"]} == expected, original


def _as_fastqc_010(text: str) -> str:
    """A 0.11 fastqc_data.txt in 0.10's layout (public 0.10.0 and 0.10.1 files): every
    Basic Statistics line ends with a tab, `Filtered Sequences` for the flagged ones, and
    the duplicate percentage where 0.11 writes the deduplicated one."""
    out = []
    basic = False
    for line in text.splitlines():
        if line.startswith("##FastQC"):
            line = "##FastQC\t0.10.1"
        elif line.startswith(">>Basic Statistics"):
            basic = True
        elif line.startswith(">>END_MODULE"):
            basic = False
        elif basic:
            line = line.replace("Sequences flagged as poor quality", "Filtered Sequences") + "\t"
        elif line.startswith("#Total Deduplicated Percentage"):
            kept = float(line.split("\t")[1])
            line = f"#Total Duplicate Percentage\t{100 - kept}\t"
        out.append(line)
    return "\n".join(out) + "\n"


def test_fastqc_of_every_version_gives_the_same_metrics(dnaseq_run: RunDirectory,
                                                       tmp_path: Path) -> None:
    """0.10's layout gave `Total Duplicate Percentage` and `Filtered Sequences` alone (the
    features table had no deduplicated percentage nor flagged count for such samples); 0.12's
    `Total Bases` ('1.8 Mbp') and a trimmed file's `Sequence length` ('35-151') stayed text,
    left out of the features."""
    with zipfile.ZipFile(next((dnaseq_run.path / "work" / "qc" / "fastqc_1").glob(
            "*_fastqc.zip"))) as z:
        name = next(n for n in z.namelist() if n.endswith("fastqc_data.txt"))
        text = z.read(name).decode()
    current = report(write(tmp_path / "v0.11.txt", text))["metrics"]
    old = report(write(tmp_path / "v0.10.txt", _as_fastqc_010(text)))["metrics"]
    assert old["Filtered Sequences"] == current["Sequences flagged as poor quality"]
    for key in ("Total Sequences", "Sequences flagged as poor quality", "%GC",
                "Sequence length", "Sequence length min", "Sequence length max",
                "Sequence length mean"):
        assert old[key] == current[key], key
    assert old["Total Deduplicated Percentage"] == pytest.approx(
        current["Total Deduplicated Percentage"])

    new = report(Path(__file__).parent / "data" / "fastqc" / "v0.12.1_variable_length.txt")
    metrics = new["metrics"]
    assert new["version"] == "0.12.1"
    assert metrics["Total Bases"] == 1.8e6  # 1,861,640 bases, to FastQC's one decimal
    assert (metrics["Sequence length min"], metrics["Sequence length max"]) == (35, 151)
    assert abs(metrics["Sequence length mean"] - 93.082) < 0.1
    comma = (Path(__file__).parent / "data" / "fastqc" / "v0.12.1_variable_length.txt"
             ).read_text().replace("1.8 Mbp", "1,8 Mbp")  # a decimal-comma locale
    assert report(write(tmp_path / "comma.txt", comma))["metrics"]["Total Bases"] == 1.8e6
    with pytest.raises(ReportError, match="Total Bases: expected a size such as"):
        report(write(tmp_path / "bad.txt", comma.replace("1,8 Mbp", "1.8 Mb")))


def test_fastqc_read_lengths_agree_with_the_reads(tmp_path: Path) -> None:
    """The real FastQC on reads of many lengths: the range and the mean (bins at their
    middle) against the reads themselves."""
    import random

    rng = random.Random(3)
    lengths = [rng.randint(20, 151) for _ in range(3000)]
    fastq = tmp_path / "trimmed.fq"
    fastq.write_text("".join(f"@r{i}\n{''.join(rng.choice('ACGT') for _ in range(n))}\n+\n"
                             f"{'I' * n}\n" for i, n in enumerate(lengths)))
    subprocess.run(["fastqc", "--quiet", "--outdir", str(tmp_path), str(fastq)], check=True,
                   capture_output=True)
    metrics = report(tmp_path / "trimmed_fastqc.zip")["metrics"]
    assert metrics["Sequence length"] == f"{min(lengths)}-{max(lengths)}"
    assert (metrics["Sequence length min"], metrics["Sequence length max"]) == (
        min(lengths), max(lengths))
    assert abs(metrics["Sequence length mean"] - sum(lengths) / len(lengths)) < 0.5


def test_falco_report_reads_as_fastqc(tmp_path: Path) -> None:
    """Falco (a FastQC in C++, an nf-core module) writes FastQC's fastqc_data.txt under its
    own first line, `##Falco`, and for an input of one read C's `-nan` where a ratio is
    undefined (the layouts of the public Falco 1.0.0 file in MultiQC's test data). 0.10.x:
    "unknown format" for any of it; `-nan` is missing, not a number."""
    fastqc = Path(__file__).parent / "data" / "fastqc" / "v0.12.1_variable_length.txt"
    text = fastqc.read_text()
    expected = report(fastqc)
    falco = report(write(tmp_path / "fastqc_data.txt",
                         text.replace("##FastQC\t0.12.1", "##Falco\t1.2.1", 1)))
    assert (falco["program"], falco["version"]) == ("Falco", "1.2.1")
    assert expected["program"] == "FastQC"
    assert falco["metrics"] == expected["metrics"]
    assert falco["status"] == expected["status"]
    undefined = text.replace("##FastQC\t0.12.1", "##Falco\t1.0.0", 1).replace(
        "#Total Deduplicated Percentage\t100.0", "#Total Deduplicated Percentage\t-nan")
    metrics = report(write(tmp_path / "one_read.txt", undefined))["metrics"]
    assert metrics["Total Deduplicated Percentage"] is None
    assert number("-nan") is None and number("nan") is None and number("NaN%") is None


def test_collect_multiple_metrics_every_file(dnaseq_run: RunDirectory, tmp_path: Path) -> None:
    """Every file of Picard's CollectMultipleMetrics (the real Picard): MeanQualityByCycle's
    and QualityScoreDistribution's (a histogram alone) were "not a Picard metrics file";
    classes whose rows are bins, cycles or substitutions gave their first row as the
    sample's numbers (`PCT_A` of cycle 1)."""
    work = dnaseq_run.path / "work"
    subprocess.run(["java", "-Xmx1g", "-jar", "/usr/share/java/picard.jar",
                    "CollectMultipleMetrics", f"I={work / 'align' / 'markdup.bam'}",
                    f"O={tmp_path / 'mm'}", f"R={work / 'ref' / 'genome.fa'}", "PROGRAM=null",
                    *(f"PROGRAM={p}" for p in (
                        "QualityScoreDistribution", "MeanQualityByCycle",
                        "CollectBaseDistributionByCycle", "CollectGcBiasMetrics",
                        "CollectSequencingArtifactMetrics", "CollectQualityYieldMetrics"))],
                   check=True, capture_output=True)
    files = {p.name[3:]: report(p) for p in tmp_path.glob("mm.*metrics")}
    assert len(files) == 11, sorted(files)
    yield_ = files["quality_yield_metrics"]["metrics"]
    scores = files["quality_distribution_metrics"]
    assert scores["type"] == "QualityScoreDistribution"
    assert scores["metrics"]["PCT_Q30"] == pytest.approx(
        yield_["Q30_BASES"] / yield_["TOTAL_BASES"], abs=1e-6)
    assert scores["metrics"]["PCT_Q20"] == pytest.approx(
        yield_["Q20_BASES"] / yield_["TOTAL_BASES"], abs=1e-6)
    by_cycle = files["quality_by_cycle_metrics"]
    assert by_cycle["type"] == "MeanQualityByCycle" and len(by_cycle["histogram"]["rows"]) > 50
    assert 20 < by_cycle["metrics"]["MEAN_QUALITY"] < 42
    for name in ("base_distribution_by_cycle_metrics", "gc_bias.detail_metrics",
                 "error_summary_metrics", "pre_adapter_detail_metrics"):
        assert files[name]["metrics"] == {} and len(files[name]["rows"]) > 1, name
    assert files["gc_bias.summary_metrics"]["metrics"]["ACCUMULATION_LEVEL"] == "All Reads"
    assert [f.name for f in find_reports(tmp_path)] == sorted(
        p.name for p in tmp_path.glob("mm.*metrics"))


def test_picard_histogram_only_files(tmp_path: Path) -> None:
    """tests/data/picard/README: the score distribution's fractions are the ones Picard's
    QualityYieldMetrics gives for the same BAM; Sentieon's layout of the same histograms
    (its command line, then the table with a tab at each line's end, as in public files)
    gives the same numbers."""
    folder = Path(__file__).parent / "data" / "picard"
    scores = report(folder / "quality_distribution.txt")
    assert (scores["type"], scores["metrics"]["PCT_Q20"], scores["metrics"]["PCT_Q30"]) == (
        "QualityScoreDistribution", 0.957467, 0.924004)
    cycles = report(folder / "quality_by_cycle.txt")
    assert cycles["type"] == "MeanQualityByCycle"
    assert cycles["metrics"]["MEAN_QUALITY"] == pytest.approx(
        scores["metrics"]["MEAN_QUALITY"], abs=0.01)  # reads of 99 and 100 bases: ~ equal
    for original, algo in ((cycles, "MeanQualityByCycle"), (scores, "QualDistribution")):
        columns = original["histogram"]["columns"]
        text = "".join([f"#SentieonCommandLine: driver -i a.bam --algo {algo} out.txt\n",
                        "\t".join(columns) + "\t\n",
                        *("\t".join(str(v) for v in row) + "\t\n"
                          for row in original["histogram"]["rows"])])
        sentieon = report(write(tmp_path / f"{algo}.txt", text))
        assert (sentieon["type"], sentieon["metrics"]) == (original["type"],
                                                           original["metrics"])
    # reads that kept their scores from before recalibration (OQ): a column more
    text = (Path(__file__).parent / "data" / "picard" / "quality_by_cycle.txt").read_text()
    text = text.replace("CYCLE\tMEAN_QUALITY", "CYCLE\tMEAN_QUALITY\tMEAN_ORIGINAL_QUALITY")
    text = re.sub(r"^(\d+)\t([\d.]+)$", lambda m: f"{m[0]}\t{float(m[2]) - 2}", text,
                  flags=re.MULTILINE)
    with_oq = report(write(tmp_path / "oq.txt", text))["metrics"]
    # Picard 1.x's header (`net.sf.picard.metrics`): the same file
    old = (folder / "quality_distribution.txt").read_text().replace(
        "htsjdk.samtools.metrics", "net.sf.picard.metrics")
    assert report(write(tmp_path / "old.txt", old))["metrics"] == scores["metrics"]
    assert with_oq["MEAN_ORIGINAL_QUALITY"] == pytest.approx(with_oq["MEAN_QUALITY"] - 2)
    assert with_oq["MEAN_QUALITY"] == cycles["metrics"]["MEAN_QUALITY"]


def _reads_with_adapters(tmp_path: Path) -> tuple[Path, Path]:
    import random

    rng = random.Random(5)
    adapter = "AGATCGGAAGAGC"
    paths = (tmp_path / "r1.fq", tmp_path / "r2.fq")
    with open(paths[0], "w") as one, open(paths[1], "w") as two:
        for i in range(4000):
            for out in (one, two):
                seq = "".join(rng.choice("ACGT") for _ in range(100))
                if rng.random() < 0.3:
                    at = rng.randint(20, 90)
                    seq = (seq[:at] + adapter + seq)[:100]
                quals = "".join(chr(33 + rng.randint(2 if j > 90 else 28, 40))
                                for j in range(100))
                out.write(f"@r{i}\n{seq}\n+\n{quals}\n")
    return paths


def test_cutadapt_text_and_json_reports_agree(tmp_path: Path) -> None:
    """The real cutadapt (4.2) and Trim Galore (0.6.10): the text report, the `--json` one
    and Trim Galore's report of the same run give one set of numbers under one set of
    names; 0.10.x knew none of them."""
    r1, r2 = _reads_with_adapters(tmp_path)
    args = ["-a", "AGATCGGAAGAGC", "-q", "20", "-m", "30"]
    for name, extra, inputs in (("pe", ["-A", "AGATCGGAAGAGC", "-p", str(tmp_path / "o2.fq")],
                                 [r1, r2]), ("se", [], [r1])):
        text = tmp_path / f"{name}.log"
        with open(text, "w") as log:
            subprocess.run(["cutadapt", *args, *extra, "--json", str(tmp_path / f"{name}.json"),
                            "-o", str(tmp_path / "o1.fq"), *map(str, inputs)], check=True,
                           stdout=log, stderr=subprocess.STDOUT)
        from_text = report(text)
        assert from_text["format"] == "cutadapt"
        assert from_text["metrics"] == report(tmp_path / f"{name}.json")["metrics"], name
        minimal = write(tmp_path / f"{name}.minimal", subprocess.run(
            ["cutadapt", "--report=minimal", *args, *extra, "-o", str(tmp_path / "o1.fq"),
             *map(str, inputs)], check=True, capture_output=True, text=True).stdout)
        terse = report(minimal)["metrics"]
        # the same numbers; it also writes 0 for filters that were off, and has no
        # per-read count of the bases processed
        shared = set(terse) & set(from_text["metrics"])
        assert {k: terse[k] for k in shared} == {k: from_text["metrics"][k] for k in shared}
        assert len(shared) >= 12 and all(terse[k] == 0 for k in set(terse) - shared
                                         if k != "cutadapt_status")
    pe = report(tmp_path / "pe.log")["metrics"]
    # 4,000 pairs, not 4.0: cutadapt's comma is a thousands separator in every locale
    assert pe["Total read pairs processed"] == 4000
    assert pe["Pairs written (passing filters)"] + pe["Pairs that were too short"] == 4000
    assert pe["Total basepairs processed"] == 800000 == (
        pe["Total basepairs processed (Read 1)"] + pe["Total basepairs processed (Read 2)"])
    lines = (tmp_path / "o1.fq").read_text().splitlines()  # the single-end run wrote it last
    written = sum(len(line) for line in lines[1::4])
    assert report(tmp_path / "se.log")["metrics"]["Total written (filtered)"] == written

    subprocess.run(["trim_galore", "--paired", "--length", "80", str(r1), str(r2), "-o",
                    str(tmp_path / "tg")], check=True, capture_output=True)
    galore = report(tmp_path / "tg" / "r1.fq_trimming_report.txt")["metrics"]
    command = next(line for line in (tmp_path / "tg" / "r1.fq_trimming_report.txt")
                   .read_text().splitlines() if line.startswith("Command line parameters"))
    same = subprocess.run(["cutadapt", *command.split(": ", 1)[1].split()[:-1], str(r1)],
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    assert galore == report(write(tmp_path / "same.log", same.stderr + same.stdout))["metrics"]
    assert galore["Reads with adapters"] > 0
    # the second read's report ends with Trim Galore's validation of the pairs
    second = report(tmp_path / "tg" / "r2.fq_trimming_report.txt")["metrics"]
    kept = len((tmp_path / "tg" / "r1_val_1.fq").read_text().splitlines()) // 4
    assert second["Pairs removed (length cutoff)"] == 4000 - kept > 100


def test_cutadapt_1x_reports_and_bad_ones(tmp_path: Path) -> None:
    """cutadapt 1.x's layout (before `=== Summary ===`: indented lines, sizes in Mbp
    beside the bases, `% of total`), as public 1.2.1 and 1.6 reports have it; two runs in
    one file, and a summary cut off, are one line each."""
    old = ("This is cutadapt 1.6 with Python 2.7.3\n"
           "Command line parameters: --format=fastq --front=adapt=CACG in.fq\n"
           "Maximum error rate: 10.00%\n   No. of adapters: 1\n"
           "   Processed reads:       223134\n"
           "   Processed bases:     22536534 bp (22.5 Mbp)\n"
           "     Trimmed reads:        46784 (21.0%)\n"
           "   Quality-trimmed:      1035218 bp (1.0 Mbp) (4.59% of total)\n"
           "     Trimmed bases:      2298474 bp (2.3 Mbp) (10.20% of total)\n"
           "   Too short reads:            0 (0.0% of processed reads)\n"
           "        Total time:      2.63 s\n\n=== Adapter 'adapt' ===\n\n"
           "Sequence: CACG; Length: 4; Trimmed: 46784 times.\n")
    metrics = report(write(tmp_path / "old.log", old))["metrics"]
    assert metrics["cutadapt_version"] == "1.6"
    assert (metrics["Processed reads"], metrics["Processed bases"], metrics["Trimmed reads"],
            metrics["Trimmed reads %"], metrics["Quality-trimmed %"],
            metrics["Too short reads"]) == (223134, 22536534, 46784, 21.0, 4.59, 0)
    older = old.replace("This is cutadapt 1.6 with Python 2.7.3", "cutadapt version 1.2.1")
    assert report(write(tmp_path / "older.log", older))["metrics"]["Processed reads"] == 223134
    with pytest.raises(ReportError, match=r"2 cutadapt reports \(lines 1, 16\)"):
        report(write(tmp_path / "two.log", old + old))
    with pytest.raises(ReportError, match="truncated: a cutadapt report without its summary"):
        report(write(tmp_path / "cut.log", "\n".join(old.splitlines()[:3]) + "\n"))
    with pytest.raises(ReportError, match=r"read_counts\.input: expected a count"):
        report(write(tmp_path / "bad.json", json.dumps({
            "tag": "Cutadapt report", "read_counts": {"input": -1},
            "basepair_counts": {"input": 1}})))


def test_a_folder_s_multiqc_data_is_not_taken_for_a_fastp_report(tmp_path: Path) -> None:
    """`genscale quality DIR` on a pipeline's results: MultiQC's multiqc_data.json holds
    fastp's sections further in (its `summary` among them) and is passed over; a fastp
    report (its summary first, as fastp writes it) is found."""
    write(tmp_path / "multiqc" / "multiqc_data.json", json.dumps({
        "report_data_sources": {"fastp": {"all_sections": {"s1": "s1.fastp.json"}}},
        "report_saved_raw_data": {"multiqc_fastp": {"s1": {
            "summary": {"before_filtering": {"total_reads": 10}}}}}}, indent=1))
    fastp = write(tmp_path / "fastp" / "s1.fastp.json", json.dumps({
        "summary": {"fastp_version": "0.23.2", "before_filtering": {"total_reads": 10},
                    "after_filtering": {"total_reads": 9}},
        "filtering_result": {"passed_filter_reads": 9}}, indent="\t"))
    assert find_reports(tmp_path) == [fastp]
    assert report(fastp)["metrics"]["after_filtering.total_reads"] == 9


def _vcf(path: Path, records: list[tuple[int, str, str]]) -> Path:
    header = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=10000>\n"
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    body = "".join(f"chr1\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t.\n" for pos, ref, alt in records)
    plain = write(path.with_suffix(""), header + body)
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(path), str(plain)], check=True)
    subprocess.run(["bcftools", "index", str(path)], check=True)
    return path


def test_bcftools_stats_is_not_taken_for_samtools_stats(tmp_path: Path) -> None:
    """The real bcftools (1.16): its `SN` lines look like samtools stats' own, and 0.10.x
    read a bcftools stats file as one, exit 0 with `{"0": "number of multiallelic SNP
    sites:"}`; now its numbers, and with two VCFs compared each set's."""
    # 3 transitions (A>G, C>T, G>A), 1 transversion (A>C), 1 deletion
    one = _vcf(tmp_path / "one.vcf.gz", [(10, "A", "G"), (20, "C", "T"), (30, "G", "A"),
                                         (40, "A", "C"), (50, "AT", "A")])
    stats = write(tmp_path / "one.stats", subprocess.run(
        ["bcftools", "stats", str(one)], capture_output=True, text=True, check=True).stdout)
    parsed = report(stats)
    assert parsed["format"] == "bcftools-stats"
    m = parsed["metrics"]
    assert (m["number of records"], m["number of SNPs"], m["number of indels"]) == (5, 4, 1)
    assert (m["ts"], m["tv"], m["ts/tv"]) == (3, 1, 3.0)
    two = _vcf(tmp_path / "two.vcf.gz", [(10, "A", "G"), (60, "T", "C")])
    both = write(tmp_path / "both.stats", subprocess.run(
        ["bcftools", "stats", str(one), str(two)], capture_output=True, text=True,
        check=True).stdout)
    m = report(both)["metrics"]
    # set 0: only in the first, 1: only in the second, 2: in both
    assert (m["set 0: number of records"], m["set 1: number of records"],
            m["set 2: number of records"]) == (4, 1, 1)
    with pytest.raises(ReportError, match="2 bcftools stats outputs in one file"):
        report(write(tmp_path / "cat.stats", stats.read_text() * 2))
    samtools_stats = ("# This file was produced by samtools stats (1.16.1+htslib-1.16)\n"
                      "SN\traw total sequences:\t10\n")
    with pytest.raises(ReportError, match="2 samtools stats outputs in one file"):
        report(write(tmp_path / "cat2.stats", samtools_stats * 2))


def test_bed_files_are_not_taken_for_idxstats(tmp_path: Path) -> None:
    """Four tab-separated columns are not enough: a BED file (a name last) was a traceback
    and a bedGraph one (a number last) or STAR's gene counts read as idxstats with exit 0;
    an idxstats output cut before its `*` line is one line, not an undercount."""
    bed = write(tmp_path / "targets.bed", "chr1\t100\t200\tgeneA\nchr1\t300\t400\tgeneB\n")
    graph = write(tmp_path / "depth.bedgraph", "chr1\t0\t100\t5\nchr1\t100\t200\t7\n")
    genes = write(tmp_path / "ReadsPerGene.out.tab",  # STAR --quantMode GeneCounts
                  "N_unmapped\t267\t267\t267\nN_multimapping\t24\t24\t24\n"
                  "N_noFeature\t40\t400\t410\nN_ambiguous\t10\t0\t0\nENSG01\t5\t0\t5\n")
    idxstats = "chr1\t1000\t50\t2\nchr2\t800\t40\t1\n*\t0\t0\t9\n"
    real = write(tmp_path / "idxstats.txt", idxstats)
    for path in (bed, graph, genes):
        with pytest.raises(ReportError, match="unknown format"):
            report(path)
    assert find_reports(tmp_path) == [real]
    assert report(real)["metrics"] == {"mapped": 90, "unmapped": 12, "sequences": 3}
    with pytest.raises(ReportError, match=r"truncated: no '\*' line"):
        report(write(tmp_path / "cut.txt", idxstats.rsplit("*", 1)[0]))


def test_quality_cli_says_when_no_row_is_the_samples(tmp_path: Path) -> None:
    """A class of per-substitution rows (ErrorSummaryMetrics, as CollectSequencingArtifact
    Metrics writes it): no summary, and the human output says so instead of a table of the
    first row (0.10.x printed REF_BASE A, ALT_BASE C, ... as the sample's)."""
    path = write(tmp_path / "error_summary_metrics", "## htsjdk.samtools.metrics.StringHeader\n"
                 "# CollectSequencingArtifactMetrics INPUT=a.bam\n\n## METRICS CLASS\t"
                 "picard.analysis.artifacts.ErrorSummaryMetrics\nREF_BASE\tALT_BASE\t"
                 "SUBSTITUTION\tREF_COUNT\tALT_COUNT\tSUBSTITUTION_RATE\n"
                 "A\tC\tA>C\t1000\t2\t0.002\nA\tG\tA>G\t1000\t5\t0.005\n")
    parsed = report(path)
    assert parsed["type"] == "ErrorSummaryMetrics" and parsed["metrics"] == {}
    assert len(parsed["rows"]) == 2
    proc = subprocess.run([GENSCALE, "quality", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "(picard ErrorSummaryMetrics)" in proc.stdout
    assert "2 rows (bins, cycles or substitutions), none of them the sample's" in proc.stdout


def test_gzipped_reports_and_files_that_are_no_report(tmp_path: Path) -> None:
    """A report kept gzipped reads as itself and is found in a folder; a BAM (gzip too) or
    anything over 256 MiB given by mistake is one line, not read whole into memory."""
    import gzip

    original = Path(__file__).parent / "data" / "flagstat" / "default.txt"
    packed = tmp_path / "flagstat.txt.gz"
    packed.write_bytes(gzip.compress(original.read_bytes()))
    assert report(packed)["metrics"] == report(original)["metrics"]
    bam = tmp_path / "reads.bam"
    sam = write(tmp_path / "reads.sam", "@HD\tVN:1.6\n@SQ\tSN:c\tLN:100\n"
                "r\t0\tc\t1\t60\t4M\t*\t0\t0\tACGT\tIIII\n")
    subprocess.run(["samtools", "view", "-b", "-o", str(bam), str(sam)], check=True)
    with pytest.raises(ReportError, match="binary content"):
        report(bam)
    assert find_reports(tmp_path) == [packed]
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(257 * 2**20)  # sparse: no disk used
    with pytest.raises(ReportError, match="more than 256 MiB"):
        report(huge)
    with pytest.raises(ReportError, match="a corrupt or truncated gzip file"):
        report(write_bytes(tmp_path / "cut.txt.gz", packed.read_bytes()[:-12]))


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_two_reports_of_one_kind_in_a_run_keep_both(tmp_path: Path) -> None:
    """A spec that writes two reports of one kind (both reads' trimming reports, two
    flagstats) into `work/metrics/`: the second gets `<source>_2.*` features (0.10.x: its
    numbers overwrote the first's under the same names)."""
    from genscale.quality.table import run_features

    run = tmp_path / "run"
    write(run / "run.json", json.dumps({"run_id": "run"}))
    first = (Path(__file__).parent / "data" / "flagstat" / "default.txt").read_text()
    total = int(first.split(" ", 1)[0])
    write(run / "work" / "metrics" / "a_flagstat.txt", first)
    write(run / "work" / "metrics" / "b_flagstat.txt",
          first.replace(f"{total} + ", f"{total + 7} + ", 1))
    row = run_features(run)
    assert row["flagstat.in total"] == total and row["flagstat_2.in total"] == total + 7


def test_samtools_markdup_statistics_agree_with_picard(dnaseq_run: RunDirectory,
                                                       tmp_path: Path) -> None:
    """`samtools markdup -s` (the real samtools 1.16) on the BAM Picard's MarkDuplicates
    marked in the dnaseq run: its duplicate fraction is Picard's PERCENT_DUPLICATION (both a
    fraction of the reads examined); 0.10.x: "unknown format". Its JSON layout (samtools
    1.17 on, same keys) reads the same."""
    work = dnaseq_run.path / "work"
    steps = [["samtools", "collate", "-o", "col.bam", str(work / "align" / "markdup.bam")],
             ["samtools", "fixmate", "-m", "col.bam", "fix.bam"],
             ["samtools", "sort", "-o", "sorted.bam", "fix.bam"]]
    for step in steps:
        subprocess.run(step, check=True, capture_output=True, cwd=tmp_path)
    stats = subprocess.run(["samtools", "markdup", "-s", "sorted.bam", "md.bam"], check=True,
                           capture_output=True, text=True, cwd=tmp_path).stderr
    parsed = report(write(tmp_path / "markdup.stats", stats))
    assert parsed["format"] == "samtools-markdup"
    m = parsed["metrics"]
    assert m["EXAMINED"] == m["PAIRED"] + m["SINGLE"] > 0
    picard_dup = report(work / "metrics" / "markdup.txt")["metrics"]["PERCENT_DUPLICATION"]
    assert m["DUPLICATE FRACTION"] == pytest.approx(picard_dup, abs=2e-6)
    counts = {k: v for k, v in m.items() if k != "DUPLICATE FRACTION"}
    as_json = write(tmp_path / "markdup.json", json.dumps(
        {"COMMAND": "samtools markdup --json -s sorted.bam md.bam", **counts}, indent=4))
    assert report(as_json)["metrics"] == m
    with pytest.raises(ReportError, match="2 samtools markdup outputs in one file"):
        report(write(tmp_path / "two.stats", stats + stats))
    with pytest.raises(ReportError, match=r"line \d+: EXAMINED: expected a count"):
        report(write(tmp_path / "bad.stats", re.sub(r"EXAMINED: \d+", "EXAMINED: many",
                                                    stats)))
