"""One workload, written as each sysstat release from 10.0 to 12.7 lays out `pidstat -h -u
-t -d -r`, must import to the same totals, and to the workload's own.

The layouts follow sysstat's pidstat.c of each release: 10.0 and 10.1 print a process as
`TGID=14 TID=0` and a thread as `TGID=0 TID=14` under -h, with epoch times and no UID;
10.2 on print `-` for the missing ID and add UID (or USER with -U) and `iodelay`; 11.5 on
add `%wait`; 12.x widen RSS, print epoch times with -H, and name a thread whose process is
not shown `(bwa)__bwa`. A thread under its process is `|__bwa` in all of them, and the main
thread's line repeats its process's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from genscale.store.importers.pidstat import to_rows

KIB = 1024
EPOCH0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


@dataclass(frozen=True)
class Thread:
    tid: int
    usr: float  # percent of one core
    system: float


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    rss_kib: int
    read_kib_s: float
    write_kib_s: float
    threads: tuple[Thread, ...]

    @property
    def usr(self) -> float:
        return round(sum(t.usr for t in self.threads), 2)

    @property
    def system(self) -> float:
        return round(sum(t.system for t in self.threads), 2)


def bwa_mem_t8(second: int) -> list[Process]:
    """`bwa mem -t 8 | samtools view`: bwa's main thread reads while 8 workers align."""
    workers = tuple(Thread(101 + i, 95.0 - i - second % 3, 2.0 + (i % 2)) for i in range(8))
    bwa = Process(100, "bwa", 6_800_000 + 1000 * second, 30_000.0 + second, 0.0,
                  (Thread(100, 3.0, 1.0), *workers))
    samtools = Process(200, "samtools", 12_000, 0.0, 9_000.0 + second,
                       (Thread(200, 40.0, 5.0),))
    return [bwa, samtools]


REPORTS = [bwa_mem_t8(s) for s in range(5)]


def expected_totals() -> dict[str, float]:
    cpu = sum(p.usr + p.system for r in REPORTS for p in r) / 100
    return {
        "cpu_time_s": cpu,
        "read_bytes": sum(p.read_kib_s for r in REPORTS for p in r) * KIB,
        "write_bytes": sum(p.write_kib_s for r in REPORTS for p in r) * KIB,
        "peak_rss_bytes": max(sum(p.rss_kib for p in r) for r in REPORTS) * KIB,
        "max_procs": 2,
        "max_threads": 10,
        "wall_s": float(len(REPORTS)),
    }


def _clock(second: int, ampm: bool) -> str:
    hour, minute, sec = 22, 13, 20 + second  # EPOCH0 in UTC
    if ampm:
        return f"{hour - 12:02d}:{minute:02d}:{sec:02d} PM"
    return f"{hour:02d}:{minute:02d}:{sec:02d}"


@dataclass(frozen=True)
class Layout:
    name: str
    noop: str  # the missing ID: "0" (10.0, 10.1 under -h) or "-"
    owner: str  # "" (no column), "UID" or "USER"
    wait: bool  # %wait column (11.5 on)
    iodelay: bool  # iodelay column (10.2 on)
    time: str  # "epoch", "clock" or "ampm"
    orphans: bool = False  # bwa's process line not shown: its threads as (bwa)__bwa

    def header(self) -> str:
        cols = ["#      Time"]
        if self.owner:
            cols.append(f"{self.owner:>5}")
        cols += ["     TGID", "      TID", "   %usr", "%system", " %guest"]
        if self.wait:
            cols.append("  %wait")
        cols += ["   %CPU", "  CPU", " minflt/s", " majflt/s", "    VSZ", "    RSS", "  %MEM",
                 "  kB_rd/s", "  kB_wr/s", "kB_ccwr/s"]
        if self.iodelay:
            cols.append("iodelay")
        return " ".join(cols) + "  Command"

    def line(self, second: int, proc: Process, ids: tuple[str, str], usr: float,
             system: float, read: float, write: float, command: str) -> str:
        when = {"epoch": str(EPOCH0 + second), "clock": _clock(second, False),
                "ampm": _clock(second, True)}[self.time]
        cols = [f"{when:<11}"]
        if self.owner:
            cols.append("0" if self.owner == "UID" else "root")
        cols += [f"{ids[0]:>9}", f"{ids[1]:>9}", f"{usr:7.2f}", f"{system:7.2f}", "   0.00"]
        if self.wait:
            cols.append("   1.50")
        cols += [f"{usr + system:7.2f}", "    1", "   120.00", "     0.00",
                 f"{proc.rss_kib + 90_000:7d}", f"{proc.rss_kib:7d}", "  21.04",
                 f"{read:9.2f}", f"{write:9.2f}", "     0.00"]
        if self.iodelay:
            cols.append("      0")
        return " ".join(cols) + "  " + command

    def render(self) -> str:
        out = ["Linux 6.1.0-13-amd64 (node7) \t11/14/2023 \t_x86_64_\t(96 CPU)", ""]
        for second, report in enumerate(REPORTS, start=1):
            out.append(self.header())
            for proc in report:
                hidden = self.orphans and proc.comm == "bwa"
                if not hidden:
                    out.append(self.line(second, proc, (str(proc.pid), self.noop), proc.usr,
                                         proc.system, proc.read_kib_s, proc.write_kib_s,
                                         proc.comm))
                for t in proc.threads:
                    # a thread's own I/O: the main thread does the process's reading
                    main = t.tid == proc.pid
                    read = proc.read_kib_s if main else 0.0
                    write = proc.write_kib_s if main else 0.0
                    if hidden:
                        ids, command = (str(proc.pid), str(t.tid)), f"({proc.comm})__{proc.comm}"
                    else:
                        ids, command = (self.noop, str(t.tid)), f"|__{proc.comm}"
                    out.append(self.line(second, proc, ids, t.usr, t.system, read, write,
                                         command))
            out.append("")
        return "\n".join(out) + "\n"


