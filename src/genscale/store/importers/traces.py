"""Task tables other engines write: Nextflow trace files and Snakemake benchmark files.

Both become rows of our tasks schema (there is no time series in either, so no samples).

Nextflow (`-with-trace`, `trace.raw` or not): CSV or TSV with the standard field names.
`realtime` and `duration` are milliseconds when raw, or such as `1h 2m 3s`, `5.2s`, `45ms`
otherwise; memory is bytes, or such as `1.2 GB` (Nextflow's units are powers of 1024);
`%cpu` is percent of one core, with or without the `%` sign; `-` is missing. Before 19.02
Nextflow wrote the decimals of `%cpu` and of memory in the machine's locale (`99,3%`,
`1,5 GB` under a French one): a comma there is the decimal mark (Nextflow never groups
thousands). `cpu_time_s = %cpu / 100 * realtime`. Tasks a run left pending when it
stopped (status `SUBMITTED` or `RUNNING`, written when the run ends) are `cancelled`.
`app` is the tool of the process's last name part, `NFCORE_RNASEQ:RNASEQ:FASTQC (s1)`
gives app `fastqc`, `...:PICARD_MARKDUPLICATES` gives app `picard` and step
`picard_markduplicates`.

Snakemake (`benchmark:` files), one line per repeat, in every layout it has written:
before 3.13 only `s` and `h:m:s`; 3.13 to 5.x add `max_rss`, `max_vms`, `max_uss`,
`max_pss` (MiB), `io_in`, `io_out` (MiB) and `mean_load`; 6.0 adds `cpu_time` (s); 8.x
with `--benchmark-extended` adds `jobid`, `rule_name`, `wildcards`, `params`, `threads`,
`cpu_usage`, `resources` (a dict: `mem_mb`, `mem_mib`) and `input_size_mb` (a dict of
MiB by input file); a benchmark file named `.jsonl` holds the same fields as one JSON
object per line. `NA` (8.x, nothing measured) and `-` are missing. `cpu_time_s` is
`cpu_time` only: `mean_load` is sampled (psutil's first reading of a process is 0, so it
reads 0 on short jobs; the Snakemake 9 fixture has 0.00 beside 0.45 s of CPU time) and is
not taken for it. The rule is the `rule_name` column, else where `rule_pattern` (the
`benchmark:` directive's path with `{rule}` for the rule's place, Snakemake's wildcard
syntax: `{sample}.{rule}.benchmark.txt` for the tutorial's `benchmarks/{sample}.bwa.
benchmark.txt`) puts it, else the file's directory (`benchmarks/RULE/x.tsv`), else the
file name up to its first dot. The files hold no timestamps.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.store.importers import Rows, read_text, source_stem
from genscale.store.importers.numbers import FieldReader
from genscale.textfiles import separator

MIB = 2**20
MISSING = {"", "-", "NA", "na", "N/A", "null"}
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*(ms|d|h|m|s)")
_MEMORY = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([KMGTPE]?B)?$", re.IGNORECASE)
_MEMORY_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50,
                 "EB": 2**60}
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(text: str) -> float:
    """Nextflow's `realtime`/`duration`: raw milliseconds, or `1d 2h 3m 4.5s`, `45ms`
    (`4,5s` under a decimal-comma locale)."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text) / 1000
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError("a duration such as 1234 (ms) or 1h 2m 3s")
    return sum(float(n.replace(",", ".")) * _SECONDS[unit] for n, unit in parts)


