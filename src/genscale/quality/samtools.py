"""samtools stats (its SN summary), flagstat and idxstats, samtools 1.x.

flagstat in each of its output formats (`-O default|tsv|json`, samtools 1.13 on), with one
set of keys: the default format's names (`in total`, `mapped`, `mapped %`, ...), the QC-failed
count as `NAME (QC-failed)`; the percentages are of the QC-passed reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import measured_row, number

# `N + M name`, then a parenthesis of percentages (`(66.67% : N/A)`, `(100.00%:-nan%)`
# before 1.10) or `(QC-passed reads + QC-failed reads)`, dropped from the name; another
# parenthesis is part of it (`with mate mapped to a different chr (mapQ>=5)`)
_FLAGSTAT = re.compile(r"^(\d+) \+ (\d+) (.+?)(?: \((?:[-\d.,]+%|N/A|nan|-nan|QC-passed)[^)]*\))?$")
_TOTAL = "total (QC-passed reads + QC-failed reads)"


def parse_stats(path: Path, text: str) -> dict[str, Any]:
    produced = text.count("This file was produced by samtools stats")
    if produced > 1:  # files put together: one sample's numbers would overwrite another's
        raise ReportError(path, f"{produced} samtools stats outputs in one file: one report "
                                "a file")
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


def _flagstat_key(name: str) -> str:
    name = name.strip().replace("mapQ >= 5", "mapQ>=5")  # the JSON format's spacing
    return "in total" if name in ("total", _TOTAL) else name


_BANNER = re.compile(r"^==> .* <==\s*$")


def parse_flagstat(path: Path, text: str) -> dict[str, Any]:
    """Any of flagstat's formats (told by content); ReportError names the line."""
    if text.lstrip().startswith("{"):
        return _flagstat_json(path, text)
    metrics: dict[str, Any] = {}
    lines = text.splitlines()
    # `head`/`tail` of several files name each with a `==> FILE <==` line: one such name
    # (or a note in that form) is passed over, a second flagstat output is one line
    banners = [i for i, line in enumerate(lines) if _BANNER.match(line)]
    totals = [i for i, line in enumerate(lines) if "in total" in line]
    if len(totals) > 1:
        raise ReportError(path, f"{len(totals)} flagstat outputs (lines "
                                f"{', '.join(str(i + 1) for i in totals)}): one report a file")
    first = next((i for i, line in enumerate(lines) if line.strip() and i not in banners), 0)
    tsv = "\t" in lines[first] if lines else False
    for number_, line in enumerate(lines, 1):
        if not line.strip() or number_ - 1 in banners:
            continue
        if tsv:
            fields = line.split("\t")
            if len(fields) != 3:
                raise ReportError(path, f"line {number_}: expected 3 tab-separated fields "
                                        f"(flagstat -O tsv), got {len(fields)}")
            passed, failed, name = fields
            key = _flagstat_key(name)
            if key.endswith(" %"):
                metrics[key] = number(passed)
                continue
            counts: tuple[str, str] = (passed, failed)
        else:
            m = _FLAGSTAT.match(line.strip())
            if not m:
                raise ReportError(path, f"line {number_}: not a flagstat line: {line[:60]!r}")
            key, counts = _flagstat_key(m[3]), (m[1], m[2])
            pct = re.search(r"\(([\d.,]+)%", line)
            if pct:
                metrics[f"{key} %"] = number(pct[1])
        if not (counts[0].isdigit() and counts[1].isdigit()):
            raise ReportError(path, f"line {number_}: {key}: expected two counts, got "
                                    f"{counts[0]!r} and {counts[1]!r}")
        metrics[key] = int(counts[0])
        metrics[f"{key} (QC-failed)"] = int(counts[1])
    if "in total" not in metrics:
        raise ReportError(path, "a flagstat file without its 'in total' line")
    return {"format": "samtools-flagstat", "metrics": metrics}


