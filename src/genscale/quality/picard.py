"""Picard metrics files of any class, Picard 1.x to 3.x (`net.sf.picard.`, `picard.sam.` or
`picard.analysis.` class names, inner classes such as `CollectWgsMetrics$WgsMetrics`), with
one or many rows and an optional histogram; GATK4's own classes (MarkDuplicatesSpark's
`GATKDuplicationMetrics`); and Sentieon's Picard-compatible metrics (`--algo Dedup`,
`AlignmentStat`, `InsertSizeMetricAlgo`, `WgsMetricsAlgo`, ...), whose class is told by
their header, as they name none; and the files that hold a histogram alone
(MeanQualityByCycle, QualityScoreDistribution), told by its columns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

# typed accessors: the metric class (without its package) -> the fields worth a name
KNOWN_CLASSES = {
    "DuplicationMetrics": ("PERCENT_DUPLICATION", "READ_PAIR_DUPLICATES",
                           "READ_PAIR_OPTICAL_DUPLICATES", "ESTIMATED_LIBRARY_SIZE"),
    "WgsMetrics": ("MEAN_COVERAGE", "SD_COVERAGE", "MEDIAN_COVERAGE", "PCT_EXC_DUPE",
                   "PCT_EXC_MAPQ", "PCT_20X"),
    "AlignmentSummaryMetrics": ("TOTAL_READS", "PCT_PF_READS_ALIGNED", "PF_MISMATCH_RATE",
                                "PCT_ADAPTER", "MEAN_READ_LENGTH", "PCT_CHIMERAS"),
    "InsertSizeMetrics": ("MEDIAN_INSERT_SIZE", "MEAN_INSERT_SIZE", "STANDARD_DEVIATION",
                          "PAIR_ORIENTATION"),
}


# classes of other tools and versions that are a known class under another name, with
# its columns: GATK4's Spark MarkDuplicates; the whole-genome row of CollectWgsMetrics
# WithNonZeroCoverage is CollectWgsMetrics' (`_summary` takes it)
ALIASES = {"GATKDuplicationMetrics": "DuplicationMetrics",
           "WgsMetricsWithNonZeroCoverage": "WgsMetrics"}
# Sentieon's files: the class by the header's columns, the first that all match
SENTIEON_HEADERS = (
    ("DuplicationMetrics", ("UNPAIRED_READS_EXAMINED", "READ_PAIRS_EXAMINED")),
    ("AlignmentSummaryMetrics", ("CATEGORY", "TOTAL_READS", "PF_READS_ALIGNED")),
    ("InsertSizeMetrics", ("MEDIAN_INSERT_SIZE", "PAIR_ORIENTATION")),
    ("HsMetrics", ("BAIT_SET", "MEAN_TARGET_COVERAGE")),
    ("WgsMetrics", ("GENOME_TERRITORY", "MEAN_COVERAGE")),
)
SENTIEON_MARK = "#SentieonCommandLine:"


def class_name(klass: str) -> str:
    """A metrics class's name without its package or outer class, as Picard 2.x names
    it: `net.sf.picard.analysis.CollectWgsMetrics$WgsMetrics` -> `WgsMetrics`."""
    short = re.split(r"[.$]", klass.strip())[-1]
    return ALIASES.get(short, short)


# columns of the known classes that hold text; every other column of theirs is a number
TEXT_COLUMNS = {"CATEGORY", "PAIR_ORIENTATION", "LIBRARY", "SAMPLE", "READ_GROUP",
                "ACCUMULATION_LEVEL"}


def _table(path: Path, lines: list[str], start: int, numeric: bool
           ) -> tuple[list[str], list[list[Any]], int]:
    """(header, rows, next line) of the table whose header is line `start`; a row with
    another number of fields than the header, or (`numeric`) text in a number column, is a
    ReportError naming its line and column: read on, every later value would be shifted."""
    header = lines[start].split("\t")
    # Sentieon ends its header and rows with a tab: an empty last column, not a field
    trailing = len(header) > 1 and header[-1] == ""
    if trailing:
        header = header[:-1]
    rows = []
    i = start + 1
    while i < len(lines) and lines[i].strip() and not lines[i].startswith("#"):
        fields = lines[i].split("\t")
        if trailing and len(fields) == len(header) + 1 and fields[-1] == "":
            fields = fields[:-1]
        if len(fields) != len(header):
            raise ReportError(path, f"line {i + 1}: {len(fields)} fields where the header "
                                    f"on line {start + 1} has {len(header)}")
        values = [number(v) for v in fields]
        for column, value in zip(header, values, strict=True):
            if numeric and isinstance(value, str) and column not in TEXT_COLUMNS:
                raise ReportError(path, f"line {i + 1}: {column}: expected a number, got "
                                        f"{value!r}")
        rows.append(values)
        i += 1
    return header, rows, i


def parse(path: Path, text: str | None = None) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8-sig", errors="replace") if text is None else text
    lines = text.splitlines()
    classes = [i for i, line in enumerate(lines) if line.startswith("## METRICS CLASS")]
    if len(classes) > 1:
        # Picard writes one class a file: more are files put together, several samples'
        # perhaps, and one file's numbers are one sample's here
        raise ReportError(path, f"{len(classes)} metrics classes (lines "
                                f"{', '.join(str(i + 1) for i in classes)}): Picard files "
                                "concatenated? one report a file")
    at = classes[0] if classes else None
    if at is None and lines and lines[0].startswith(SENTIEON_MARK):
        return _parse_sentieon(path, lines)
    if at is None and any(line.startswith("## HISTOGRAM") for line in lines):
        return _parse_histogram_only(path, lines)
    if at is None:
        raise ReportError(path, "not a Picard metrics file (no '## METRICS CLASS' line)")
    klass = lines[at].split("\t", 1)[1].strip() if "\t" in lines[at] else ""
    if at + 1 >= len(lines) or not lines[at + 1].strip():
        raise ReportError(path, f"truncated: {klass or 'the metrics class'} has no header row")
    command = next((line[2:] for line in lines if line.startswith("# ") and "--" in line), None)
    return _report(path, lines, at + 1, klass, class_name(klass), command)


def _parse_sentieon(path: Path, lines: list[str]) -> dict[str, Any]:
    """Sentieon's layout: its command line, then a Picard table (and perhaps a histogram)
    under no class line; the class is the one whose columns the header has."""
    start = next((i for i in range(1, len(lines))
                  if lines[i].strip() and not lines[i].startswith("#")), None)
    if start is None:
        raise ReportError(path, "truncated: a Sentieon metrics file without a header row")
    command = lines[0][len(SENTIEON_MARK):].strip()
    if tuple(lines[start].split("\t")[:2]) in HISTOGRAM_ONLY:
        return _histogram_report(path, lines, start, command)
    header = set(lines[start].split("\t"))
    short = next((name for name, needed in SENTIEON_HEADERS if header.issuperset(needed)),
                 None)
    algo = re.search(r"--algo (\S+)", lines[0])
    if short is None:  # not one of the known classes: named by its algorithm
        short = algo[1] if algo else "SentieonMetrics"
    return _report(path, lines, start, f"sentieon.{short}", short, command, sentieon=True)


# files of a histogram and no metrics class, told by the histogram's columns: what each
# program is, and the sample's numbers drawn from its histogram
HISTOGRAM_ONLY: dict[tuple[str, ...], str] = {
    ("CYCLE", "MEAN_QUALITY"): "MeanQualityByCycle",
    ("QUALITY", "COUNT_OF_Q"): "QualityScoreDistribution",
}


def _parse_histogram_only(path: Path, lines: list[str]) -> dict[str, Any]:
    at = next(i for i, line in enumerate(lines) if line.startswith("## HISTOGRAM"))
    if at + 1 >= len(lines) or not lines[at + 1].strip():
        raise ReportError(path, "truncated: a Picard histogram without a header row")
    command = next((line[2:] for line in lines if line.startswith("# ")), None)
    return _histogram_report(path, lines, at + 1, command)


def _histogram_report(path: Path, lines: list[str], header_at: int,
                      command: str | None) -> dict[str, Any]:
    """MeanQualityByCycle's and QualityScoreDistribution's files (Picard's and Sentieon's):
    a histogram alone. `metrics`: MEAN_QUALITY (over the cycles, as MEAN_ORIGINAL_QUALITY
    where written; over the bases, weighted by their counts) and, of the score
    distribution, PCT_Q20 and PCT_Q30 (fractions of bases, as Picard writes a PCT)."""
    at = header_at - 1
    header, rows, _ = _table(path, lines, header_at, numeric=True)
    short = HISTOGRAM_ONLY.get(tuple(header[:2]), "Histogram")
    if not rows:
        raise ReportError(path, f"truncated: the {short} histogram has a header but no rows")
    for number_, row in enumerate(rows, start=at + 3):
        if any(not isinstance(v, int | float) or v < 0 for v in row[:2]):
            raise ReportError(path, f"line {number_}: expected two numbers of 0 or more, "
                                    f"got {row[:2]}")
    metrics: dict[str, Any] = {}
    if short == "MeanQualityByCycle":
        # and MEAN_ORIGINAL_QUALITY where the reads kept their scores before recalibration
        for column, name in enumerate(header[1:], start=1):
            values = [r[column] for r in rows if isinstance(r[column], int | float)]
            if values:
                metrics[name] = round(sum(values) / len(values), 6)
    elif short == "QualityScoreDistribution":
        bases = sum(r[1] for r in rows)
        if bases > 0:
            metrics["MEAN_QUALITY"] = round(sum(r[0] * r[1] for r in rows) / bases, 6)
            for q in (20, 30):
                metrics[f"PCT_Q{q}"] = round(sum(r[1] for r in rows if r[0] >= q) / bases, 6)
    return {"format": "picard", "class": short, "type": short, "command": command,
            "rows": [], "metrics": metrics, "histogram": {"columns": header, "rows": rows}}


def _report(path: Path, lines: list[str], header_at: int, klass: str, short: str,
            command: str | None, sentieon: bool = False) -> dict[str, Any]:
    """The report of the table whose header is line `header_at`, of class `klass`
    (`short`, its `class_name`), with the histogram after it if any: under a `## HISTOGRAM`
    line, or in Sentieon's files the next table after a blank line. A table without rows
    followed by its histogram's header is a report of no reads (`metrics` empty: Sentieon
    writes one for an input without pairs); without anything after it, one cut short."""
    header, rows, end = _table(path, lines, header_at, numeric=short in KNOWN_CLASSES)
    if sentieon:
        hist_header = next((i for i in range(end, len(lines))
                            if lines[i].strip() and not lines[i].startswith("#")), None)
    else:
        marker = next((i for i, line in enumerate(lines) if line.startswith("## HISTOGRAM")),
                      None)
        hist_header = marker + 1 if marker is not None and marker + 1 < len(lines) else None
    if not rows and hist_header is None:
        raise ReportError(path, f"truncated: {klass} has a header but no rows")
    records = [dict(zip(header, r, strict=False)) for r in rows]
    out: dict[str, Any] = {"format": "picard", "class": klass, "type": short,
                           "command": command, "rows": records,
                           # the summary row: the first (or only) row, the one of all reads,
                           # or the libraries of a DuplicationMetrics merged
                           "metrics": _summary(records, short) if records else {}}
    if hist_header is not None and lines[hist_header].strip():
        h_header, h_rows, _ = _table(path, lines, hist_header, numeric=True)
        out["histogram"] = {"columns": h_header, "rows": h_rows}
    return out


def _summary(records: list[dict[str, Any]], short: str) -> dict[str, Any]:
    if short == "DuplicationMetrics" and len(records) > 1:
        return merged_duplication(records)
    if short == "InsertSizeMetrics" and len(records) > 1:
        # one row per pair orientation (FR, RF, TANDEM): the one most pairs have
        return max(records, key=lambda r: r.get("READ_PAIRS") or 0)
    if len(records) == 1:
        return records[0]
    for key, value in (("CATEGORY", "PAIR"), ("CATEGORY", "UNPAIRED"),
                       ("CATEGORY", "WHOLE_GENOME")):
        match = [r for r in records if r.get(key) == value]
        if match:
            return match[0]
    # METRIC_ACCUMULATION_LEVEL: the row of all reads has no sample, library nor read group
    levels = [c for c in ("SAMPLE", "LIBRARY", "READ_GROUP") if c in records[0]]
    whole = [r for r in records if levels and all(r.get(c) in (None, "") for c in levels)]
    if len(whole) == 1:
        return whole[0]
    all_reads = [r for r in records if r.get("ACCUMULATION_LEVEL") == "All Reads"]
    if len(all_reads) == 1:
        return all_reads[0]
    # rows of bins, cycles or substitutions (GcBiasDetailMetrics, ErrorSummaryMetrics, ...):
    # no row is the sample's, and the first one's numbers are not its numbers
    return {}


def merged_duplication(records: list[dict[str, Any]]) -> dict[str, Any]:
    """MarkDuplicates' rows of several libraries as one sample's: the counts summed,
    PERCENT_DUPLICATION derived from the sums as Picard derives it for a library ((unpaired
    duplicates + 2 x pair duplicates) / (unpaired examined + 2 x pairs examined)), and the
    libraries' ESTIMATED_LIBRARY_SIZE summed (they are distinct molecules; unknown when one
    library has none); not the first library's alone. A library that examined no read is
    left out (some Picard 2.x files hold one, unnamed, PERCENT_DUPLICATION `?`)."""
    derived = ("PERCENT_DUPLICATION", "ESTIMATED_LIBRARY_SIZE")
    # a library that examined no read at all (Picard writes one with no name and `?`) adds
    # nothing, and has no size to spoil the others' sum with
    examined_any = [r for r in records if any(
        isinstance(r.get(c), int | float) and r[c] > 0
        for c in ("UNPAIRED_READS_EXAMINED", "READ_PAIRS_EXAMINED"))]
    records = examined_any or records
    if len(records) == 1:
        return records[0]
    out: dict[str, Any] = {"LIBRARY": f"{len(records)} libraries"}
    for column in records[0]:
        if column in TEXT_COLUMNS or column in derived:
            continue
        numbers = [v for r in records if isinstance(v := r.get(column), int | float)]
        out[column] = sum(numbers) if numbers else None
    examined = (out.get("UNPAIRED_READS_EXAMINED") or 0) + 2 * (out.get("READ_PAIRS_EXAMINED")
                                                                or 0)
    duplicates = (out.get("UNPAIRED_READ_DUPLICATES") or 0) + 2 * (
        out.get("READ_PAIR_DUPLICATES") or 0)
    out["PERCENT_DUPLICATION"] = round(duplicates / examined, 6) if examined else 0
    sizes = [r.get("ESTIMATED_LIBRARY_SIZE") for r in records]
    # a library without pairs has no estimate: then neither has the sample
    known = all(isinstance(v, int | float) for v in sizes)
    out["ESTIMATED_LIBRARY_SIZE"] = sum(sizes) if known else None
    return out


def typed(report: dict[str, Any]) -> dict[str, Any]:
    """The named fields of a known class (DuplicationMetrics, WgsMetrics, ...)."""
    fields = KNOWN_CLASSES.get(report.get("type", ""), ())
    return {f: report["metrics"].get(f) for f in fields}
