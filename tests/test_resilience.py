"""Retries, and resuming a run whose manager was killed with SIGKILL: nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from genscale.engine.runner import RunSettings, run_workflow
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, write

pytestmark = pytest.mark.slow  # kills a manager mid-task and resumes, with real tools (30 s)

FLAKY = """\
name: flaky
steps:
  - name: flaky
    app: sh
    outputs: {o: done.txt}
    command: >-
      sleep 0.3; if [ -e ../tried ]; then echo ok > {outputs.o}; else touch ../tried;
      echo 'first attempt fails' >&2; exit 3; fi
"""


def test_a_retry_runs_the_task_again_and_keeps_the_failed_attempt(tmp_path: Path) -> None:
    spec = write(tmp_path / "flaky.yaml", FLAKY)
    result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / "runs",
                                                       interval_s=0.1, retries=1))
    assert result.outcome.ok
    run = RunDirectory(result.run_dir)
    task = run.tasks().set_index("task_id").loc["flaky"]
    assert task["status"] == "succeeded" and task["attempt"] == 2
    assert (run.logs / "flaky.attempt1.err").read_text().strip() == "first attempt fails"
    info = run.read_run_info()
    assert info["retried"]["flaky"][0]["exit_code"] == 3
    assert set(run.samples()["attempt"]) == {1, 2}  # both attempts' series are kept


def test_without_retries_the_failure_stands(tmp_path: Path) -> None:
    spec = write(tmp_path / "flaky.yaml", FLAKY)
    result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / "runs",
                                                       interval_s=0.1))
    assert not result.outcome.ok
    assert RunDirectory(result.run_dir).tasks().loc[0, "attempt"] == 1


LONG = """\
name: long
steps:
  - name: first
    app: sh
    outputs: {o: first.txt}
    command: echo first > {outputs.o}
  - name: slow
    app: sh
    inputs: {i: first.txt}
    outputs: {o: slow.txt}
    command: sleep 8 && echo "slow $$" > {outputs.o}
  - name: last
    app: sh
    inputs: {i: slow.txt}
    outputs: {o: last.txt}
    command: cat {inputs.i} > {outputs.o}
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def task_processes(workdir: Path) -> list[int]:
    """Processes running in a run's work directory (its tasks), the `sleep` among them."""
    found = []
    for p in psutil.process_iter(["cwd", "name"]):
        if p.info["cwd"] == str(workdir) and p.info["name"] == "sleep":
            found.append(p.pid)
    return found


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "process-tree"])
def test_kill_and_resume_loses_nothing(tmp_path: Path, env_no_color: dict[str, str],
                                       cgroups: bool) -> None:
    spec = write(tmp_path / "long.yaml", LONG)
    runs = tmp_path / "runs"
    flags = [] if cgroups else ["--no-cgroups"]
    manager = subprocess.Popen([GENSCALE, "run", str(spec), "--runs-dir", str(runs),
                                "--interval", "0.1", "--no-plots", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env_no_color)
    deadline = time.monotonic() + 30
    orphans: list[int] = []
    while time.monotonic() < deadline and not orphans:  # until `slow` runs
        work = list(runs.glob("long-*/work"))
        orphans = task_processes(work[0].resolve()) if work else []
        time.sleep(0.05)
    assert orphans
    orphan = orphans[0]
    time.sleep(0.8)  # some samples of the slow task
    manager.send_signal(signal.SIGKILL)
    manager.wait()
    run_dir = work[0].parent
    assert (run_dir / ".running.json").exists() != cgroups  # the registry is the fallback
    run = RunDirectory(run_dir)
    before = run.samples()
    assert (before["task_id"] == "slow").sum() >= 3
    assert alive(orphan)  # the dead manager left its task running
    proc = subprocess.run([GENSCALE, "run", "--resume", str(run_dir), "--no-plots"],
                          capture_output=True, text=True, env=env_no_color, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not alive(orphan)  # stopped by the resume
    tasks = RunDirectory(run_dir).tasks().set_index("task_id")
    assert list(tasks["status"]) == ["succeeded"] * 3
    assert tasks.loc["slow", "attempt"] == 2 and tasks.loc["first", "attempt"] == 1
    after = RunDirectory(run_dir).samples()
    # every sample written before the kill is still there, as attempt 1
    kept = after[(after["task_id"] == "slow") & (after["attempt"] == 1)]
    assert len(kept) == (before["task_id"] == "slow").sum()
    assert ((after["task_id"] == "slow") & (after["attempt"] == 2)).sum() >= 3
    info = RunDirectory(run_dir).read_run_info()
    assert info["status"] == "succeeded"
    assert info["resumed"][0]["leftover_processes_stopped"] >= 1
    assert not (run_dir / ".running.json").exists()
    assert (run_dir / "work" / "last.txt").read_text().startswith("slow ")
    assert os.path.exists(run_dir / "tasks.parquet")


def test_resume_refuses_what_it_cannot(tmp_path: Path) -> None:
    proc = subprocess.run([GENSCALE, "run", "--resume", str(tmp_path)], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"genscale: error: {tmp_path}: not a run directory " \
                                  "(no run.json)"


def test_workload_kill_and_resume(tmp_path: Path, env_no_color: dict[str, str]) -> None:
    """A workload's manager killed mid-run: the resume finishes every instance, keeps the
    finished ones' rows, and keeps the arrival clock of the first start."""
    write(tmp_path / "wf.yaml", "name: nap\nsteps:\n  - {name: nap, app: sh, tools: [sh], "
                                "outputs: {o: o.txt},\n     command: 'sleep 1.5 && echo x > "
                                "{outputs.o}'}\n")
    spec = write(tmp_path / "w.yaml", "name: w\ninstances: 4\nmix:\n  - {workflow: wf.yaml, "
                                      "synth: {genome_bases: 20000, pairs: 1000}}\n"
                                      "arrival: {process: bursts, burst_size: 2, "
                                      "burst_every_s: 2}\nconcurrency: 2\n")
    runs = tmp_path / "runs"
    manager = subprocess.Popen([GENSCALE, "workload", "run", str(spec), "--runs-dir", str(runs),
                                "--interval", "0.1"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env_no_color)
    deadline = time.monotonic() + 60
    tasks_csv: list[Path] = []
    while time.monotonic() < deadline:  # until the first instance has finished
        tasks_csv = list(runs.glob("w-*/tasks.csv"))
        if tasks_csv and tasks_csv[0].read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    manager.send_signal(signal.SIGKILL)
    manager.wait()
    run_dir = tasks_csv[0].parent
    finished = RunDirectory(run_dir).load_tasks()
    assert 1 <= len(finished) < 4
    proc = subprocess.run([GENSCALE, "run", "--resume", str(run_dir), "--no-plots"],
                          capture_output=True, text=True, env=env_no_color, timeout=120)
    assert proc.returncode == 0, proc.stderr
    tasks = RunDirectory(run_dir).tasks().set_index("workflow_id")
    assert sorted(tasks.index) == ["w-0001", "w-0002", "w-0003", "w-0004"]
    assert (tasks["status"] == "succeeded").all()
    for row in finished.values():  # rows of the first manager kept as they were
        assert float(tasks.loc[str(row["workflow_id"]), "end_time"]) == pytest.approx(
            float(str(row["end_time"])))
    instances = RunDirectory(run_dir).read_run_info()["workload"]["instances"]
    late = [i for i in instances.values() if i["arrival_s"] >= 2]
    assert all(i["admitted_s"] >= i["arrival_s"] for i in late)
