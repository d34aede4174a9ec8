"""FastQC reports: `fastqc_data.txt`, alone or inside the `_fastqc.zip` (0.10 to 0.12).

Every module is kept with its pass/warn/fail flag and its table; Basic Statistics are also
flattened into `metrics` under their own names (`Total Sequences`, `%GC`, ...).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

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
                return _read_capped(path, archive, names[0]).decode("utf-8", "replace")
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ReportError(path, f"corrupt zip ({exc})") from None
    return path.read_text(encoding="utf-8", errors="replace")


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


def parse(path: Path, text: str | None = None) -> dict[str, Any]:
    text = read_text(path) if text is None else text
    lines = text.splitlines()
    if not lines or not lines[0].startswith("##FastQC"):
        raise ReportError(path, "not a FastQC report (no ##FastQC line)")
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
            header = line[1:].split("\t")
            # '#Total Deduplicated Percentage\t64.2' is a value; a header names columns
            if len(header) == 2 and isinstance(number(header[1]), int | float):
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
    for name in NUMERIC_STATISTICS:
        if isinstance(metrics.get(name), str):
            raise ReportError(path, f"Basic Statistics: {name}: expected a number, got "
                                    f"{metrics[name]!r}")
    dedup = modules.get("Sequence Duplication Levels", {}).get("values", {})
    metrics.update(dedup)
    return {"format": "fastqc", "version": version, "metrics": metrics,
            "status": {name: m["status"] for name, m in modules.items()},
            "modules": modules}