def memory_bytes(text: str) -> int:
    """Bytes, or a number with B, KB, MB, GB, TB (powers of 1024, as Nextflow prints)."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError("bytes, or a size such as 1.2 GB")
    number = float(match.group(1).replace(",", "."))
    return round(number * _MEMORY_UNITS[(match.group(2) or "B").upper()])


def percent(text: str) -> float:
    """`99.3%` or `99.3`; `99,3%` from Nextflow before 19.02 under a locale with a decimal
    comma."""
    number = text.strip().removesuffix("%").strip()
    if number.count(",") == 1 and "." not in number:
        number = number.replace(",", ".")
    try:
        return float(number)
    except ValueError:
        raise ValueError("a percentage such as 99.3%") from None


def timestamp_s(text: str) -> float:
    """Epoch milliseconds (raw), or `2024-03-01 12:00:00.123` (read as UTC: Nextflow writes
    the local time of the machine without its zone)."""
    from datetime import UTC, datetime

    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text) / 1000
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError("epoch milliseconds or YYYY-MM-DD HH:MM:SS.mmm")


def app_of(process: str) -> tuple[str, str]:
    """(app, step) of a Nextflow process or task name."""
    name = process.split(" (", 1)[0].strip()
    step = name.rsplit(":", 1)[-1].lower()
    return step.split("_", 1)[0], step


Records = list[tuple[int, dict[str, str]]]


def _read_text(path: Path) -> str:
    """The file's text (gzipped or not); one line naming it when it cannot be read as text
    or is empty."""
    text = read_text(path)
    if "\x00" in text:
        raise UserError(f"{path}: not a text file (holds NUL bytes)")
    if not text.strip():
        raise UserError(f"{path}: empty file")
    return text


def _read_table(path: Path, text: str) -> tuple[list[str], Records]:
    """Header and (line number, row) of a CSV or TSV, the delimiter told by the header."""
    delimiter = separator(text.split("\n", 1)[0], "\t")
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if any("\n" in h for h in header):
        raise UserError(f"{path}:1: a quote in the header is never closed (the header runs "
                        "on over the lines after it)")
    rows = []
    for row in reader:
        # DictReader marks a ragged row: extra fields under the key None, missing ones as
        # None values; read on, every later column would be shifted
        if None in row or None in row.values():
            how = "more" if None in row else "fewer"
            raise UserError(f"{path}:{reader.line_num}: {how} fields than the header's "
                            f"{len(header)}")
        values = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if any(values.values()):
            rows.append((reader.line_num, values))
    return header, rows


def _read_json_lines(path: Path, text: str) -> tuple[list[str], Records]:
    """Fields (in the order first seen) and (line number, record) of a file of one JSON
    object per line, every value as the text a table would hold: numbers as written,
    null as missing, dicts and lists as Python literals (as Snakemake's TSV holds them)."""
    header: dict[str, None] = {}
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            raise UserError(f"{path}:{line_number}: not JSON ({msg})") from None
        except RecursionError:
            raise UserError(f"{path}:{line_number}: JSON nested too deep") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{line_number}: expected a JSON object, got "
                            f"{type(record).__name__}")
        values = {}
        for key, value in record.items():
            header.setdefault(key, None)
            values[key] = ("" if value is None else value if isinstance(value, str)
                           else repr(value))
        rows.append((line_number, values))
    return list(header), rows


def _read_records(path: Path) -> tuple[list[str], Records]:
    """A table (CSV or TSV) or JSON lines, told by the content: a JSON object first."""
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        return _read_json_lines(path, text)
    return _read_table(path, text)


# a task's status when it ended, or (`NEW`, `SUBMITTED`, `RUNNING`: the task's state) when the
# run ended first: Nextflow writes the tasks still pending as they stand when it stops, as
# an interrupted or failed run leaves them; they did not finish, so they are cancelled
NEXTFLOW_STATUS = {"COMPLETED": "succeeded", "FAILED": "failed", "ABORTED": "cancelled",
                   "CACHED": "skipped", "NEW": "cancelled", "SUBMITTED": "cancelled",
                   "RUNNING": "cancelled"}


# Nextflow writes a task's `script` and `env` as they are, line breaks included
# (nextflow-io/nextflow#1765, kept so): a trace with either column is no table any more
_FREE_TEXT = ("script", "env")


def _nextflow_records(path: Path, text: str) -> tuple[list[str], Records]:
    """A trace's header and rows. With a `script` or `env` column, whose text runs over
    several lines, a row is the lines that together hold the header's number of fields
    (with the free text last, the lines after it that hold no separator too); the free
    text must hold no separator itself (a tab in a script makes the rows ambiguous: one
    line saying so)."""
    lines = text.split("\n")
    sep = separator(lines[0], "\t")
    header = [h.strip() for h in lines[0].split(sep)]
    free = [c for c in _FREE_TEXT if c in header]
    if not free:
        return _read_table(path, text)
    wanted = len(header) - 1
    free_last = header[-1] in free
    rows: Records = []
    i = 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        start, record = i, lines[i]
        i += 1
        while record.count(sep) < wanted and i < len(lines):
            record, i = record + "\n" + lines[i], i + 1
        while free_last and i < len(lines) and sep not in lines[i] and (
                i + 1 < len(lines) or lines[i].strip()):
            record, i = record + "\n" + lines[i], i + 1
        # a row never starts with an empty field (Nextflow writes `-`): one that does is
        # the rest of a row whose free text held a separator
        if record.count(sep) != wanted or (not record.split(sep, 1)[0].strip()
                                           and header[0] not in free):
            if record.count(sep) < wanted and i >= len(lines):
                raise UserError(f"{path}:{start + 1}: fewer fields than the header's "
                                f"{len(header)} before the end of the file (cut short?)")
            how = "fewer" if record.count(sep) < wanted else "more"
            raise UserError(f"{path}:{start + 1}: {how} fields than the header's "
                            f"{len(header)}, or a row's {' or '.join(free)} text, which "
                            "Nextflow writes as it is, holds a separator: leave "
                            f"{' and '.join(free)} out of trace.fields")
        values = dict(zip(header, (v.strip() for v in record.split(sep)), strict=True))
        rows.append((start + 1, values))
    return header, rows


