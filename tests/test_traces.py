"""Nextflow trace and Snakemake benchmark importers.

The Nextflow traces in tests/data were written by hand to Nextflow's documented trace
format (no Nextflow here); the Snakemake benchmark files were written by a real Snakemake.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genscale.errors import UserError
from genscale.store.importers.traces import app_of, duration_s, memory_bytes

from .conftest import GENSCALE, write

DATA = Path(__file__).parent / "data"


def imported(tmp_path: Path, kind: str, *files: Path) -> pd.DataFrame:
    out = tmp_path / "run"
    proc = subprocess.run([GENSCALE, "import", kind, *map(str, files), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    return pd.read_csv(out / "tasks.csv").set_index("task_id")


def test_raw_tsv_trace(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_raw.txt")
    star = tasks.loc["nextflow_trace_raw.2"]
    assert (star["app"], star["step"]) == ("star", "star_align")
    assert star["wall_s"] == 600.0
    assert star["cpu_time_s"] == pytest.approx(7.12 * 600)
    assert star["peak_rss_bytes"] == 31138512896
    assert star["read_chars"] == 21474836480 and star["write_bytes"] == 4200000000
    assert star["threads_requested"] == 8 and star["memory_requested_bytes"] == 34359738368
    assert star["host"] == "node-2" and star["start_time"] == 1700000032.0
    retry = tasks.loc[["nextflow_trace_raw.3", "nextflow_trace_raw.4"]]
    assert retry["status"].tolist() == ["failed", "succeeded"]
    assert retry["attempt"].tolist() == [1, 2] and retry["exit_code"].tolist() == [137, 0]
    assert pd.isna(retry.iloc[0]["read_bytes"])  # '-' is missing, not zero
    assert tasks.loc["nextflow_trace_raw.1", "app"] == "fastqc"


def test_human_readable_csv_trace(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_human.csv")
    bwa = tasks.loc["nextflow_trace_human.1"]
    assert bwa["app"] == "bwa" and bwa["wall_s"] == 3690.0
    assert bwa["cpu_time_s"] == pytest.approx(3.952 * 3690)
    assert bwa["peak_rss_bytes"] == round(12.5 * 2**30)
    assert tasks.loc["nextflow_trace_human.4", "wall_s"] == pytest.approx(0.85)
    assert tasks.loc["nextflow_trace_human.3", "status"] == "skipped"


def test_two_traces_in_one_run(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_raw.txt",
                     DATA / "nextflow_trace_human.csv")
    assert len(tasks) == 8
    assert set(tasks["workflow_id"]) == {"nextflow_trace_raw", "nextflow_trace_human"}


@pytest.mark.parametrize(("text", "message"), [
    ("name\trealtime\nX\t10 parsecs\n", "trace.txt:2: realtime: expected a duration"),
    ("name\trealtime\tpeak_rss\nX\t100\t12 furlongs\n", "peak_rss: expected bytes"),
    ("wall\tcpu\n1\t2\n", "not a Nextflow trace"),
    ("name\trealtime\tstatus\nX\t100\tWHATEVER\n", "status: expected one of"),
])
def test_bad_trace_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    bad = write(tmp_path / "trace.txt", text)
    proc = subprocess.run([GENSCALE, "import", "nextflow-trace", str(bad), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(bad) in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()  # nothing half-imported


@given(st.integers(0, 3), st.integers(0, 23), st.integers(0, 59),
       st.floats(0, 59.9, allow_nan=False).map(lambda x: round(x, 1)))
def test_duration_forms(days: int, hours: int, minutes: int, seconds: float) -> None:
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "",
             f"{minutes}m" if minutes else "", f"{seconds}s"]
    text = " ".join(p for p in parts if p)
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds
    assert duration_s(text) == pytest.approx(expected)
    assert duration_s(str(int(expected * 1000))) == pytest.approx(int(expected * 1000) / 1000)


def test_units_and_names() -> None:
    assert memory_bytes("1.5 KB") == 1536 and memory_bytes("7") == 7
    assert memory_bytes("2 GB") == 2 * 2**30
    with pytest.raises(ValueError):
        memory_bytes("2 parsecs")
    assert duration_s("45ms") == pytest.approx(0.045)
    assert app_of("NFCORE_RNASEQ:RNASEQ:FASTQC (S1)") == ("fastqc", "fastqc")
    assert app_of("NFCORE_SAREK:SAREK:GATK4_MARKDUPLICATES") == ("gatk4", "gatk4_markduplicates")


def test_snakemake_benchmarks(tmp_path: Path) -> None:
    files = sorted((DATA / "snakemake").glob("*/*.tsv"))
    assert files
    tasks = imported(tmp_path, "snakemake-benchmark", *files)
    raw = pd.concat([pd.read_csv(f, sep="\t") for f in files])
    assert len(tasks) == len(raw)
    assert tasks["wall_s"].sum() == pytest.approx(raw["s"].sum())
    assert tasks["cpu_time_s"].sum() == pytest.approx(raw["cpu_time"].sum())
    assert tasks["peak_rss_bytes"].max() == round(raw["max_rss"].max() * 2**20)
    assert set(tasks["step"]) == {f.parent.name for f in files}


def test_not_a_benchmark_file(tmp_path: Path) -> None:
    from genscale.store.importers.traces import snakemake_rows

    with pytest.raises(UserError, match="not a Snakemake benchmark file"):
        snakemake_rows(write(tmp_path / "x.tsv", "a\tb\n1\t2\n"), "r")


def test_summary_columns_are_one_counter_each(tmp_path: Path) -> None:
    """0.10.0's "read MiB" was read calls and its "written MiB" storage writes, so a
    Nextflow trace (rchar, wchar, no storage counters) showed a blank beside its data."""
    from genscale.report.summary import summary_table

    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_human.csv")
    table = summary_table(tasks.reset_index()).set_index("task")
    bwa = table.loc["nextflow_trace_human.1"]
    assert bwa["read() MiB"] == pytest.approx(30.1 * 1024)
    assert bwa["write() MiB"] == pytest.approx(8.2 * 1024)
    assert pd.isna(bwa["storage read MiB"]) and pd.isna(bwa["storage written MiB"])
