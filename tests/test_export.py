"""`genscale export`: the four formats of a real run; WfFormat valid against the shared
schema, the Nextflow trace read back by `import nextflow-trace` to the same totals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from genscale.engine.runner import RunSettings, run_workflow
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, ROOT, write

SCHEMA = ROOT.parent / "shared" / "schemas" / "wfformat-1.5.json"
SPEC = """\
name: fork
steps:
  - name: make
    app: sh
    outputs: {o: data.txt}
    command: "head -c 3000000 /dev/urandom > {outputs.o}"
  - name: squeeze
    app: gzip
    threads: 2
    inputs: {i: data.txt}
    outputs: {o: data.gz}
    command: gzip -c {inputs.i} > {outputs.o}
  - name: count
    app: wc
    inputs: {i: data.txt}
    outputs: {o: count.txt}
    command: wc -c {inputs.i} > {outputs.o}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    spec = write(tmp / "fork.yaml", SPEC)
    result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp / "runs",
                                                       interval_s=0.1))
    assert result.outcome.ok
    return result.run_dir


def _export(run_dir: Path, fmt: str, out: Path, env: dict[str, str]) -> None:
    proc = subprocess.run([GENSCALE, "export", str(run_dir), "--format", fmt, "--out",
                           str(out)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)


def test_wfformat_is_valid_and_keeps_the_plan(run_dir: Path, tmp_path: Path,
                                              env_no_color) -> None:
    out = tmp_path / "run.wfformat.json"
    _export(run_dir, "wfformat", out, env_no_color)
    document = json.loads(out.read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()),
                               format_checker=jsonschema.FormatChecker()).validate(document)
    spec = {t["id"]: t for t in document["workflow"]["specification"]["tasks"]}
    assert spec["squeeze"]["parents"] == ["make"] and spec["count"]["parents"] == ["make"]
    assert sorted(spec["make"]["children"]) == ["count", "squeeze"]
    tasks = RunDirectory(run_dir).tasks().set_index("task_id")
    executed = {t["id"]: t for t in document["workflow"]["execution"]["tasks"]}
    assert executed["squeeze"]["coreCount"] == 2
    for task_id, task in executed.items():
        assert task["runtimeInSeconds"] == pytest.approx(tasks.loc[task_id, "wall_s"])
        assert task["memoryInBytes"] == int(tasks.loc[task_id, "peak_rss_bytes"])
    machine = document["workflow"]["execution"]["machines"][0]
    assert machine["cpu"]["coreCount"] >= 1 and machine["memoryInBytes"] > 0


def test_nextflow_trace_round_trip_gives_the_same_totals(run_dir: Path, tmp_path: Path,
                                                         env_no_color) -> None:
    trace = tmp_path / "trace.txt"
    _export(run_dir, "nextflow-trace", trace, env_no_color)
    proc = subprocess.run([GENSCALE, "import", "nextflow-trace", str(trace), "--out",
                           str(tmp_path / "back")], capture_output=True, text=True,
                          env=env_no_color, timeout=60)
    assert proc.returncode == 0, proc.stderr
    original = RunDirectory(run_dir).tasks().sort_values("step").reset_index(drop=True)
    back = RunDirectory(tmp_path / "back").tasks().sort_values("step").reset_index(drop=True)
    assert list(back["step"]) == list(original["step"])  # the process is the step
    for column in ("wall_s", "cpu_time_s"):
        assert back[column].sum() == pytest.approx(original[column].sum(), rel=1e-9)
        assert back[column].to_numpy() == pytest.approx(original[column].to_numpy(),
                                                         rel=1e-6, abs=1e-6)
    for column in ("peak_rss_bytes", "read_chars", "write_chars", "read_bytes",
                   "write_bytes", "threads_requested"):
        assert (back[column].astype("int64") == original[column].astype("int64")).all(), \
            column


def test_csv_and_parquet_are_the_tasks_table(run_dir: Path, tmp_path: Path,
                                             env_no_color) -> None:
    tasks = RunDirectory(run_dir).tasks()
    _export(run_dir, "csv", tmp_path / "t.csv", env_no_color)
    _export(run_dir, "parquet", tmp_path / "t.parquet", env_no_color)
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == list(tasks.columns)
    parquet = pd.read_parquet(tmp_path / "t.parquet")
    assert parquet["wall_s"].tolist() == pytest.approx(tasks["wall_s"].tolist())


def test_export_mistakes_are_one_line(run_dir: Path, tmp_path: Path, env_no_color) -> None:
    for args, expected in (([str(tmp_path), "--format", "csv", "--out", str(tmp_path / "x")],
                            "not a run directory"),
                           ([str(run_dir), "--format", "csv", "--out", str(tmp_path)],
                            "is a directory"),
                           ([str(run_dir), "--format", "yaml", "--out", "x"], "--format")):
        proc = subprocess.run([GENSCALE, "export", *args], capture_output=True, text=True,
                              env=env_no_color, timeout=60)
        assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
