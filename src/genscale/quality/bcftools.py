"""`bcftools stats` files: the summary numbers (`SN`) and transitions/transversions (`TSTV`)
of each set of records (`ID`: one VCF gives set 0; two compared give 0, 1 and 2).

Metrics are named as bcftools names them, without the colon (`number of SNPs`, `ts/tv`);
with several sets each name is prefixed by its set (`set 2: number of SNPs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

MARK = "This file was produced by bcftools stats"
TSTV_COLUMNS = ("ts", "tv", "ts/tv", "ts (1st ALT)", "tv (1st ALT)", "ts/tv (1st ALT)")


def parse_stats(path: Path, text: str) -> dict[str, Any]:
    if text.count(MARK) > 1:
        raise ReportError(path, f"{text.count(MARK)} bcftools stats outputs in one file: "
                                "one report a file")
    by_set: dict[str, dict[str, Any]] = {}
    for number_, line in enumerate(text.splitlines(), start=1):
        kind, _, rest = line.partition("\t")
        if kind not in ("SN", "TSTV"):
            continue
        fields = rest.split("\t")
        if kind == "SN":
            if len(fields) < 3:
                raise ReportError(path, f"line {number_}: SN: expected id, key and value")
            values = {fields[1].strip().rstrip(":"): number(fields[2])}
        else:
            values = {name: number(v) for name, v in zip(TSTV_COLUMNS, fields[1:],
                                                          strict=False)}
        for name, value in values.items():
            if not isinstance(value, int | float):
                raise ReportError(path, f"line {number_}: {kind} {name}: expected a number, "
                                        f"got {value!r}")
        by_set.setdefault(fields[0], {}).update(values)
    if not by_set:
        raise ReportError(path, "a bcftools stats file without its SN summary (truncated?)")
    if len(by_set) == 1:
        metrics = next(iter(by_set.values()))
    else:
        metrics = {f"set {s}: {k}": v for s, values in by_set.items()
                   for k, v in values.items()}
    return {"format": "bcftools-stats", "metrics": metrics}
