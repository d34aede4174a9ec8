"""The SLURM executor on the real single-node SLURM of `make slurm-up` (started here if it is
not running): dnaseq end to end, sacct's totals against the monitor's, a lost job retried."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genscale.data.manifest import Dataset
from genscale.engine.runner import RunSettings, run_workflow
from genscale.executors.slurm import (
    SlurmSettings,
    parse_duration_s,
    parse_sacct,
    parse_size_bytes,
)
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, ROOT, check_run_contract, write


@pytest.fixture(scope="module")
def slurm() -> None:
    """A running SLURM with accounting: `make slurm-up` is idempotent."""
    up = subprocess.run(["bash", str(ROOT / "scripts" / "slurm-up.sh")], capture_output=True,
                        text=True, timeout=900)
    assert up.returncode == 0, up.stderr[-2000:]


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
       st.integers(0, 999))
def test_duration_round_trip(days: int, hours: int, minutes: int, seconds: int,
                             millis: int) -> None:
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds + millis / 1000
    if days:
        text = f"{days}-{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    elif hours:
        text = f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    else:
        text = f"{minutes:02d}:{seconds:02d}.{millis:03d}"
    assert parse_duration_s(text) == pytest.approx(expected)


def test_sacct_lines_as_slurm_prints_them() -> None:
    # as printed by sacct 22.05.8 here (sacct -n -P -o JobID,State,...,Reason)
    text = ("26|COMPLETED|0:0|vm|00:05.404|4||None\n"
            "26.batch|COMPLETED|0:0|vm|00:05.404|4|1136272K|\n"
            "27|CANCELLED by 0|0:15|vm|01:02:03|3723||None\n"
            "27.batch|CANCELLED|0:15|vm|01:02:03|3723|1.5G|\n")
    records = parse_sacct(text)
    assert records["26"].total_cpu_s == pytest.approx(5.404)
    assert records["26"].max_rss_bytes == 1136272 * 1024
    assert records["27"].state == "CANCELLED" and records["27"].signal == 15
    assert records["27"].total_cpu_s == 3723
    assert records["27"].max_rss_bytes == int(1.5 * 2**30)
    assert parse_size_bytes("") is None
    with pytest.raises(ValueError, match="8 fields"):
        parse_sacct("26|COMPLETED|0:0")
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s("5 minutes")


def test_dnaseq_through_slurm(slurm: None, dna_dataset: Dataset, tmp_path: Path) -> None:
    result = run_workflow("dnaseq", dna_dataset.path,
                          RunSettings(runs_dir=tmp_path / "runs", interval_s=0.2,
                                      executor="slurm", use_cache=False))
    assert result.outcome.ok, result.outcome.failures
    run = RunDirectory(result.run_dir)
    check_run_contract(run, "dnaseq")
    tasks = run.tasks()
    ran = tasks[tasks["status"] == "succeeded"]
    assert len(ran) >= 16
    assert set(ran["executor"]) == {"slurm"}
    accounting = pd.read_csv(run.path / "slurm_accounting.csv").set_index("task_id")
    assert set(accounting.index) == set(ran["task_id"])
    assert (accounting["state"] == "COMPLETED").all()
    # the node SLURM names is the host the monitor recorded
    hosts = ran.set_index("task_id")["host"]
    assert (hosts == accounting["node"].reindex(hosts.index)).all()
    # sacct's TotalCPU is the tool's CPU (the monitor's figure) plus the monitor's own
    # process, and little else: the two witnesses agree job by job
    unexplained = (accounting["sacct_cpu_s"] - accounting["monitor_cpu_s"]
                   - accounting["monitor_process_cpu_s"])
    assert (unexplained > -0.05).all(), unexplained
    assert (unexplained < 0.5 + 0.02 * accounting["sacct_cpu_s"]).all(), unexplained
    # every task's log came back from its node to logs/
    assert (run.logs / "bwa_mem.err").stat().st_size > 0


LOSABLE = """\
name: losable
steps:
  - name: slow
    app: sh
    tools: [sh]
    outputs: {out: done.txt}
    command: sleep 3 && echo done > {outputs.out}
