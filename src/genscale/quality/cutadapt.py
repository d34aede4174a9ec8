"""cutadapt's reports: the text report it prints (1.x to 4.x, alone, in a log, or in a Trim
Galore `_trimming_report.txt`), its JSON report (`--json`, 3.5 on) and its minimal one
(`--report=minimal`, a header and a row of counts).

All give one set of names, the text report's own (`Total read pairs processed`, `Read 1
with adapter`, `Pairs written (passing filters)`, `Total basepairs processed`,
`Quality-trimmed`, `Total written (filtered)`, ...), each percentage beside its count as
`<name> %`, and a paired run's per-read lines as `<name> (Read 1)`; Trim Galore's pairs
removed for a read under its length cutoff as `Pairs removed (length cutoff)`. Counts of
bases are numbers of bases (the text's `bp` dropped); thousands separators are always
commas here (cutadapt writes them so in every locale).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError

BANNER = re.compile(r"^(?:This is cutadapt (\S+)|cutadapt version (\S+))", re.MULTILINE)
JSON_TAG = '"Cutadapt report"'
# `Name:   1,234 bp (56.7%)`; old versions write `(1.0% of processed reads)`
_LINE = re.compile(r"^(\s*)([A-Za-z][^:]*?):\s+([\d,]+(?:\.\d+)?)(?: bp)?"
                   r"(?:\s+\([\d.]+ [kMG]bp\))?(?:\s+\(([\d.]+)%[^)]*\))?\s*$")
# where the summary ends: the first adapter's section (4.x `=== Adapter 1 ===`,
# `=== First read: Adapter 1 ===`; 1.x `=== Adapter 'NAME' ===` or `Adapter 'X', ...`)
_SECTION_END = re.compile(r"^(?:=== (?!Summary)|Adapter ')")


_GALORE_PAIRS = re.compile(r"^Number of sequence pairs removed because at least one read was "
                           r"shorter than the length cutoff \(\d+ bp\): ([\d,]+) "
                           r"\(([\d.]+)%\)", re.MULTILINE)


def _number(text: str) -> int | float:
    plain = text.replace(",", "")
    return float(plain) if "." in plain else int(plain)


def parse_text(path: Path, text: str) -> dict[str, Any]:
    """The summary of cutadapt's text report; a file of several runs is a ReportError."""
    banners = list(BANNER.finditer(text))
    if not banners:
        raise ReportError(path, "no cutadapt report in it ('This is cutadapt ...')")
    if len(banners) > 1:
        at = [text.count("\n", 0, m.start()) + 1 for m in banners]
        raise ReportError(path, f"{len(banners)} cutadapt reports (lines "
                                f"{', '.join(map(str, at))}): logs put together? one "
                                "report a file")
    version = banners[0][1] or banners[0][2]
    metrics: dict[str, Any] = {"cutadapt_version": version}
    parent = ""
    for line in text[banners[0].start():].splitlines()[1:]:
        if _SECTION_END.match(line):
            break
        if line.startswith(("Command line parameters", "Processing ", "Finished in")):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        indent, name, value, percent = m.groups()
        if indent and re.fullmatch(r"Read [12]", name) and parent:
            name = f"{parent} ({name})"
        elif not indent or not name.startswith("Read "):
            parent = name
        metrics[name] = _number(value)
        if percent is not None:
            metrics[f"{name} %"] = float(percent)
    if len(metrics) == 1:
        raise ReportError(path, "truncated: a cutadapt report without its summary")
    if m := _GALORE_PAIRS.search(text):  # Trim Galore's own count, in the second read's report
        metrics["Pairs removed (length cutoff)"] = _number(m[1])
        metrics["Pairs removed (length cutoff) %"] = float(m[2])
    return {"format": "cutadapt", "metrics": metrics}


MINIMAL_HEADER = "status\tin_reads\tin_bp\t"
# cutadapt's filters: its JSON's (and --report=minimal's) key, and the text's words for it
FILTERS = (("too_short", "that were too short"), ("too_long", "that were too long"),
           ("too_many_n", "with too many N"),
           ("too_many_expected_errors", "with too many exp. errors"),
           ("casava_filtered", "failed CASAVA filter"),
           ("discard_trimmed", "discarded as trimmed"),
           ("discard_untrimmed", "discarded as untrimmed"))


def _put(metrics: dict[str, Any], name: str, value: int | None, whole: int | None) -> None:
    """`name`, and `name %` of `whole` as cutadapt prints it, where both are known."""
    if value is not None and whole is not None:
        metrics[name] = value
        metrics[f"{name} %"] = _percent(value, whole)


def _totals(paired: bool) -> tuple[str, str, tuple[str, ...]]:
    """(the unit of a run, its total's name, its names of reads with adapters)."""
    if paired:
        return "Pairs", "Total read pairs processed", ("Read 1 with adapter",
                                                       "Read 2 with adapter")
    return "Reads", "Total reads processed", ("Reads with adapters",)