def nextflow_rows(path: Path, run_id: str) -> list[Rows]:
    header, rows = _nextflow_records(path, _read_text(path))
    if "realtime" not in header or not ({"name", "process"} & set(header)):
        raise UserError(f"{path}: not a Nextflow trace: expected the columns realtime and "
                        f"name or process, found {', '.join(header) or 'none'}")
    workflow_id = source_stem(path)
    out: list[Rows] = []
    for n, (line, values) in enumerate(rows, start=1):
        row = FieldReader(path, line, values, MISSING)
        process = values.get("process") or values.get("name", "")
        app, step = app_of(process)
        wall = row.get("realtime", duration_s)
        cpu_share = row.get("%cpu", percent)
        cpu = cpu_share / 100 * wall if cpu_share is not None and wall is not None else None
        start = row.get("start", timestamp_s)
        end = row.get("complete", timestamp_s)
        status = values.get("status", "COMPLETED").upper()
        if status not in NEXTFLOW_STATUS:
            raise UserError(f"{path}:{line}: status: expected one of "
                            f"{', '.join(NEXTFLOW_STATUS)}, got {status!r}")
        task = {
            "run_id": run_id, "workflow_id": workflow_id, "workflow": "nextflow-import",
            "task_id": f"{workflow_id}.{values.get('task_id') or n}", "step": step,
            "app": app, "host": values.get("hostname", ""), "executor": "nextflow-import",
            "status": NEXTFLOW_STATUS[status], "exit_code": row.get("exit", int, measured=False),
            "submit_time": row.get("submit", timestamp_s), "start_time": start,
            "end_time": end, "wall_s": wall, "cpu_time_s": cpu,
            "mean_cores": round(cpu / wall, 4) if cpu is not None and wall else None,
            "peak_rss_bytes": row.get("peak_rss", memory_bytes),
            "read_bytes": row.get("read_bytes", memory_bytes),
            "write_bytes": row.get("write_bytes", memory_bytes),
            "read_chars": row.get("rchar", memory_bytes),
            "write_chars": row.get("wchar", memory_bytes),
            "read_ops": row.get("syscr", int), "write_ops": row.get("syscw", int),
            "threads_requested": row.get("cpus", int),
            "memory_requested_bytes": row.get("memory", memory_bytes),
            "attempt": row.get("attempt", int) or 1,
        }
        out.append((_blank_missing(task), []))
    return out


SNAKEMAKE_COLUMNS = ("s", "h:m:s")  # in every layout since the first
_RESOURCE_MB = re.compile(r"['\"]mem_mb['\"]\s*:\s*(\d+(?:\.\d+)?)")
_RESOURCE_MIB = re.compile(r"['\"]mem_mib['\"]\s*:\s*(\d+(?:\.\d+)?)")


def total_mib(text: str) -> float:
    """Snakemake's `input_size_mb`: a number, or (8.x) a dict of MiB by input file, summed."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        sizes = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        sizes = None
    numbers = (list(sizes.values()) if isinstance(sizes, dict)
               else list(sizes) if isinstance(sizes, list | tuple) else None)
    if numbers is None or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                  for v in numbers):
        raise ValueError("MiB, or a dict of MiB by file such as {'a.fq': 4.8}")
    return float(sum(numbers))


def requested_memory_bytes(text: str) -> int | None:
    """The memory a Snakemake job asked for, from its `resources` dict: `mem_mb` (MB of
    10^6 bytes, as Snakemake reads it), else `mem_mib`; None when it names neither. Read
    by pattern, not evaluated: a resource not known yet is written as an object's repr."""
    if match := _RESOURCE_MB.search(text):
        return round(float(match.group(1)) * 10**6)
    if match := _RESOURCE_MIB.search(text):
        return round(float(match.group(1)) * MIB)
    return None


