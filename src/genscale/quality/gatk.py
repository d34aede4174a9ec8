"""GATK reports (`#:GATKReport.v1.0` and `v1.1`), such as BaseRecalibrator's recalibration
tables, GATK 2.x to 4.x: a table's format line is `#:GATKTable:COLUMNS:ROWS:FORMATS:;`,
or in GATK 2.x `#:GATKTable:true|false:COLUMNS:ROWS:...` (as its documentation shows)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number


def parse(path: Path, text: str) -> dict[str, Any]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("#:GATKReport."):
        raise ReportError(path, "not a GATK report (no #:GATKReport line)")
    tables: dict[str, Any] = {}
    i = 1
    while i < len(lines):
        line = lines[i]
        if line.startswith("#:GATKTable:") and i + 1 < len(lines) \
                and lines[i + 1].startswith("#:GATKTable:"):
            # a format line (columns, rows, formats) then a name line
            fmt = line.split(":")[2:]
            if fmt and fmt[0] in ("true", "false"):  # GATK 2.x's leading flag
                fmt = fmt[1:]
            expected_rows = int(fmt[1]) if len(fmt) > 1 and fmt[1].isdigit() else None
            name = lines[i + 1].split(":")[2]
            header = lines[i + 2].split() if i + 2 < len(lines) else []
            rows = []
            j = i + 3
            while j < len(lines) and lines[j].strip():
                rows.append([number(v) for v in lines[j].split()])
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