LAYOUTS = [
    Layout("sysstat-10.0", noop="0", owner="", wait=False, iodelay=False, time="epoch"),
    Layout("sysstat-10.2", noop="-", owner="UID", wait=False, iodelay=True, time="clock"),
    Layout("sysstat-11.2-user", noop="-", owner="USER", wait=False, iodelay=True,
           time="ampm"),
    Layout("sysstat-11.7", noop="-", owner="UID", wait=True, iodelay=True, time="clock"),
    Layout("sysstat-12.7", noop="-", owner="UID", wait=True, iodelay=True, time="epoch"),
    Layout("sysstat-12.7-process-hidden", noop="-", owner="UID", wait=True, iodelay=True,
           time="epoch", orphans=True),
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])
def test_every_sysstat_layout_gives_the_workload_totals(layout: Layout,
                                                        tmp_path: Path) -> None:
    path = tmp_path / f"{layout.name}.txt"
    path.write_text(layout.render())
    task, samples = to_rows(path, "r")
    expected = expected_totals()
    for key, value in expected.items():
        assert task[key] == pytest.approx(value, rel=1e-6, abs=2), (layout.name, key)
    assert len(samples) == len(REPORTS)
    # no sample claims more cores than the threads ran on
    assert max(s["cpu_cores"] for s in samples) <= 10


def test_old_layout_threads_are_not_processes(tmp_path: Path) -> None:
    """The regression of 0.10.0: sysstat 10.0's `TGID=0` threads read as processes gave 2.0x
    the CPU, 10x the peak memory and max_procs 12 on this log."""
    path = tmp_path / "old.txt"
    path.write_text(LAYOUTS[0].render())
    task, _ = to_rows(path, "r")
    assert task["max_procs"] == 2
    assert task["peak_rss_bytes"] < 7_000_000 * KIB


def test_human_readable_log_reads_as_the_plain_one() -> None:
    """`pidstat --human` (units on sizes, `%` on percentages) and the plain log, recorded
    side by side of one two-thread process by sysstat 12.6.1 here: the same totals, to the
    one decimal that --human prints. 0.10.x refused it (`%CPU: expected a number`)."""
    data = Path(__file__).parent / "data"
    human, _ = to_rows(data / "pidstat_human.txt", "h")
    plain, _ = to_rows(data / "pidstat_human_plain.txt", "p")
    assert human["wall_s"] == plain["wall_s"]
    assert (human["max_threads"], human["max_procs"]) == (plain["max_threads"], 1)
    assert human["cpu_time_s"] == pytest.approx(plain["cpu_time_s"], rel=0.005)
    # 217.1M beside 222,332 kB; 8.0M beside 8,204 kB/s
    assert human["peak_rss_bytes"] == pytest.approx(plain["peak_rss_bytes"], rel=0.001)
    assert human["write_bytes"] == pytest.approx(plain["write_bytes"], rel=0.005)
    assert human["read_bytes"] == plain["read_bytes"] == 4 * KIB


def test_a_log_without_io_columns_leaves_the_bytes_unknown() -> None:
    """`pidstat -h -u -t -r` (no -d), recorded by sysstat 12.6.1 here: no kB_rd/s or kB_wr/s
    column, so the bytes read and written are unknown (blank), not 0 as 0.10.x wrote them."""
    task, samples = to_rows(Path(__file__).parent / "data" / "pidstat_no_io.txt", "r")
    assert task["read_bytes"] == "" and task["write_bytes"] == ""
    assert all(s["read_bytes"] == "" and s["write_bytes"] == "" for s in samples)
    assert task["peak_rss_bytes"] == 4084 * KIB  # what the log does hold is read
