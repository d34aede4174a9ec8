"""`pidstat -h -u -t -d -r [-G NAME] INTERVAL` logs (the GenScale prototype's sidecar).

Each file becomes one task named after the file. With -h every line is one process (TID
`-`) or one of its threads (TGID `-`). A process line already holds the totals of all its
threads, so the process lines of a report are summed and thread lines only count threads:
nothing is counted twice (the prototype's converter kept one thread per core instead, and
under-counted CPU by up to 2.3x). Rates become cumulative bytes over each report's
interval. Columns are found by their header names, so files with or without `%wait`, from
sysstat 10 to 12, read the same; times may be HH:MM:SS, with AM/PM, or seconds since the
epoch.

One limit is pidstat's own: a process's I/O counters include the children it has reaped,
so when a child is reaped its bytes show again in its parent's report. Any sum over
processes (this one, and the prototype's) can count a short-lived child's I/O once per
ancestor. The log alone holds nothing to undo that with.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from genscale.errors import UserError

KIB = 1024
_DATE = re.compile(r"\b(\d{2})/(\d{2})/(\d{2,4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


@dataclass
class Report:
    """One interval of one file: sums over its processes."""

    time: float  # s since the epoch, end of the interval
    cpu_cores: float = 0.0
    user_cores: float = 0.0
    system_cores: float = 0.0
    rss_bytes: int = 0
    read_rate: float = 0.0  # bytes/s
    write_rate: float = 0.0
    procs: int = 0
    threads: int = 0
    thread_ids: set[str] = field(default_factory=set)


def _base_date(header: str) -> datetime:
    if m := _ISO_DATE.search(header):
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
    if m := _DATE.search(header):
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return datetime(year, int(m[1]), int(m[2]), tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def parse_pidstat(path: Path, exclude: frozenset[str] = frozenset()) -> list[Report]:
    """Reports in time order; raises UserError naming the file and line of a problem.
    Processes whose command is in `exclude` (pidstat itself, in a sidecar) are left out."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    if not lines:
        raise UserError(f"{path}: empty file")
    day = _base_date(lines[0])
    columns: list[str] | None = None
    reports: dict[float, Report] = {}
    last_clock = -1.0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith(("Linux", "Average")):
            continue
        if text.startswith("#"):
            columns = text.lstrip("#").split()
            if "TGID" not in columns and "PID" in columns:  # logged without -t
                columns[columns.index("PID")] = "TGID"
            missing = {"Time", "TGID", "%CPU", "RSS"} - set(columns)
            if missing:
                raise UserError(f"{path}:{number}: not a pidstat -h header: no "
                                f"{', '.join(sorted(missing))} column")
            continue
        if columns is None:
            raise UserError(f"{path}:{number}: not a pidstat -h log (no '# Time ...' header "
                            "before the first report)")
        tokens = text.split()
        if len(tokens) > 1 and tokens[1] in ("AM", "PM"):
            tokens = [f"{tokens[0]} {tokens[1]}", *tokens[2:]]
        if len(tokens) < len(columns):
            raise UserError(f"{path}:{number}: expected {len(columns)} fields, found "
                            f"{len(tokens)}")
        row = dict(zip(columns, tokens, strict=False))
        try:
            when, last_clock, day = _timestamp(row["Time"], day, last_clock)
            report = reports.setdefault(when, Report(when))
            if row.get("Command", "").removeprefix("|__") in exclude:
                continue
            if row.get("TGID", "-") == "-":  # a thread of the process above
                report.thread_ids.add(row.get("TID", ""))
                continue
            report.procs += 1
            report.cpu_cores += float(row["%CPU"]) / 100
            report.user_cores += float(row.get("%usr", "0")) / 100
            report.system_cores += float(row.get("%system", "0")) / 100
            report.rss_bytes += int(float(row["RSS"])) * KIB
            report.read_rate += float(row.get("kB_rd/s", "0")) * KIB
            report.write_rate += float(row.get("kB_wr/s", "0")) * KIB
        except ValueError as exc:
            raise UserError(f"{path}:{number}: not a number where one was expected ({exc})"
                            ) from None
    if not reports:
        raise UserError(f"{path}: no reports")
    out = sorted(reports.values(), key=lambda r: r.time)
    for r in out:
        r.threads = max(len(r.thread_ids), r.procs)
    return out


def _timestamp(value: str, day: datetime, last_clock: float) -> tuple[float, float, datetime]:
    """(epoch seconds, clock seconds of the day, the day) of a Time field; a clock that goes
    backwards means the log crossed midnight."""
    if value.isdigit():
        return float(value), last_clock, day
    clock_text, _, meridiem = value.partition(" ")
    h, m, s = (int(x) for x in clock_text.split(":"))
    if meridiem:
        h = h % 12 + (12 if meridiem == "PM" else 0)
    clock = h * 3600 + m * 60 + s
    if clock < last_clock:
        day += timedelta(days=1)
    return (day + timedelta(seconds=clock)).timestamp(), clock, day


def to_rows(path: Path, run_id: str, exclude: frozenset[str] = frozenset()
            ) -> tuple[dict[str, object], list[dict[str, object]]]:
    """(tasks.csv row, samples.csv rows) for one pidstat file."""
    reports = parse_pidstat(path, exclude)
    gaps = [b.time - a.time for a, b in itertools.pairwise(reports) if b.time > a.time]
    interval = min(gaps) if gaps else 1.0
    start = reports[0].time - interval
    task_id = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
    samples = []
    read = write = 0.0
    cpu = user = system = 0.0
    for r in reports:
        read += r.read_rate * interval
        write += r.write_rate * interval
        cpu += r.cpu_cores * interval
        user += r.user_cores * interval
        system += r.system_cores * interval
        samples.append({
            "run_id": run_id, "task_id": task_id, "app": task_id,
            "timestamp": r.time, "elapsed_s": round(r.time - start, 6),
            "cpu_cores": round(r.cpu_cores, 4), "rss_bytes": r.rss_bytes,
            "read_bytes": int(read), "write_bytes": int(write), "procs": r.procs,
            "threads": r.threads,
        })
    wall = reports[-1].time - start
    # %usr + %system can differ from %CPU by rounding; scale the split to the total
    split = user + system
    share = user / split if split > 0 else 1.0
    task = {
        "run_id": run_id, "workflow_id": run_id, "workflow": "pidstat-import",
        "task_id": task_id, "step": task_id, "app": task_id, "host": "",
        "executor": "pidstat-import", "status": "succeeded", "submit_time": start,
        "start_time": start, "end_time": reports[-1].time, "wall_s": wall,
        "cpu_user_s": round(cpu * share, 6), "cpu_system_s": round(cpu * (1 - share), 6),
        "cpu_time_s": round(cpu, 6), "mean_cores": round(cpu / wall, 4) if wall else 0.0,
        "peak_rss_bytes": max(r.rss_bytes for r in reports),
        "read_bytes": int(read), "write_bytes": int(write),
        "max_procs": max(r.procs for r in reports),
        "max_threads": max(r.threads for r in reports), "sample_interval_s": interval,
    }
    return task, samples
