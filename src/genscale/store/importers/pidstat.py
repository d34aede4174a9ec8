"""`pidstat -h -u -t -d -r [-G NAME] INTERVAL` logs (the GenScale prototype's sidecar).

Each file becomes one task named after the file. With -h every line is one process or one
of its threads. A process line already holds the totals of all its threads, so the process
lines of a report are summed and thread lines only count threads: nothing is counted twice
(the prototype's converter kept one thread per core instead, and under-counted CPU by up
to 2.3x). Rates become cumulative bytes over each report's interval.

sysstat has marked threads three ways, and all read the same here:
- 10.0 and 10.1 with -h: a process is `TGID=14 TID=0`, a thread `TGID=0 TID=14`;
- 10.2 on: a process is `TGID=14 TID=-`, a thread `TGID=- TID=14`;
- 11.x and 12.x, a thread whose process is not shown (filtered out by -C or -G): both IDs
  given, its command `(bwa)__bwa`; its numbers are the only record of its process, so
  they are counted (summed per TGID for CPU and I/O; memory, which the threads share,
  once per TGID).
In every layout a thread shown under its process has its command as `|__bwa`, and the
main thread's own line repeats the process's numbers. Columns are found by their header
names, so files with or without UID or USER, `%wait` or `iodelay`, from sysstat 10 to
12.7, read the same; times may be HH:MM:SS, with AM/PM, or seconds since the epoch.
With `--human` (sysstat 12) percentages end in `%` and the kB columns (VSZ, RSS,
`kB_rd/s`, ...) are bytes with a unit of powers of 1024 (`0.0B`, `4.0k`, `217.1M`): read
back into kB, to the one decimal pidstat printed (RSS `217.1M` is 222,310 kB of 222,332).

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
from genscale.store.importers import read_text, source_stem
from genscale.store.importers.numbers import measure

KIB = 1024
# `--human`: a number and its unit, powers of 1024 from bytes
_HUMAN = re.compile(r"^(\d+(?:\.\d+)?)([BkKMGTP])$")
_HUMAN_BYTES = {"B": 1, "k": KIB, "K": KIB, "M": KIB**2, "G": KIB**3, "T": KIB**4, "P": KIB**5}
_KB_COLUMNS = ("VSZ", "RSS")  # and every `kB_...` column
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
    orphan_rss: dict[str, int] = field(default_factory=dict)  # TGID -> bytes
    io_measured: bool = True  # False when logged without -d: no kB_rd/s, kB_wr/s columns


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
    lines = read_text(path, errors="replace").splitlines()
    if not lines:
        raise UserError(f"{path}: empty file")
    day = _base_date(lines[0])
    columns: list[str] | None = None
    reports: dict[float, Report] = {}
    last_clock = -1.0
    first_epoch: bool | None = None
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
        # -l prints the whole command line: the Command field is the rest of the line
        row["Command"] = " ".join(tokens[len(columns) - 1:]) if "Command" in columns else ""
        try:
            epoch = row["Time"].isdigit()  # -H: seconds since the epoch; else a clock time
            if first_epoch is None:
                first_epoch = epoch
            elif epoch != first_epoch:
                raise ValueError(f"Time: {row['Time']!r}, where the lines before give "
                                 f"{'seconds since the epoch' if first_epoch else 'a clock time'}")
            when, last_clock, day = _timestamp(row["Time"], day, last_clock)
            report = reports.setdefault(when, Report(when))
            report.io_measured = "kB_rd/s" in columns and "kB_wr/s" in columns
            kind = _line_kind(row)
            if _process_name(row["Command"]) in exclude:
                continue
            if kind == "thread":
                report.thread_ids.add(row.get("TID", ""))
                continue
            cpu = _number(row, "%CPU") / 100
            rss = int(_number(row, "RSS")) * KIB
            user = _number(row, "%usr") / 100
            system = _number(row, "%system") / 100
            read = _number(row, "kB_rd/s") * KIB
            write = _number(row, "kB_wr/s") * KIB
        except ValueError as exc:
            raise UserError(f"{path}:{number}: {exc}") from None
        if kind == "orphan":
            tgid = row["TGID"]
            report.thread_ids.add(row.get("TID", ""))
            report.orphan_rss[tgid] = max(report.orphan_rss.get(tgid, 0), rss)
        else:
            report.procs += 1
            report.rss_bytes += rss
        report.cpu_cores += cpu
        report.user_cores += user
        report.system_cores += system
        report.read_rate += read
        report.write_rate += write
    if not reports:
        raise UserError(f"{path}: no reports")
    out = sorted(reports.values(), key=lambda r: r.time)
    for r in out:
        r.procs += len(r.orphan_rss)
        r.rss_bytes += sum(r.orphan_rss.values())
        r.threads = max(len(r.thread_ids), r.procs)
    return out


_ORPHAN = re.compile(r"^\((.*?)\)__")
_NO_ID = ("-", "0")


def _line_kind(row: dict[str, str]) -> str:
    """`process`, `thread` (its numbers are inside its process's line) or `orphan` (a
    thread whose process line pidstat did not print)."""
    command = row["Command"]
    if command.startswith("|__"):
        return "thread"
    if _ORPHAN.match(command):
        return "orphan"
    if "TID" not in row:
        return "process"
    if row.get("TGID", "-") in _NO_ID and row["TID"] not in _NO_ID:
        return "thread"
    return "process"


def _process_name(command: str) -> str:
    """The name of the process a line belongs to: `bwa` of `bwa mem ...` (with -l),
    `|__bwa` and `(bwa)__bwa`."""
    match = _ORPHAN.match(command)
    return match.group(1) if match else command.removeprefix("|__").split(" ", 1)[0]


def _number(row: dict[str, str], column: str) -> float:
    """A measured column of a line (0 where the layout lacks it). pidstat prints -1.00 for
    the I/O of a task whose /proc/PID/io it could not read: that is no I/O measured."""
    text = row.get(column, "0")
    if column.startswith("kB_") and text in ("-1.00", "-1"):
        return 0.0
    if column.startswith("%"):
        text = text.removesuffix("%")  # --human
    elif (column.startswith("kB_") or column in _KB_COLUMNS) and (
            human := _HUMAN.match(text)):
        return float(human[1]) * _HUMAN_BYTES[human[2]] / KIB
    try:
        return measure(text)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _timestamp(value: str, day: datetime, last_clock: float) -> tuple[float, float, datetime]:
    """(epoch seconds, clock seconds of the day, the day) of a Time field; a clock that goes
    backwards means the log crossed midnight."""
    if value.isdigit():
        # pidstat -H prints the clock's seconds since 1970: a real log's are billions
        if len(value) > 12 or int(value) < 10**8:
            raise ValueError(f"Time: expected seconds since the epoch, got {value!r}")
        return float(value), last_clock, day
    match = _CLOCK.fullmatch(value)
    if match is None:
        raise ValueError(f"Time: expected HH:MM:SS, HH:MM:SS AM or seconds since the epoch, "
                         f"got {value!r}")
    h, m, s = int(match[1]), int(match[2]), int(match[3])
    if match[4]:
        h = h % 12 + (12 if match[4] == "PM" else 0)
    clock = h * 3600 + m * 60 + s
    if clock < last_clock:
        day += timedelta(days=1)
    return (day + timedelta(seconds=clock)).timestamp(), clock, day


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d):([0-5]\d|60)(?: (AM|PM))?")


def to_rows(path: Path, run_id: str, exclude: frozenset[str] = frozenset()
            ) -> tuple[dict[str, object], list[dict[str, object]]]:
    """(tasks.csv row, samples.csv rows) for one pidstat file."""
    reports = parse_pidstat(path, exclude)
    gaps = [b.time - a.time for a, b in itertools.pairwise(reports) if b.time > a.time]
    interval = min(gaps) if gaps else 1.0
    start = reports[0].time - interval
    task_id = source_stem(path)
    samples = []
    read = write = 0.0
    # a log without -d holds no I/O: its byte counts are unknown, not 0
    io = all(r.io_measured for r in reports)
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
            "read_bytes": int(read) if io else "", "write_bytes": int(write) if io else "",
            "procs": r.procs, "threads": r.threads,
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
        "read_bytes": int(read) if io else "", "write_bytes": int(write) if io else "",
        "max_procs": max(r.procs for r in reports),
        "max_threads": max(r.threads for r in reports), "sample_interval_s": interval,
    }
    return task, samples
