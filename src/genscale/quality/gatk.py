"""GATK reports (`#:GATKReport.v1.1`), such as BaseRecalibrator's recalibration tables."""

from __future__ import annotations

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
            fmt = line.split(":")
            expected_rows = int(fmt[3]) if len(fmt) > 3 and fmt[3].isdigit() else None
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
    metrics: dict[str, Any] = {}
    # BaseRecalibrator: the read-group table holds the empirical quality and the errors
    rg = tables.get("RecalTable0")
    if rg and rg["rows"]:
        cols = rg["columns"]
        row = dict(zip(cols, rg["rows"][0], strict=False))
        for key in ("EmpiricalQuality", "EstimatedQReported", "Observations", "Errors"):
            if key in row:
                metrics[key] = row[key]
    return {"format": "gatk-report", "tables": tables, "metrics": metrics}
