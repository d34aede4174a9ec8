"""GATK reports (`#:GATKReport.v1.0` and `v1.1`), such as BaseRecalibrator's recalibration
tables, GATK 2.x to 4.x: a table's format line is `#:GATKTable:COLUMNS:ROWS:FORMATS:;`,
or in GATK 2.x `#:GATKTable:true|false:COLUMNS:ROWS:...` (as its documentation shows),
then its name line, header and rows, columns aligned with spaces. Sentieon's QualCal
writes BaseRecalibrator's tables under its own marks (`#:SENTIEON_QCAL_TABLE.V1:N`, format
lines `#:SENTIEON_QCAL_TABLE:COLUMNS:ROWS` with or without a closing `;`), tab-separated:
read as the same report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import measured_row, number

# the first line of a report, and the start of its tables' format and name lines
MARKS = {"#:GATKReport.": "#:GATKTable:", "#:SENTIEON_QCAL_TABLE.": "#:SENTIEON_QCAL_TABLE:"}


def is_report(head: str) -> bool:
    return head.startswith(tuple(MARKS))


def _fields(line: str) -> list[str]:
    """A row's fields: tab-separated (Sentieon) or aligned with spaces (GATK)."""
    return line.rstrip("\t").split("\t") if "\t" in line else line.split()


def parse(path: Path, text: str) -> dict[str, Any]:
    lines = text.splitlines()
    table_mark = next((t for r, t in MARKS.items() if lines and lines[0].startswith(r)), None)
    if table_mark is None:
        raise ReportError(path, "not a GATK report (no #:GATKReport line)")
    tables: dict[str, Any] = {}
    i = 1
    while i < len(lines):
        line = lines[i]
        if line.startswith(table_mark) and i + 1 < len(lines) \
                and lines[i + 1].startswith(table_mark):
            # a format line (columns, rows, formats) then a name line
            fmt = line.split(":")[2:]
            if fmt and fmt[0] in ("true", "false"):  # GATK 2.x's leading flag
                fmt = fmt[1:]
            rows_field = fmt[1].rstrip(";") if len(fmt) > 1 else ""
            expected_rows = int(rows_field) if rows_field.isdigit() else None
            name = lines[i + 1].split(":")[2]
            header = _fields(lines[i + 2]) if i + 2 < len(lines) else []
            rows = []
            j = i + 3
            while j < len(lines) and lines[j].strip():
                rows.append([number(v) for v in _fields(lines[j])])
                j += 1
            if expected_rows is not None and len(rows) != expected_rows:
                raise ReportError(path, f"truncated: table {name} has {len(rows)} of "
                                        f"{expected_rows} rows")
            tables[name] = {"columns": header, "rows": rows}
            i = j
        else:
            i += 1
    if not tables:
        raise ReportError(path, "a GATK report without tables")
    return {"format": "gatk-report", "tables": tables,
            "metrics": _read_group_summary(path, tables.get("RecalTable0"))}


def _read_group_summary(path: Path, table: dict[str, Any] | None) -> dict[str, Any]:
    """BaseRecalibrator's read-group table as one sample's numbers, of mismatches (its `M`
    rows; deletions and insertions are apart, `D` and `I`): one read group's row as
    written; several merged, Observations and Errors summed, EmpiricalQuality from the
    sums (-10 log10(errors / observations)) and EstimatedQReported from the expected
    errors summed, not the first row's (GATK 2.x writes the `D` rows first)."""
    if not table or not table["rows"]:
        return {}
    rows = [dict(zip(table["columns"], r, strict=False)) for r in table["rows"]]
    mismatches = [r for r in rows if r.get("EventType") == "M"] or rows
    keys = ("EmpiricalQuality", "EstimatedQReported", "Observations", "Errors")
    if len(mismatches) == 1:
        return {k: mismatches[0][k] for k in keys if k in mismatches[0]}
    counted = [r for r in mismatches if all(isinstance(r.get(k), int | float) for k in keys)]
    for r in counted:
        if not (0 <= r["Errors"] <= r["Observations"] and 0 <= r["EstimatedQReported"] <= 100):
            raise ReportError(path, f"RecalTable0: read group {r.get('ReadGroup')}: expected "
                                    "0 <= Errors <= Observations and a quality from 0 to 100")
    observations = sum(r["Observations"] for r in counted)
    errors = sum(r["Errors"] for r in counted)
    if not counted or observations <= 0:
        return {}
    expected = sum(r["Observations"] * 10 ** (-r["EstimatedQReported"] / 10) for r in counted)
    return {"EmpiricalQuality": round(-10 * math.log10(errors / observations), 4)
            if errors > 0 else None,
            "EstimatedQReported": round(-10 * math.log10(expected / observations), 4),
            "Observations": observations, "Errors": errors, "ReadGroups": len(counted)}


# DepthOfCoverage's `.sample_summary` (and `.read_group_summary`, `.library_summary`): GATK 3
# writes it tab-separated (CSV with `-outputFormat csv`), GATK 4 as CSV (tab-separated with
# `--output-format TABLE`); a `%_bases_above_N` column follows for each threshold
DEPTH_SUMMARY_HEADER = ("sample_id", "total", "mean", "granular_third_quartile",
                        "granular_median", "granular_first_quartile")


def _depth_separator(first_line: str) -> str:
    return "\t" if "\t" in first_line else ","


def is_depth_summary(head: str) -> bool:
    first = head.split("\n", 1)[0].rstrip()
    return tuple(first.split(_depth_separator(first))[:6]) == DEPTH_SUMMARY_HEADER


def parse_depth_summary(path: Path, text: str) -> dict[str, Any]:
    """A DepthOfCoverage summary: a row per sample (or read group, or library), then GATK's
    `Total` row (its quartiles `N/A`; without it the file was cut short). `metrics`: the
    one sample's row (`total` bases, `mean` depth over the loci covered by the run's
    intervals, the quartiles, each `%_bases_above_N`); a file of several samples has no
    one sample's numbers (`metrics` empty, `rows` holds them)."""
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    sep = _depth_separator(lines[0])
    header = lines[0].rstrip(sep).split(sep)
    rows: list[dict[str, Any]] = []
    for number_, line in enumerate(lines[1:], start=2):
        fields = line.rstrip(sep).split(sep)
        total_row = fields[0] == "Total"
        # GATK 3 writes the Total row without the threshold columns
        columns = header[:6] if total_row and len(fields) == 6 else header
        rows.append(measured_row(path, number_, columns, fields, missing_ok=total_row,
                                 hint=" (a decimal comma in a CSV?)" if sep == "," else ""))
    if not rows or rows[-1]["sample_id"] != "Total":
        raise ReportError(path, "truncated: no 'Total' row at the end (GATK DepthOfCoverage "
                                "writes it last)")
    samples = [r for r in rows if r["sample_id"] != "Total"]
    metrics = ({k: v for k, v in samples[0].items() if k != "sample_id"}
               if len(samples) == 1 else {})
    return {"format": "gatk-depthofcoverage", "samples": [r["sample_id"] for r in samples],
            "rows": rows, "metrics": metrics}
