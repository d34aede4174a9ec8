"""Task tables other engines write: Nextflow trace files and Snakemake benchmark files.

Both become rows of our tasks schema (there is no time series in either, so no samples).

Nextflow (`-with-trace`, `trace.raw` or not): CSV or TSV with the standard field names.
`realtime` and `duration` are milliseconds when raw, or such as `1h 2m 3s`, `5.2s`, `45ms`
otherwise; memory is bytes, or such as `1.2 GB` (Nextflow's units are powers of 1024);
`%cpu` is percent of one core, with or without the `%` sign; `-` is missing.
`cpu_time_s = %cpu / 100 * realtime`. `app` is the tool of the process's last name part,
`NFCORE_RNASEQ:RNASEQ:FASTQC (s1)` gives app `fastqc`, `...:PICARD_MARKDUPLICATES` gives
app `picard` and step `picard_markduplicates`.

Snakemake (`benchmark:` files): TSV with `s`, `h:m:s`, `max_rss`, `max_vms`, `max_uss`,
`max_pss` (MiB), `io_in`, `io_out` (MiB), `mean_load` (percent of one core) and `cpu_time`
(s), one line per repeat; newer versions may add `rule_name`, `threads`, `input_size_mb`.
The rule is the `rule_name` column, else the file's directory (`benchmarks/RULE/x.tsv`),
else the file name up to its first dot. The files hold no timestamps.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.store.importers import Rows
from genscale.store.importers.numbers import check_measure

MIB = 2**20
MISSING = {"", "-", "NA", "na", "N/A", "null"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGTPE]?B)?$", re.IGNORECASE)
_MEMORY_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50,
                 "EB": 2**60}
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(text: str) -> float:
    """Nextflow's `realtime`/`duration`: raw milliseconds, or `1d 2h 3m 4.5s`, `45ms`."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text) / 1000
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError("a duration such as 1234 (ms) or 1h 2m 3s")
    return sum(float(n) * _SECONDS[unit] for n, unit in parts)


def memory_bytes(text: str) -> int:
    """Bytes, or a number with B, KB, MB, GB, TB (powers of 1024, as Nextflow prints)."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError("bytes, or a size such as 1.2 GB")
    return round(float(match.group(1)) * _MEMORY_UNITS[(match.group(2) or "B").upper()])


def percent(text: str) -> float:
    return float(text.strip().rstrip("%"))


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


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) of a CSV or TSV, the delimiter told by the header."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: a directory; give the files in it") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    if "\x00" in text:
        raise UserError(f"{path}: not a text file (holds NUL bytes)")
    lines = text.splitlines()
    if not lines:
        raise UserError(f"{path}: empty file")
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
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


class _Row:
    """Typed access to one row, every bad value one error naming file, line and column."""

    def __init__(self, path: Path, line: int, values: dict[str, str]) -> None:
        self.path, self.line, self.values = path, line, values

    def get(self, column: str, convert: Callable[[str], Any], measured: bool = True) -> Any:
        """The column's value, None where missing; `measured` values must be finite and
        not negative (an exit status may be anything)."""
        text = self.values.get(column, "")
        if text in MISSING:
            return None
        try:
            value = convert(text)
        except (ValueError, OverflowError) as exc:
            expected = str(exc) if " " in str(exc) else f"a {convert.__name__} value"
            raise UserError(f"{self.path}:{self.line}: {column}: expected {expected}, "
                            f"got {text!r}") from None
        if measured:
            try:
                check_measure(value, text)
            except ValueError as exc:
                raise UserError(f"{self.path}:{self.line}: {column}: {exc}") from None
        return value


NEXTFLOW_STATUS = {"COMPLETED": "succeeded", "FAILED": "failed", "ABORTED": "cancelled",
                   "CACHED": "skipped"}


def nextflow_rows(path: Path, run_id: str) -> list[Rows]:
    header, rows = _read_table(path)
    if "realtime" not in header or not ({"name", "process"} & set(header)):
        raise UserError(f"{path}: not a Nextflow trace: expected the columns realtime and "
                        f"name or process, found {', '.join(header) or 'none'}")
    workflow_id = path.stem
    out: list[Rows] = []
    for n, (line, values) in enumerate(rows, start=1):
        row = _Row(path, line, values)
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


def snakemake_rows(path: Path, run_id: str) -> list[Rows]:
    header, rows = _read_table(path)
    if not {"s", "max_rss", "cpu_time"} <= set(header):
        raise UserError(f"{path}: not a Snakemake benchmark file: expected the columns s, "
                        f"max_rss and cpu_time, found {', '.join(header) or 'none'}")
    default_rule = (path.parent.name if path.parent.name not in ("benchmarks", "benchmark", "")
                    else path.name.split(".", 1)[0])
    out: list[Rows] = []
    for n, (line, values) in enumerate(rows, start=1):
        row = _Row(path, line, values)
        rule = values.get("rule_name") or default_rule
        wall = row.get("s", float)
        cpu = row.get("cpu_time", float)

        def mib(column: str, row: _Row = row) -> int | None:
            value = row.get(column, float)
            return round(value * MIB) if value is not None else None

        task = {
            "run_id": run_id, "workflow_id": run_id, "workflow": "snakemake-import",
            "task_id": f"{rule}.{path.stem}" + (f".r{n}" if len(rows) > 1 else ""),
            "step": rule, "app": rule.split("_", 1)[0].lower(), "host": "",
            "executor": "snakemake-import", "status": "succeeded", "wall_s": wall,
            "cpu_time_s": cpu,
            "mean_cores": round(cpu / wall, 4) if cpu is not None and wall else None,
            "peak_rss_bytes": mib("max_rss"), "peak_pss_bytes": mib("max_pss"),
            "read_bytes": mib("io_in"), "write_bytes": mib("io_out"),
            "threads_requested": row.get("threads", int),
            "input_bytes": mib("input_size_mb"), "attempt": 1,
        }
        out.append((_blank_missing(task), []))
    return out


def _blank_missing(task: dict[str, Any]) -> dict[str, object]:
    return {k: ("" if v is None else v) for k, v in task.items()}
