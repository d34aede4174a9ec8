"""mosdepth's `.mosdepth.summary.txt` (0.2 on): a row per sequence, then `total`; with
`--by`, a `_region` row for each sequence's regions and `total_region`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import measured_row

HEADER = ("chrom", "length", "bases", "mean", "min", "max")


def is_summary(head: str) -> bool:
    return tuple(head.split("\n", 1)[0].rstrip().split("\t")) == HEADER


def parse_summary(path: Path, text: str) -> dict[str, Any]:
    """`metrics`: the `total` row's `length` (bases of the sequences), `bases` (aligned
    bases counted), `mean` depth, `min`, `max`; with `--by`, the `total_region` row's as
    `region length`, `region mean`, ... (the regions' depth, the exome's for a capture;
    mosdepth 0.3.3 then writes the rows, `total` included, of the sequences that hold a
    region only). Without the `total` row the file was cut short."""
    lines = [line for line in text.splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    for number_, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if fields[0] == HEADER[0]:
            raise ReportError(path, f"line {number_}: a second header: mosdepth summaries "
                                    "put together? one report a file")
        rows.append(measured_row(path, number_, list(HEADER), fields))
    by_name = {r["chrom"]: r for r in rows}
    if "total" not in by_name:
        raise ReportError(path, "truncated: no 'total' row (mosdepth writes it after the "
                                "sequences)")
    metrics = {k: v for k, v in by_name["total"].items() if k != "chrom"}
    if "total_region" in by_name:
        metrics.update({f"region {k}": v for k, v in by_name["total_region"].items()
                        if k != "chrom"})
    return {"format": "mosdepth", "rows": rows, "metrics": metrics}
