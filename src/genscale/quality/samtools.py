"""samtools stats (its SN summary), flagstat and idxstats, samtools 1.x."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

_FLAGSTAT = re.compile(r"^(\d+) \+ (\d+) (.+?)(?: \(.*\))?$")


def parse_stats(path: Path, text: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("SN\t"):
            parts = line.split("\t")
            if len(parts) < 3:
                raise ReportError(path, f"malformed SN line: {line[:60]!r}")
            metrics[parts[1].rstrip(":")] = number(parts[2])
    if not metrics:
        raise ReportError(path, "a samtools stats file without its SN summary (truncated?)")
    return {"format": "samtools-stats", "metrics": metrics}


def parse_flagstat(path: Path, text: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for number_, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _FLAGSTAT.match(line.strip())
        if not m:
            raise ReportError(path, f"line {number_}: not a flagstat line: {line[:60]!r}")
        key = m[3].strip()
        metrics[key] = int(m[1])
        metrics[f"{key} (QC-failed)"] = int(m[2])
        pct = re.search(r"\(([\d.,]+)%", line)
        if pct:
            metrics[f"{key} %"] = number(pct[1])
    if "in total" not in metrics:
        raise ReportError(path, "a flagstat file without its 'in total' line")
    return {"format": "samtools-flagstat", "metrics": metrics}


def parse_idxstats(path: Path, text: str) -> dict[str, Any]:
    rows = []
    for number_, line in enumerate(text.splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 4:
            raise ReportError(path, f"line {number_}: expected 4 tab-separated fields")
        rows.append({"name": parts[0], "length": number(parts[1]),
                     "mapped": number(parts[2]), "unmapped": number(parts[3])})
    mapped = sum(int(r["mapped"] or 0) for r in rows)
    unmapped = sum(int(r["unmapped"] or 0) for r in rows)
    return {"format": "samtools-idxstats", "rows": rows,
            "metrics": {"mapped": mapped, "unmapped": unmapped, "sequences": len(rows)}}
