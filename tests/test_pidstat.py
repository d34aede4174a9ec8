"""Importing the prototype's pidstat logs: real logs recorded with sysstat 12.6.1, older
formats derived from them, and a live pidstat run against a known workload."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genscale.errors import UserError
from genscale.store.importers.pidstat import parse_pidstat, to_rows
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, write

DATA = Path(__file__).parent / "data"
KIB = 1024


def test_one_process_with_threads_exact_totals() -> None:
    task, samples = to_rows(DATA / "pidstat_one_process.txt", "r")
    # process lines only (threads are inside them): %CPU 98.04 then 100.00, 1 s reports
    assert task["cpu_time_s"] == pytest.approx(0.9804 + 1.0)
    assert task["write_bytes"] == int(30117.65 * KIB)  # kB_wr/s x 1 s
    assert task["peak_rss_bytes"] == 64772 * KIB
    assert task["max_threads"] == 4 and task["max_procs"] == 1
    assert task["wall_s"] == 2.0 and task["sample_interval_s"] == 1.0
    assert [s["cpu_cores"] for s in samples] == [0.9804, 1.0]


def test_two_processes_summed_no_thread_twice() -> None:
    task, samples = to_rows(DATA / "pidstat_two_processes.txt", "r")
    # each report: process 23793 (2 threads) + process 23835 (1 thread)
    assert task["cpu_time_s"] == pytest.approx((0.5619 + 0.4190) + (0.59 + 0.42))
    assert task["peak_rss_bytes"] == (14076 + 95316) * KIB
    assert task["max_procs"] == 2 and task["max_threads"] == 3
    assert [s["procs"] for s in samples] == [2, 2]


def without_wait_column(text: str) -> str:
    """The same log as sysstat 11 wrote it: no %wait column."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append(line.replace("  %wait", ""))
        elif re.match(r"^\d\d:\d\d:\d\d", line):
            fields = line.split()
            del fields[7]
            out.append("  ".join(fields))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_older_formats_read_the_same(tmp_path: Path) -> None:
    original = (DATA / "pidstat_two_processes.txt").read_text()
    expected, _ = to_rows(DATA / "pidstat_two_processes.txt", "r")
    variants = {
        "nowait.txt": without_wait_column(original),
        "ampm.txt": re.sub(r"^(\d\d:\d\d:\d\d)", r"\1 AM", original, flags=re.M),
        "epoch.txt": re.sub(r"^08:00:4(\d)", lambda m: str(1795248040 + int(m[1])), original,
                            flags=re.M),
    }
    for name, text in variants.items():
        task, _ = to_rows(write(tmp_path / name, text), "r")
        for key in ("cpu_time_s", "peak_rss_bytes", "max_procs", "max_threads", "wall_s"):
            assert task[key] == pytest.approx(expected[key]), (name, key)


def test_midnight_rollover(tmp_path: Path) -> None:
    text = (DATA / "pidstat_one_process.txt").read_text()
    text = text.replace("08:00:22", "23:59:59").replace("08:00:23", "00:00:00")
    reports = parse_pidstat(write(tmp_path / "midnight.txt", text))
    assert reports[1].time - reports[0].time == 1.0


def test_bad_logs_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"bad\.txt:1: not a pidstat -h log"):
        parse_pidstat(write(tmp_path / "bad.txt", "hello world\n"))
    broken = (DATA / "pidstat_one_process.txt").read_text().replace("98.04", "n/a")
    with pytest.raises(UserError, match=r"broken\.txt:4: %CPU: expected a number, got 'n/a'"):
        parse_pidstat(write(tmp_path / "broken.txt", broken))
    # found by the fuzz test: a first report stamped `0` among clock times made the run
    # start a second before 1970 (start_time -1.0)
    lines = (DATA / "pidstat_two_processes.txt").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    mixed = [*lines[:first], "1795248041" + lines[first][8:], *lines[first + 1:]]
    with pytest.raises(UserError, match=r"mixed\.txt:\d+: Time: '08:00:\d\d', where the lines "
                                        r"before give seconds since the epoch"):
        parse_pidstat(write(tmp_path / "mixed.txt", "\n".join(mixed) + "\n"))
    zero = [*lines[:first], "0" + lines[first][8:], *lines[first + 1:]]
    with pytest.raises(UserError, match=r"zero\.txt:\d+: Time: expected seconds since the "
                                       r"epoch, got '0'"):
        parse_pidstat(write(tmp_path / "zero.txt", "\n".join(zero) + "\n"))


def test_cli_import_writes_a_run(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    proc = subprocess.run([GENSCALE, "import", "pidstat", str(DATA / "pidstat_one_process.txt"),
                           str(DATA / "pidstat_two_processes.txt"), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = RunDirectory(out)
    assert sorted(run.tasks()["task_id"]) == ["pidstat_one_process", "pidstat_two_processes"]
    assert len(run.samples()) == 4
    assert (out / "tasks.parquet").is_file()


@pytest.mark.slow
def test_live_pidstat_log_of_a_known_workload(tmp_path: Path) -> None:
    """pidstat on a two-thread process and a one-thread process. The truth is the kernel's
    (wait4). pidstat drops each process's last partial interval, so the import must come
    out at or under the truth, never over it (a thread counted twice would overshoot)."""
    probe = tmp_path / "gsprobe_py"  # -G selects by command name: a name of our own
    probe.symlink_to(Path(sys.executable).resolve())
    two_threads = ("import hashlib, threading, time\nb=bytes(32*2**20)\n"
                   "def work():\n t=time.time()\n while time.time()-t<3: hashlib.sha256(b)\n"
                   "ts=[threading.Thread(target=work) for _ in range(2)]\n"
                   "[t.start() for t in ts]; [t.join() for t in ts]")
    log = tmp_path / "live.txt"
    with open(log, "w") as f:
        pidstat = subprocess.Popen(["pidstat", "-h", "-u", "-t", "-d", "-r", "-G", "gsprobe",
                                    "1"], stdout=f)
        time.sleep(0.5)
        workers = [subprocess.Popen([str(probe), "-c", two_threads]),
                   subprocess.Popen([str(probe), "-c", "import time\nt=time.time()\n"
                                                       "while time.time()-t<3: pass"])]
        truth = 0.0
        for w in workers:
            _, _, usage = os.wait4(w.pid, 0)
            w.returncode = 0
            truth += usage.ru_utime + usage.ru_stime
        time.sleep(1.2)
        pidstat.terminate()
        pidstat.wait()
    task, _ = to_rows(log, "r")
    assert task["max_procs"] == 2 and task["max_threads"] >= 3
    assert 0.4 * truth <= float(task["cpu_time_s"]) <= 1.02 * truth  # type: ignore[arg-type]