_WILDCARD = re.compile(r"\{\s*([A-Za-z_]\w*)\s*(?:,([^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}")


def rule_pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regex of a `benchmark:` path pattern in Snakemake's wildcard syntax (`{name}`,
    or `{name,REGEX}` constrained), which must hold `{rule}`; a wildcard named twice
    matches the same text both times. UserError for a pattern that is not one."""
    parts, seen, at = [], set(), 0
    for match in _WILDCARD.finditer(pattern):
        literal = pattern[at:match.start()]
        if "{" in literal or "}" in literal:
            break
        name, constraint = match[1], match[2]
        parts.append(re.escape(literal))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{constraint or '.+?'})")
        seen.add(name)
        at = match.end()
    tail = pattern[at:]
    if "{" in tail or "}" in tail:
        raise UserError(f"--rule-pattern {pattern!r}: a brace that opens no wildcard "
                        "(expected {name} or {name,regex})")
    if "rule" not in seen:
        raise UserError(f"--rule-pattern {pattern!r}: expected a {{rule}} wildcard where the "
                        "rule's name stands, e.g. {sample}.{rule}.benchmark.txt")
    try:
        return re.compile("".join(parts) + re.escape(tail))
    except re.error as exc:
        raise UserError(f"--rule-pattern {pattern!r}: not a valid constraint ({exc})") from None


def _rule_of(path: Path, pattern: str) -> str:
    """The `{rule}` that `pattern` finds in the end of `path` (as many of its last
    components as the pattern has)."""
    depth = pattern.count("/") + 1
    tail = "/".join(path.parts[-depth:])
    match = rule_pattern_regex(pattern).fullmatch(tail)
    if match is None:
        raise UserError(f"{path}: does not match --rule-pattern {pattern!r}")
    return match["rule"]


def snakemake_rows(path: Path, run_id: str, rule_pattern: str | None = None) -> list[Rows]:
    """Each line of a Snakemake benchmark file as a task. `rule_pattern`: where the rule's
    name stands in the file's path (`rule_pattern_regex`), for files that do not name it
    (before 8.x's `--benchmark-extended`) in a folder that is not the rule's."""
    header, rows = _read_records(path)
    if not set(SNAKEMAKE_COLUMNS) <= set(header):
        raise UserError(f"{path}: not a Snakemake benchmark file: expected the columns "
                        f"{' and '.join(SNAKEMAKE_COLUMNS)}, found "
                        f"{', '.join(header)[:300] or 'none'}")
    if rule_pattern is not None:
        default_rule = _rule_of(path, rule_pattern)
    elif path.parent.name not in ("benchmarks", "benchmark", ""):
        default_rule = path.parent.name
    else:
        default_rule = path.name.split(".", 1)[0]
    out: list[Rows] = []
    for n, (line, values) in enumerate(rows, start=1):
        row = FieldReader(path, line, values, MISSING)
        rule = values.get("rule_name") or default_rule
        wall = row.get("s", float)
        cpu = row.get("cpu_time", float)

        def mib(column: str, row: FieldReader = row, convert: Callable[[str], float] = float
                ) -> int | None:
            value = row.get(column, convert)
            return round(value * MIB) if value is not None else None

        task = {
            "run_id": run_id, "workflow_id": run_id, "workflow": "snakemake-import",
            "task_id": f"{rule}.{source_stem(path)}" + (f".r{n}" if len(rows) > 1 else ""),
            "step": rule, "app": rule.split("_", 1)[0].lower(), "host": "",
            "executor": "snakemake-import", "status": "succeeded", "wall_s": wall,
            "cpu_time_s": cpu,
            "mean_cores": round(cpu / wall, 4) if cpu is not None and wall else None,
            "peak_rss_bytes": mib("max_rss"), "peak_pss_bytes": mib("max_pss"),
            "read_bytes": mib("io_in"), "write_bytes": mib("io_out"),
            "threads_requested": row.get("threads", int),
            "memory_requested_bytes": row.get("resources", requested_memory_bytes),
            "input_bytes": mib("input_size_mb", convert=total_mib), "attempt": 1,
        }
        out.append((_blank_missing(task), []))
    return out


def _blank_missing(task: dict[str, Any]) -> dict[str, object]:
    return {k: ("" if v is None else v) for k, v in task.items()}