def parse_minimal(path: Path, text: str) -> dict[str, Any]:
    """`--report=minimal`: its counts under the text report's names. It writes 0 for a
    filter that was off and for adapters it did not count, where the text report leaves
    the line out."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split("\t")
    if len(lines) != 2:
        raise ReportError(path, f"{len(lines) - 1} rows under the minimal report's header: "
                                "one run a file" if len(lines) > 2 else
                                "truncated: a minimal cutadapt report without its row")
    values = lines[1].split("\t")
    if len(values) != len(header):
        raise ReportError(path, f"line 2: {len(values)} fields where the header has "
                                f"{len(header)}")
    row: dict[str, int] = {}
    for name, value in zip(header[1:], values[1:], strict=True):
        if not value.isdigit():
            raise ReportError(path, f"line 2: {name}: expected a count, got {value!r}")
        row[name] = int(value)
    missing = {"in_reads", "in_bp", "out_reads", "w/adapters", "qualtrim_bp",
               "out_bp"} - set(row)
    if missing:
        raise ReportError(path, f"line 1: no column {', '.join(sorted(missing))}")
    paired = "w/adapters2" in row
    unit, total_name, adapters = _totals(paired)
    total, bases = row["in_reads"], row["in_bp"]
    metrics: dict[str, Any] = {"cutadapt_status": values[0], total_name: total}
    for name, column in zip(adapters, ("w/adapters", "w/adapters2"), strict=False):
        _put(metrics, name, row[column], total)
    for column, words in FILTERS:
        _put(metrics, f"{unit} {words}", row.get(column), total)
    _put(metrics, f"{unit} written (passing filters)", row["out_reads"], total)
    metrics["Total basepairs processed"] = bases
    for name, first, second in (("Quality-trimmed", "qualtrim_bp", "qualtrim2_bp"),
                                ("Total written (filtered)", "out_bp", "out2_bp")):
        parts = [row[first]] + ([row.get(second, 0)] if paired else [])
        _put(metrics, name, sum(parts), bases)
        if paired:
            metrics[f"{name} (Read 1)"], metrics[f"{name} (Read 2)"] = parts
    return {"format": "cutadapt", "metrics": metrics}


def _percent(part: int, whole: int) -> float:
    # as cutadapt prints it: `{:.1%}`
    return float(f"{part / whole:.1%}".rstrip("%")) if whole else 0.0


def parse_json(path: Path, text: str) -> dict[str, Any]:
    """cutadapt's `--json` report, under the text report's names."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(path, f"corrupt cutadapt JSON at line {exc.lineno}: "
                                f"{exc.msg}") from None
    if not isinstance(data, dict) or data.get("tag") != "Cutadapt report":
        raise ReportError(path, "a JSON file without cutadapt's 'Cutadapt report' tag")
    reads, bases = data.get("read_counts"), data.get("basepair_counts")
    if not isinstance(reads, dict) or not isinstance(bases, dict):
        raise ReportError(path, "cutadapt JSON: read_counts and basepair_counts: expected "
                                "objects")

    def count(section: dict[str, Any], key: str, where: str) -> int | None:
        value = section.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ReportError(path, f"cutadapt JSON: {where}.{key}: expected a count, got "
                                    f"{value!r}")
        return value

    given = data.get("input")
    paired = (given["paired"] is True if isinstance(given, dict) and "paired" in given
              else bases.get("input_read2") is not None)
    unit, total_name, adapters = _totals(paired)
    total = count(reads, "input", "read_counts")
    if total is None:
        raise ReportError(path, "cutadapt JSON: read_counts.input: missing")
    metrics: dict[str, Any] = {"cutadapt_version": data.get("cutadapt_version"),
                               total_name: total}
    for name, key in zip(adapters, ("read1_with_adapter", "read2_with_adapter"),
                         strict=False):
        _put(metrics, name, count(reads, key, "read_counts"), total)
    _put(metrics, "Reverse-complemented", count(reads, "reverse_complemented", "read_counts"),
         total)
    filtered = reads.get("filtered") or {}
    if not isinstance(filtered, dict):
        raise ReportError(path, "cutadapt JSON: read_counts.filtered: expected an object")
    for key, words in FILTERS:
        _put(metrics, f"{unit} {words}", count(filtered, key, "read_counts.filtered"), total)
    _put(metrics, f"{unit} written (passing filters)", count(reads, "output", "read_counts"),
         total)
    bases_in = count(bases, "input", "basepair_counts")
    for key, name in (("input", "Total basepairs processed"),
                      ("quality_trimmed", "Quality-trimmed"),
                      ("output", "Total written (filtered)")):
        value = count(bases, key, "basepair_counts")
        if value is None:
            continue
        if key == "input":
            metrics[name] = value
        else:
            _put(metrics, name, value, bases_in)
        if paired:
            for read in (1, 2):
                part = count(bases, f"{key}_read{read}", "basepair_counts")
                if part is not None:
                    metrics[f"{name} (Read {read})"] = part
    return {"format": "cutadapt", "metrics": metrics}