def _flagstat_json(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(path, f"flagstat -O json, but not JSON ({exc})") from None
    passed = data.get("QC-passed reads") if isinstance(data, dict) else None
    failed = data.get("QC-failed reads") if isinstance(data, dict) else None
    if not isinstance(passed, dict) or not isinstance(failed, dict):
        raise ReportError(path, "flagstat -O json without its 'QC-passed reads' and "
                                "'QC-failed reads' objects")
    metrics: dict[str, Any] = {}
    for name, value in passed.items():
        key = _flagstat_key(name)
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, int | float)):
            raise ReportError(path, f"QC-passed reads: {name}: expected a number, got "
                                    f"{value!r}")
        metrics[key] = value
        if not key.endswith(" %"):
            other = failed.get(name)
            metrics[f"{key} (QC-failed)"] = other if isinstance(other, int) else None
    if not isinstance(metrics.get("in total"), int):
        raise ReportError(path, "flagstat -O json without its 'total' count")
    return {"format": "samtools-flagstat", "metrics": metrics}


def looks_like_idxstats(lines: list[str]) -> bool:
    """Lines of `samtools idxstats`: a name and three counts, each sequence named once (a
    BED or bedGraph file, four columns too, names a chromosome on line after line; STAR's
    ReadsPerGene.out.tab starts with its `N_unmapped` count)."""
    parts = [line.split("\t") for line in lines]
    return bool(parts) and all(len(p) == 4 and all(v.isdigit() for v in p[1:]) for p in parts) \
        and len({p[0] for p in parts}) == len(parts) and parts[0][0] != "N_unmapped"


def parse_idxstats(path: Path, text: str) -> dict[str, Any]:
    """Each sequence's length, mapped and unmapped reads, and their sums; the last line is
    samtools' `*` (reads placed on no sequence), else the file was cut short."""
    rows: list[dict[str, Any]] = []
    for number_, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise ReportError(path, f"line {number_}: expected 4 tab-separated fields")
        counts = [number(v) for v in parts[1:]]
        for name, value in zip(("length", "mapped", "unmapped"), counts, strict=True):
            if not isinstance(value, int) or value < 0:
                raise ReportError(path, f"line {number_}: {name}: expected a count, got "
                                        f"{value!r}")
        rows.append({"name": parts[0], "length": counts[0], "mapped": counts[1],
                     "unmapped": counts[2]})
    if not rows or rows[-1]["name"] != "*":
        raise ReportError(path, "truncated: no '*' line at the end (samtools idxstats "
                                "writes the reads placed on no sequence last)")
    mapped = sum(r["mapped"] for r in rows)
    unmapped = sum(r["unmapped"] for r in rows)
    return {"format": "samtools-idxstats", "rows": rows,
            "metrics": {"mapped": mapped, "unmapped": unmapped, "sequences": len(rows)}}


MARKDUP_COUNTS = ("READ", "WRITTEN", "EXCLUDED", "EXAMINED", "PAIRED", "SINGLE",
                  "DUPLICATE PAIR", "DUPLICATE SINGLE", "DUPLICATE PAIR OPTICAL",
                  "DUPLICATE SINGLE OPTICAL", "DUPLICATE NON PRIMARY",
                  "DUPLICATE NON PRIMARY OPTICAL", "DUPLICATE PRIMARY TOTAL", "DUPLICATE TOTAL",
                  "ESTIMATED_LIBRARY_SIZE")


def is_markdup(head: str) -> bool:
    """`samtools markdup -s` statistics (text, or `--json` from samtools 1.17)."""
    return "\nCOMMAND: samtools markdup" in "\n" + head or (
        head.lstrip().startswith("{") and '"COMMAND": "samtools markdup' in head)


