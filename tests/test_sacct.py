"""`genscale import sacct`: SLURM's accounting as tasks. The files in tests/data/sacct are
the real sacct 22.05.8 of this machine's SLURM (README there); the live check against jobs
submitted now is in tests/test_slurm.py. Layouts of other SLURM versions (ReqMem's `c` and
`n` before 21.08, `-p`'s trailing `|`, a requeued job's runs under `-D`) are written from
sacct's documentation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from genscale.errors import UserError
from genscale.store.importers.sacct import sacct_rows

from .conftest import GENSCALE, write

DATA = Path(__file__).parent / "data" / "sacct"
REAL = DATA / "slurm-22.05.txt"


def imported(tmp_path: Path, *files: Path) -> pd.DataFrame:
    out = tmp_path / "run"
    proc = subprocess.run([GENSCALE, "import", "sacct", *map(str, files), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(out / "tasks.csv").set_index("task_id")


def test_real_sacct_jobs_as_tasks(tmp_path: Path) -> None:
    """Each job one task, its steps folded in (sacct records MaxRSS and disk bytes on
    steps only); a job cancelled while it waited has nothing measured."""
    tasks = imported(tmp_path, REAL)
    assert sorted(tasks.index) == [f"slurm-22.05.{j}" for j in
                                   ("571", "572", "573_1", "573_2", "574")]
    python = tasks.loc["slurm-22.05.571"]
    assert python["status"] == "succeeded" and python["wall_s"] == 2.0
    assert python["cpu_time_s"] == pytest.approx(2.155)
    assert python["peak_rss_bytes"] == 168396 * 1024  # the batch step's MaxRSS
    assert 150 * 2**20 < python["peak_rss_bytes"] < 200 * 2**20  # it held 150 MiB
    assert python["memory_requested_bytes"] == 200 * 2**20 and python["threads_requested"] == 1
    assert python["host"] == "vm" and python["start_time"] - python["submit_time"] == 3
    failed = tasks.loc["slurm-22.05.572"]
    assert (failed["status"], failed["exit_code"]) == ("failed", 3)
    for task in ("573_1", "573_2"):  # dd of 20 MiB from /dev/zero: read() bytes, not storage
        dd = tasks.loc[f"slurm-22.05.{task}"]
        assert dd["write_chars"] == 20 * 2**20
        assert dd["read_chars"] == pytest.approx(20.02 * 2**20, rel=1e-6)
        assert pd.isna(dd["read_bytes"])
    waited = tasks.loc["slurm-22.05.574"]
    assert waited["status"] == "cancelled"
    assert waited[["wall_s", "cpu_time_s", "start_time", "end_time"]].isna().all()
    assert set(tasks["step"]) == {"wrap"}


def test_layouts_of_other_versions_and_flags(tmp_path: Path) -> None:
    """`sacct -p` (a `|` ending every line) reads as `-P`; ReqMem of SLURM before 21.08
    (`Mc` per CPU, `Gn` per node) is multiplied out; a job listed twice (`-D`: a requeued
    job's runs) is one task per run; jobs not ended are left out, said on stderr;
    Snakemake's and Nextflow's job names give their rule and process."""
    text = REAL.read_text()
    trailing = "".join(line + "|\n" for line in text.splitlines())
    columns = ["status", "wall_s", "cpu_time_s", "peak_rss_bytes", "read_chars", "exit_code"]
    with_p = imported(tmp_path, write(tmp_path / "p.txt", trailing))[columns]
    with_big_p = imported(tmp_path / "P", REAL)[columns]
    pd.testing.assert_frame_equal(with_p.reset_index(drop=True),
                                  with_big_p.reset_index(drop=True))
    old = ("JobID|JobName|State|ExitCode|ElapsedRaw|ReqCPUS|NNodes|ReqMem|MaxRSS\n"
           "10|snakejob.bwa_mem.7.sh|COMPLETED|0:0|60|4|1|2000Mc|\n"
           "10.batch|batch|COMPLETED|0:0|60|4|1||2G\n"
           "11|nf-NFCORE_SAREK_SAREK_FASTQC_(S1)|TIMEOUT|0:15|3600|2|2|4Gn|\n"
           "12|job|RUNNING|0:0|10|1|1|1G|\n"
           "13|job|PENDING|0:0|0|1|1|1G|\n"
           "14|job|REQUEUED|0:0|5|1|1|1G|\n"
           "14|job|COMPLETED|0:0|50|1|1|1G|\n"
           "14.batch|batch|COMPLETED|0:0|50|1|1||3M\n")
    path = write(tmp_path / "old.txt", old)
    proc = subprocess.run([GENSCALE, "import", "sacct", str(path), "--out",
                           str(tmp_path / "old")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: 3 job(s) not ended yet" in proc.stderr
    tasks = pd.read_csv(tmp_path / "old" / "tasks.csv").set_index("task_id")
    assert tasks.loc["old.10", "memory_requested_bytes"] == 4 * 2000 * 2**20
    assert tasks.loc["old.11", "memory_requested_bytes"] == 2 * 4 * 2**30
    assert (tasks.loc["old.10", "step"], tasks.loc["old.10", "app"]) == ("bwa_mem", "bwa")
    assert tasks.loc["old.11", "step"] == "NFCORE_SAREK_SAREK_FASTQC"
    assert (tasks.loc["old.11", "status"], tasks.loc["old.11", "exit_code"]) == ("failed", -15)
    assert tasks.loc["old.10", "peak_rss_bytes"] == 2 * 2**30
    # job 14 ran once, was requeued (not ended in that record) and ran again
    assert tasks.loc["old.14.a2", "attempt"] == 2
    assert tasks.loc["old.14.a2", "peak_rss_bytes"] == 3 * 2**20
    assert "old.14.a1" not in tasks.index and "old.12" not in tasks.index
    # SLURM_TIME_FORMAT=%s: sacct 22.05.8 here prints its times as epoch seconds
    stamped = imported(tmp_path / "epoch", write(tmp_path / "epoch.txt", (
        "JobID|ElapsedRaw|Submit|Start|End\n9|60|1714644843|1714644900|1714644960\n")))
    assert stamped.loc["epoch.9", ["submit_time", "start_time", "end_time"]].tolist() == [
        1714644843, 1714644900, 1714644960]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty file"),
    ((DATA / "slurm-22.05-fixed-width.txt").read_text(),
     "sacct's fixed-width table: run sacct with -P"),
    ("JobName|State\nx|COMPLETED\n", "expected the fields JobID and Elapsed or ElapsedRaw"),
    ('{\n  "meta": {"plugin": {"type": "openapi/dbv0.0.38"}},\n  "jobs": []\n}\n',
     "sacct's JSON (--json) is not read: export with sacct -P"),
    ("JobID|ElapsedRaw\n1|5|7\n", ":2: 3 fields where the header has 2"),
    ("JobID|ElapsedRaw\n1.batch|5\n", ":2: JobID: step '1.batch' of no job listed before"),
    ("JobID|ElapsedRaw|State\n1|5|DONE\n", ":2: State: expected a SLURM job state"),
    ("JobID|Elapsed\n1|five minutes\n", ":2: Elapsed: expected a duration"),
    ("JobID|ElapsedRaw\n1|-5\n", ":2: ElapsedRaw: expected a number >= 0"),
    ("JobID|ElapsedRaw|MaxRSS\n1|5|\n1.batch|5|lots\n", ":3: MaxRSS: expected a size"),
    ("JobID|ElapsedRaw|ReqMem\n1|5|4Qc\n", ":2: ReqMem: expected a size"),
    ("JobID|ElapsedRaw|ExitCode\n1|5|three\n", ":2: ExitCode: expected CODE:SIGNAL"),
    ("JobID|ElapsedRaw|Start\n1|5|yesterday\n", ":2: Start: expected a time"),
    ("JobID|ElapsedRaw|MaxRSS\n1|5|\n1.batch|5|" + "9" * 40 + "\n", ":3: MaxRSS: expected"),
])
def test_bad_sacct_output_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "jobs.txt", text)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        sacct_rows(path, "r")
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)


def test_sim_replays_the_jobs_as_they_were_submitted(tmp_path: Path) -> None:
    """Each job is its own workflow with no parents, so `genscale sim` replays the cluster's
    jobs (the three that succeeded), each arriving when it was submitted and asking what it
    requested: the three, submitted together, take 2 + 1 + 1 s on one core, 2 s on two."""
    import json

    run = tmp_path / "run"
    subprocess.run([GENSCALE, "import", "sacct", str(REAL), "--out", str(run)], check=True,
                   capture_output=True)
    tasks = pd.read_csv(run / "tasks.csv")
    assert (tasks["workflow_id"] == tasks["task_id"]).all()
    assert json.loads((run / "run.json").read_text())["task_parents"] == {
        t: [] for t in tasks["task_id"]}
    for cores, makespan, waited in ((1, 4.0, 3.0), (2, 2.0, 1.0)):
        out = subprocess.run([GENSCALE, "sim", str(run), "--nodes", "1", "--cores-per-node",
                              str(cores), "--memory-per-node", "24G"], check=True,
                             capture_output=True, text=True).stdout
        summary = json.loads(out)
        assert (summary["workflows"], summary["tasks_simulated"]) == (3, 3)
        assert summary["makespan_s"] == makespan and summary["queue_wait_s"]["max"] == waited
