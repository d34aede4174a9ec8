"""A full or read-only disk, made real: a small tmpfs mounted for the test (root, as in CI).

0.10.0 on a full disk: the sampler thread died on ENOSPC, Trimmomatic hung, the run waited
silently, and after SIGINT left four chained tracebacks, status `running` and a stray
`.tasks.csv.tmp`. Now the run stops with one line naming the path, keeps every row,
refuses to resume while the disk is still full, and resumes to a run that passes the
shared contract once there is room.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from genscale.data.manifest import Dataset
from genscale.store.rundir import CsvAppender, RunDirectory

from .conftest import GENSCALE, check_run_contract, write


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs: the dnaseq run on the test dataset needs about 28 MiB, and the run
    keeps 8 MiB of it in reserve, so the disk fills midway."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs, which needs root (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def genscale(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GENSCALE, *args], capture_output=True, text=True, timeout=600)


def test_full_disk_stops_the_run_and_resume_finishes_it(small_disk: Path,
                                                        dna_dataset: Dataset) -> None:
    proc = genscale("run", "dnaseq", "--dataset", str(dna_dataset.path), "--runs-dir",
                    str(small_disk / "runs"), "--interval", "0.5", "--no-plots")
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("genscale: error: ") and "No space left on device" in last
    assert "Traceback" not in proc.stderr
    run_dir = next((small_disk / "runs").glob("dnaseq-*"))
    assert f"--resume {run_dir}" in last
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "interrupted" and "No space left" in info["error"]
    tasks = pd.read_csv(run_dir / "tasks.csv")
    assert (tasks["status"] == "succeeded").any() and (tasks["status"] == "cancelled").any()
    assert not (tasks["status"] == "failed").any()  # the disk's failures are not the tasks'
    assert not list(run_dir.glob(".*.tmp"))
    assert not (run_dir / ".disk-reserve").exists()  # given back once the run is closed
    kept = set(tasks.loc[tasks["status"] == "succeeded", "task_id"])

    # still full: the resume says so in one line and changes nothing
    proc = genscale("run", "--resume", str(run_dir))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "No space left on device" in proc.stderr

    subprocess.run(["mount", "-o", "remount,size=96m", str(small_disk)], check=True)
    proc = genscale("run", "--resume", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    run = RunDirectory(run_dir)
    check_run_contract(run, "dnaseq")
    info = run.read_run_info()
    assert info["status"] == "succeeded" and "error" not in info
    assert "No space left" in info["resumed"][-1]["previous_error"]
    after = run.tasks().set_index("task_id")
    assert all(after.loc[t, "status"] == "succeeded" for t in kept)
    assert not (run_dir / ".disk-reserve").exists()


def test_monitor_on_a_disk_that_fills_says_so_and_keeps_the_totals(small_disk: Path) -> None:
    """The command fills the disk the monitor writes to; the monitor's samples stop, its
    task row and run.json are still written (from its reserve), and it says so in one
    line."""
    out = small_disk / "m"
    proc = genscale("monitor", "--interval", "0.05", "--out", str(out), "--", "sh", "-c",
                    f"dd if=/dev/zero of={small_disk}/fill bs=1M count=64 2>/dev/null; "
                    "sleep 0.5; exit 3")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "No space left on device" in proc.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["exit_code"] == 3 and info["status"] == "failed" and "No space" in info["error"]
    task = pd.read_csv(out / "tasks.csv").iloc[0]
    # the totals are whole, whatever the samples (tmpfs writes reach no storage: write calls)
    assert task["write_chars"] >= 10 * 2**20
    assert not (out / ".disk-reserve").exists()


def test_read_only_runs_directory_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs, which needs root (CI runs as root)")
    disk = tmp_path / "ro"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,ro", "tmpfs", str(disk)],
                   check=True)
    try:
        spec = write(tmp_path / "tiny.yaml", "name: tiny\nsteps:\n  - name: a\n    app: sh\n"
                                             "    outputs: {o: o.txt}\n"
                                             "    command: echo hi > {outputs.o}\n")
        proc = genscale("run", str(spec), "--runs-dir", str(disk))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and str(disk) in proc.stderr
        # refused before anything is written (os.access sees a read-only mount, even for
        # root); were the check passed, creating the directory says "Read-only file system"
        assert "not writable" in proc.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_appender_on_a_full_disk_keeps_what_it_wrote(tmp_path: Path) -> None:
    """/dev/full answers every write with ENOSPC: the appender keeps the error instead of
    killing the sampler thread that calls it."""
    appender = CsvAppender(Path("/dev/full"), ("a",))
    appender([{"a": 1}] * 10_000)
    assert appender.disk_error is not None and appender.disk_error.strerror == \
        "No space left on device"
    appender([{"a": 2}])  # no second raise
    appender.close()