def parse_markdup(path: Path, text: str) -> dict[str, Any]:
    """Its counts (of reads: a duplicate pair is two) under samtools' names, and DUPLICATE
    FRACTION, the primary duplicates over the reads examined (Picard's PERCENT_DUPLICATION,
    also a fraction of reads: equal on one BAM in the tests)."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(path, f"corrupt samtools markdup JSON at line {exc.lineno}: "
                                    f"{exc.msg}") from None
        if not isinstance(data, dict):
            raise ReportError(path, "samtools markdup JSON: expected an object")
        given: dict[str, object] = {k: v for k, v in data.items() if k in MARKDUP_COUNTS}
        where = {k: "" for k in given}
    else:
        if text.count("COMMAND: samtools markdup") > 1:
            raise ReportError(path, f"{text.count('COMMAND: samtools markdup')} samtools "
                                    "markdup outputs in one file: one report a file")
        given, where = {}, {}
        for number_, line in enumerate(text.splitlines(), 1):
            key, sep, value = line.partition(": ")
            if sep and key in MARKDUP_COUNTS:
                given[key] = int(value) if value.strip().isdigit() else value.strip()
                where[key] = f"line {number_}: "
    found: dict[str, int] = {}
    for key, count in given.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ReportError(path, f"{where[key]}{key}: expected a count, got {count!r}")
        found[key] = count
    missing = [k for k in ("EXAMINED", "DUPLICATE PRIMARY TOTAL") if k not in found]
    if missing:
        raise ReportError(path, f"truncated: samtools markdup statistics without "
                                f"{' and '.join(missing)}")
    metrics: dict[str, Any] = dict(found)
    examined = found["EXAMINED"]
    metrics["DUPLICATE FRACTION"] = (round(found["DUPLICATE PRIMARY TOTAL"] / examined, 6)
                                     if examined else 0.0)
    return {"format": "samtools-markdup", "metrics": metrics}



COVERAGE_HEADER = ("#rname", "startpos", "endpos", "numreads", "covbases", "coverage",
                   "meandepth", "meanbaseq", "meanmapq")


def is_coverage(head: str) -> bool:
    """`samtools coverage`'s table (samtools 1.10 on), with its header."""
    return tuple(head.split("\n", 1)[0].rstrip().split("\t")) == COVERAGE_HEADER


def parse_coverage(path: Path, text: str) -> dict[str, Any]:
    """`samtools coverage`: a row per sequence (or region), and the sample's numbers over
    all of them: `length` (bases), `numreads` and `covbases` summed, `coverage` (percent of
    the bases covered, from the sums: samtools 1.10 to 1.12 documented the column as a
    proportion while writing a percent), `meandepth` weighted by each row's length (on one
    BAM in the tests, `samtools depth -a`'s mean), `meanbaseq` weighted by the bases each
    row holds (length x depth), `meanmapq` by its reads."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split("\t")
    rows: list[dict[str, Any]] = []
    for number_, line in enumerate(lines[1:], start=2):
        if line.startswith("#rname"):
            raise ReportError(path, f"line {number_}: a second header: samtools coverage "
                                    "outputs put together? one report a file")
        measured = measured_row(path, number_, header, line.split("\t"))
        row = {"rname": measured.pop("#rname"), **measured}
        if row["endpos"] < row["startpos"]:
            raise ReportError(path, f"line {number_}: endpos {row['endpos']} before startpos "
                                    f"{row['startpos']}")
        rows.append(row)
    if not rows:
        raise ReportError(path, "truncated: samtools coverage's header and no rows")
    lengths = [r["endpos"] - r["startpos"] + 1 for r in rows]
    length = sum(lengths)
    bases = [r["meandepth"] * n for r, n in zip(rows, lengths, strict=True)]
    reads = sum(r["numreads"] for r in rows)
    covered = sum(r["covbases"] for r in rows)

    def weighted(column: str, weights: list[float]) -> float | None:
        total = sum(weights)
        return (round(sum(r[column] * w for r, w in zip(rows, weights, strict=True)) / total, 4)
                if total else None)

    metrics = {"sequences": len(rows), "length": length, "numreads": reads,
               "covbases": covered, "coverage": round(100 * covered / length, 4),
               "meandepth": round(sum(bases) / length, 4),
               "meanbaseq": weighted("meanbaseq", bases),
               "meanmapq": weighted("meanmapq", [r["numreads"] for r in rows])}
    return {"format": "samtools-coverage", "rows": rows, "metrics": metrics}
