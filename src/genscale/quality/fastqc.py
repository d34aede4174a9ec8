"""FastQC reports: `fastqc_data.txt`, alone or inside the `_fastqc.zip` (0.10 to 0.12), and
Falco's (`##Falco`), which writes FastQC's report (`program` says which wrote it).

Every module is kept with its pass/warn/fail flag and its table; Basic Statistics are also
flattened into `metrics` under their own names (`Total Sequences`, `%GC`, ...).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

# FastQC's first line, or Falco's (a FastQC written in C++ that writes FastQC's report)
MARKS = ("##FastQC", "##Falco")
NUMERIC_STATISTICS = ("Total Sequences", "Sequences flagged as poor quality", "%GC")
# fastqc_data.txt of a whole lane is a few MB; anything near this is not a FastQC report,
# and is not decompressed to find out (a zip bomb would take the machine's memory)
MAX_REPORT_BYTES = 256 * 2**20


def read_text(path: Path) -> str:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("fastqc_data.txt")]
                if not names:
                    raise ReportError(path, "a zip without fastqc_data.txt")
                return _read_capped(path, archive, names[0]).decode("utf-8-sig", "replace")
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ReportError(path, f"corrupt zip ({exc})") from None
    return path.read_text(encoding="utf-8-sig", errors="replace")


def _read_capped(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    """The entry's bytes, refusing one that declares or inflates past MAX_REPORT_BYTES
    (a declared size can lie, so the stream is counted too)."""
    too_big = ReportError(path, f"{name} inflates past {MAX_REPORT_BYTES // 2**20} MiB: not "
                                "a FastQC report")
    if archive.getinfo(name).file_size > MAX_REPORT_BYTES:
        raise too_big
    with archive.open(name) as entry:
        data = entry.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        raise too_big
    return data


_BASES_UNIT = {"bp": 1, "kbp": 10**3, "Mbp": 10**6, "Gbp": 10**9}
_LENGTH_RANGE = re.compile(r"^(\d+)-(\d+)$")


def _bases(path: Path, text: str) -> float:
    """0.12's `Total Bases` ('1.8 Mbp', '1,8 Mbp' in a decimal-comma locale) in bases, to
    the one decimal FastQC keeps."""
    value, _, unit = text.strip().partition(" ")
    size = number(value)
    if unit not in _BASES_UNIT or not isinstance(size, int | float) or size < 0:
        raise ReportError(path, f"Basic Statistics: Total Bases: expected a size such as "
                                f"'1.8 Gbp', got {text!r}")
    return float(size) * _BASES_UNIT[unit]


def _derived(path: Path, metrics: dict[str, Any],
             modules: dict[str, Any]) -> dict[str, Any]:
    """Numbers every FastQC version can give, whatever it wrote: the read lengths' range
    (a trimmed file's `Sequence length` is '35-151') and mean (from the length
    distribution, each bin at its middle), bases in a number, and 0.10's duplicate
    percentage as 0.11's deduplicated one (the same count, from the other side)."""
    out: dict[str, Any] = {}
    if isinstance(metrics.get("Total Bases"), str):
        out["Total Bases"] = _bases(path, metrics["Total Bases"])
    length = metrics.get("Sequence length")
    if isinstance(length, int):
        out["Sequence length min"] = out["Sequence length max"] = length
    elif isinstance(length, str) and (m := _LENGTH_RANGE.match(length.strip())):
        out["Sequence length min"], out["Sequence length max"] = int(m[1]), int(m[2])
    rows = modules.get("Sequence Length Distribution", {}).get("rows", [])
    total = 0.0
    weighted = 0.0
    for row in rows:
        if len(row) < 2 or not isinstance(row[1], int | float):
            continue
        bin_ = row[0]
        if isinstance(bin_, str) and (m := _LENGTH_RANGE.match(bin_.strip())):
            middle = (int(m[1]) + int(m[2])) / 2
        elif isinstance(bin_, int | float):
            middle = float(bin_)
        else:
            continue
        total += row[1]
        weighted += row[1] * middle
    if total > 0:
        out["Sequence length mean"] = round(weighted / total, 2)
    duplicate = modules.get("Sequence Duplication Levels", {}).get("values", {}).get(
        "Total Duplicate Percentage")
    if isinstance(duplicate, int | float) and "Total Deduplicated Percentage" not in metrics:
        out["Total Deduplicated Percentage"] = round(100.0 - duplicate, 6)
    return out


def parse(path: Path, text: str | None = None) -> dict[str, Any]:
    text = read_text(path) if text is None else text
    lines = text.splitlines()
    if not lines or not lines[0].startswith(MARKS):
        raise ReportError(path, "not a FastQC report (no ##FastQC line)")
    program = lines[0][2:].split("\t", 1)[0].strip()
    version = lines[0].split("\t")[1].strip() if "\t" in lines[0] else None
    modules: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    for line in lines[1:]:
        if line.startswith(">>END_MODULE"):
            current = None
        elif line.startswith(">>"):
            name, _, status = line[2:].partition("\t")
            current = {"status": status.strip() or None, "columns": [], "rows": []}
            modules[name.strip()] = current
        elif current is None:
            continue
        elif line.startswith("#"):
            # 0.10 ends its lines with a tab: no column of its own
            header = line[1:].rstrip("\t").split("\t")
            # '#Total Deduplicated Percentage\t64.2' is a value (`-nan` from Falco over no
            # reads: a missing one); a header names columns
            if len(header) == 2 and not isinstance(number(header[1]), str):
                current.setdefault("values", {})[header[0]] = number(header[1])
            elif not current["columns"]:
                current["columns"] = header
        else:
            current["rows"].append([number(v) for v in line.split("\t")])
    if current is not None:
        raise ReportError(path, f"truncated: module '{next(reversed(modules))}' never ends")
    if "Basic Statistics" not in modules:
        raise ReportError(path, "no Basic Statistics module")
    metrics = {str(r[0]): r[1] for r in modules["Basic Statistics"]["rows"] if len(r) >= 2}
    if "Filtered Sequences" in metrics:  # 0.10's name
        metrics.setdefault("Sequences flagged as poor quality", metrics["Filtered Sequences"])
    for name in NUMERIC_STATISTICS:
        if isinstance(metrics.get(name), str):
            raise ReportError(path, f"Basic Statistics: {name}: expected a number, got "
                                    f"{metrics[name]!r}")
    dedup = modules.get("Sequence Duplication Levels", {}).get("values", {})
    metrics.update(dedup)
    metrics.update(_derived(path, metrics, modules))
    return {"format": "fastqc", "program": program, "version": version, "metrics": metrics,
            "status": {name: m["status"] for name, m in modules.items()},
            "modules": modules}