"""


def test_lost_job_is_marked_and_retried(slurm: None, tmp_path: Path) -> None:
    """The first attempt's monitor is killed with SIGKILL, as a lost node would take it:
    no record comes back, the job is marked lost, and the second attempt runs."""
    spec = write(tmp_path / "losable.yaml", LOSABLE)
    runs = tmp_path / "runs"
    stop = threading.Event()

    def kill_first_attempt() -> None:
        while not stop.is_set():
            pods = list(runs.glob("*/pods/slow.a1/samples.csv"))
            if pods:
                pattern = f"genscale monitor --out {pods[0].parent} "
                subprocess.run(["pkill", "-KILL", "-f", pattern], check=False)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_first_attempt, daemon=True)
    killer.start()
    try:
        result = run_workflow(str(spec), None, RunSettings(
            runs_dir=runs, interval_s=0.2, executor="slurm", retries=1,
            executor_settings={"slurm": SlurmSettings(accounting_wait_s=20)}))
    finally:
        stop.set()
        killer.join()
    assert result.outcome.ok, result.outcome.failures
    row = RunDirectory(result.run_dir).tasks().set_index("task_id").loc["slow"]
    assert row["status"] == "succeeded" and row["attempt"] == 2
    retried = RunDirectory(result.run_dir).read_run_info()["retried"]["slow"]
    assert retried[0]["lost"] is True
    assert "without the monitor's record" in retried[0]["stderr_tail"][0]
    assert (result.run_dir / "work" / "done.txt").read_text() == "done\n"


def test_workload_through_slurm(slurm: None, tmp_path: Path) -> None:
    from genscale.engine.runner import run_workload

    write(tmp_path / "wf.yaml", "name: tiny\nsteps:\n  - {name: s, app: sh, tools: [sh], "
                                "outputs: {o: o.txt},\n     command: 'sleep 0.5 && echo x > "
                                "{outputs.o}'}\n")
    spec = write(tmp_path / "w.yaml", "name: w\ninstances: 3\nmix:\n  - {workflow: wf.yaml, "
                                      "synth: {genome_bases: 20000, pairs: 1000}}\n"
                                      "concurrency: 2\n")
    result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.2,
                                            executor="slurm"))
    assert result.outcome.ok, result.outcome.failures
    tasks = RunDirectory(result.run_dir).tasks()
    assert sorted(tasks["workflow_id"]) == ["w-0001", "w-0002", "w-0003"]
    assert set(tasks["executor"]) == {"slurm"} and (tasks["status"] == "succeeded").all()


def test_import_sacct_of_jobs_run_now(slurm: None, tmp_path: Path) -> None:
    """`genscale import sacct` on what this SLURM's sacct says of jobs submitted here: a
    job that writes 24 MiB with O_DIRECT and reads them back, one that fails with exit 3,
    one cancelled while it waits behind a job holding every CPU. Each job's steps fold into
    its task (sacct keeps MaxRSS and disk bytes on steps only). SLURM samples a step each
    second (JobAcctGatherFrequency=1): a job over within the second has none of them, so
    the copy sleeps after its I/O."""
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True,
                              check=True).stdout.split()[0].rstrip("+"))

    def sbatch(*argv: str) -> str:
        return subprocess.run(["sbatch", "--parsable", *argv], capture_output=True,
                              text=True, check=True, cwd=tmp_path).stdout.strip()

    out = tmp_path / "d"
    dd = sbatch("-c", "1", "-J", "dd_copy", "--wrap",
                f"dd if=/dev/zero of={out} bs=1M count=24 oflag=direct 2>/dev/null && "
                f"dd if={out} of=/dev/null bs=1M 2>/dev/null && sleep 2")
    failing = sbatch("-c", "1", "-J", "fails", "--wrap", "exit 3")
    holder = sbatch("-c", str(cpus), "-J", "holder", "--wrap", "sleep 5")
    waiting = sbatch("-c", str(cpus), "-J", "waits", "--wrap", "sleep 60")
    subprocess.run(["scancel", waiting], check=True)
    ids = [dd, failing, holder, waiting]
    fields = "JobID,JobName,State,ExitCode,Submit,Start,End,ElapsedRaw,TotalCPU,ReqCPUS,ReqMem," \
             "MaxRSS,MaxDiskRead,MaxDiskWrite,NodeList"
    deadline = time.monotonic() + 120
    while True:
        text = subprocess.run(["sacct", "-P", "-j", ",".join(ids), "-o", fields],
                              capture_output=True, text=True, check=True).stdout
        jobs = [line.split("|") for line in text.splitlines()[1:] if "." not in line.split("|")[0]]
        steps = {line.split("|")[0] for line in text.splitlines()[1:]}
        if len(jobs) == 4 and all(j[2].split()[0] in ("COMPLETED", "FAILED", "CANCELLED")
                                  for j in jobs) and f"{dd}.batch" in steps:
            break
        assert time.monotonic() < deadline, text
        time.sleep(1)
    path = write(tmp_path / "jobs.txt", text)
    proc = subprocess.run([GENSCALE, "import", "sacct", str(path), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tasks = pd.read_csv(tmp_path / "run" / "tasks.csv").set_index("task_id")
    copy = tasks.loc[f"jobs.{dd}"]
    assert (copy["step"], copy["status"], copy["host"]) == ("dd_copy", "succeeded", "vm")
    # SLURM counts read() and write() bytes: /dev/zero's 24 MiB in, the file's 24 MiB out
    # then back in
    assert copy["write_chars"] >= 24 * 2**20 and copy["read_chars"] >= 48 * 2**20
    assert copy["peak_rss_bytes"] > 0 and copy["wall_s"] >= 0
    assert copy["end_time"] - copy["start_time"] == copy["wall_s"]
    fail = tasks.loc[f"jobs.{failing}"]
    assert (fail["status"], fail["exit_code"]) == ("failed", 3)
    assert tasks.loc[f"jobs.{holder}", "wall_s"] >= 4
    cancelled = tasks.loc[f"jobs.{waiting}"]
    assert cancelled["status"] == "cancelled" and pd.isna(cancelled["wall_s"])
