"""The QC summary of a run's reports, as MultiQC's general statistics: per tool, one row per
report with the few numbers a reader checks first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from genscale.quality.detect import find_reports, parse_report
from genscale.quality.errors import ReportError

# (format, Picard metrics class or "") -> the headline metrics, in the order shown
HEADLINES: dict[tuple[str, str], tuple[str, ...]] = {
    ("fastqc", ""): ("Total Sequences", "Sequence length", "%GC",
                     "Total Deduplicated Percentage", "Sequences flagged as poor quality"),
    ("picard", "DuplicationMetrics"): ("READ_PAIRS_EXAMINED", "READ_PAIR_DUPLICATES",
                                       "READ_PAIR_OPTICAL_DUPLICATES", "PERCENT_DUPLICATION"),
    ("picard", "WgsMetrics"): ("GENOME_TERRITORY", "MEAN_COVERAGE", "SD_COVERAGE",
                               "PCT_10X", "PCT_30X", "PCT_EXC_MAPQ", "PCT_EXC_DUPE"),
    ("picard", "AlignmentSummaryMetrics"): ("TOTAL_READS", "PCT_PF_READS_ALIGNED",
                                            "PF_MISMATCH_RATE", "PCT_ADAPTER", "PCT_CHIMERAS"),
    ("picard", "InsertSizeMetrics"): ("MEDIAN_INSERT_SIZE", "MEAN_INSERT_SIZE",
                                      "STANDARD_DEVIATION", "READ_PAIRS"),
    ("samtools-flagstat", ""): ("in total", "mapped", "mapped %", "properly paired %",
                                "duplicates"),
    ("samtools-stats", ""): ("raw total sequences", "reads mapped", "error rate",
                             "average length", "insert size average"),
    ("trimmomatic", ""): ("Input Read Pairs", "Input Reads", "Both Surviving %",
                          "Surviving %", "Dropped %"),
    ("star", ""): ("Number of input reads", "Uniquely mapped reads %",
                   "% of reads mapped to multiple loci", "% of reads unmapped: too short"),
    ("cutadapt", ""): ("Total reads processed", "Total read pairs processed",
                       "Reads with adapters %", "Read 1 with adapter %",
                       "Read 2 with adapter %", "Quality-trimmed %",
                       "Total written (filtered) %"),
    ("picard", "QualityScoreDistribution"): ("MEAN_QUALITY", "PCT_Q20", "PCT_Q30"),
    ("fastp", ""): ("before_filtering.total_reads", "after_filtering.total_reads",
                    "duplication.rate", "adapter_cutting.adapter_trimmed_reads"),
}
MAX_COLUMNS = 6  # a report of a kind without headlines shows its first numbers


def _kind(report: dict[str, Any]) -> tuple[str, str]:
    return str(report.get("format", "")), str(report.get("type", "") or "")


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    metrics = report.get("metrics") or {}
    wanted = HEADLINES.get(_kind(report)) or HEADLINES.get((_kind(report)[0], ""))
    if wanted:
        return {name: metrics[name] for name in wanted if name in metrics}
    numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    return dict(list(numbers.items())[:MAX_COLUMNS])


def qc_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Per kind of report ("fastqc", "picard WgsMetrics", ...), a table of the run's
    reports (under `work/` and `logs/`) with their headline metrics. A file that looks like a
    report but does not parse is listed with its error, not dropped."""
    rows: dict[str, list[dict[str, Any]]] = {}
    folders = [run_dir / "work", run_dir / "logs"]
    for path in [p for folder in folders if folder.is_dir() for p in find_reports(folder)]:
        try:
            report = parse_report(path)
        except ReportError as exc:
            rows.setdefault("unreadable", []).append({"report": _relative(path, run_dir),
                                                      "error": str(exc)})
            continue
        fmt, kind = _kind(report)
        title = f"{fmt} {kind}".strip()
        rows.setdefault(title, []).append({"report": _relative(path, run_dir),
                                           **_headline(report)})
    return {title: pd.DataFrame(found) for title, found in sorted(rows.items())}


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)
