"""STAR's Log.final.out, Trimmomatic's summary (its log line or its `-summary` file) and
fastp's JSON report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError
from genscale.quality.numbers import number

_TRIM_PE = re.compile(r"Input Read Pairs: (\d+) Both Surviving: (\d+) \(([\d.,]+)%\) "
                      r"Forward Only Surviving: (\d+) \(([\d.,]+)%\) Reverse Only Surviving: "
                      r"(\d+) \(([\d.,]+)%\) Dropped: (\d+) \(([\d.,]+)%\)")
_TRIM_SE = re.compile(r"Input Reads: (\d+) Surviving: (\d+) \(([\d.,]+)%\) Dropped: (\d+) "
                      r"\(([\d.,]+)%\)")


def parse_star(path: Path, text: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("|")
        if sep and key.strip():
            metrics[key.strip()] = number(value.strip())
    if "Uniquely mapped reads number" not in metrics:
        raise ReportError(path, "a STAR log without 'Uniquely mapped reads number' "
                                "(truncated, or not Log.final.out?)")
    return {"format": "star", "metrics": metrics}


# Trimmomatic's `-summary` file (0.37 on): one `Name: value` a line, named apart from its
# log line's fields (`Both Surviving Reads`, `Both Surviving Read Percent`); read with the
# log line's names
_TRIM_SUMMARY = re.compile(r"^(Input Read Pairs|Input Reads|[A-Za-z ]+? Reads|"
                           r"[A-Za-z ]+? Read Percent): ([\d.,]+)$", re.MULTILINE)


def _trimmomatic_summary_name(name: str) -> str:
    if name.endswith(" Read Percent"):
        return name.removesuffix(" Read Percent") + " %"
    if name.endswith(" Reads") and name != "Input Reads":
        return name.removesuffix(" Reads")
    return name


def parse_trimmomatic(path: Path, text: str) -> dict[str, Any]:
    """The log line (`Input Read Pairs: N Both Surviving: N (P%) ...`) or the `-summary`
    file, paired or single-end, with one set of names."""
    names: tuple[str, ...]
    summary = {_trimmomatic_summary_name(m[1]): number(m[2])
               for m in _TRIM_SUMMARY.finditer(text)}
    if ("Input Read Pairs" in summary or "Input Reads" in summary) and "Dropped" in summary:
        return {"format": "trimmomatic", "metrics": summary}
    if m := _TRIM_PE.search(text):
        names = ("Input Read Pairs", "Both Surviving", "Both Surviving %",
                 "Forward Only Surviving", "Forward Only Surviving %",
                 "Reverse Only Surviving", "Reverse Only Surviving %", "Dropped", "Dropped %")
    elif m := _TRIM_SE.search(text):
        names = ("Input Reads", "Surviving", "Surviving %", "Dropped", "Dropped %")
    else:
        raise ReportError(path, "no Trimmomatic summary line ('Input Read Pairs: ...')")
    return {"format": "trimmomatic", "metrics": {n: number(v) for n, v in
                                                zip(names, m.groups(), strict=True)}}


# fastp writes its command line last, between quotes it does not escape: a command that
# quoted an argument (`--report_title "a b"`) makes the file invalid JSON
_FASTP_COMMAND = re.compile(r'(\n\s*"command":\s*")(.*)("\s*\}\s*)$', re.DOTALL)


def parse_fastp(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        repaired = _FASTP_COMMAND.sub(
            lambda m: m[1] + json.dumps(m[2])[1:-1] + m[3], text, count=1)
        try:
            data = json.loads(repaired)
        except json.JSONDecodeError:
            raise ReportError(path, f"corrupt fastp JSON at line {exc.lineno}: "
                                    f"{exc.msg}") from None
    summary = data.get("summary") if isinstance(data, dict) else None
    if not isinstance(summary, dict):
        raise ReportError(path, "a JSON file without fastp's 'summary' object")
    def section(parent: dict[str, Any], name: str) -> dict[str, Any]:
        value = parent.get(name, {})
        if not isinstance(value, dict):
            raise ReportError(path, f"fastp JSON: {name}: expected an object, got "
                                    f"{type(value).__name__}")
        return value

    metrics: dict[str, Any] = {"fastp_version": summary.get("fastp_version")}
    for name in ("before_filtering", "after_filtering"):
        for key, value in section(summary, name).items():
            metrics[f"{name}.{key}"] = value
    for key, value in section(data, "filtering_result").items():
        metrics[f"filtering_result.{key}"] = value
    dup = section(data, "duplication")
    if "rate" in dup:
        metrics["duplication.rate"] = dup["rate"]
    adapter = section(data, "adapter_cutting")
    for key in ("adapter_trimmed_reads", "adapter_trimmed_bases"):
        if key in adapter:
            metrics[f"adapter_cutting.{key}"] = adapter[key]
    return {"format": "fastp", "metrics": metrics}
