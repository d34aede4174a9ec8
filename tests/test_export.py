"""`genscale export`: the four formats of a real run; WfFormat valid against the shared
schema, the Nextflow trace read back by `import nextflow-trace` to the same totals."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from genscale.engine.runner import RunSettings, run_workflow
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, ROOT, write

pytestmark = pytest.mark.slow  # runs a workflow, then exports and imports it (18 s)

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


def test_import_wfformat_reads_our_export_and_every_older_layout(
        run_dir: Path, tmp_path: Path, env_no_color) -> None:
    out = tmp_path / "run.json"
    _export(run_dir, "wfformat", out, env_no_color)
    back = tmp_path / "back"
    proc = subprocess.run([GENSCALE, "import", "wfformat", str(out), "--out", str(back)],
                          capture_output=True, text=True, env=env_no_color, timeout=60)
    assert proc.returncode == 0, proc.stderr
    original = RunDirectory(run_dir).tasks().set_index("step")
    imported = RunDirectory(back).tasks().set_index("step")
    for step in ("make", "squeeze", "count"):
        assert imported.loc[step, "wall_s"] == pytest.approx(original.loc[step, "wall_s"])
        assert imported.loc[step, "cpu_time_s"] == pytest.approx(
            original.loc[step, "cpu_time_s"], rel=1e-9)
    assert imported.loc["squeeze", "threads_requested"] == 2
    # the layouts before 1.5: jobs (1.0-1.2) or tasks (1.3, 1.4), kilobytes before 1.4
    old = {"name": "m", "schemaVersion": "1.3", "wms": {"name": "Nextflow", "version": "1"},
           "workflow": {"makespan": 20, "executedAt": "2020-01-01T00:00:00Z", "tasks": [
               {"name": "mProject_ID0000001", "type": "compute", "runtime": 10.0,
                "cores": 4, "avgCPU": 250.0, "memory": 2048, "bytesRead": 10,
                "bytesWritten": 5, "parents": []}]}}
    for version, key in (("1.0", "jobs"), ("1.3", "tasks")):
        document = json.loads(json.dumps(old))
        document["schemaVersion"] = version
        document["workflow"][key] = document["workflow"].pop("tasks")
        path = tmp_path / f"v{version}.json"
        path.write_text(json.dumps(document))
        target = tmp_path / f"v{version}"
        proc = subprocess.run([GENSCALE, "import", "wfformat", str(path), "--out",
                               str(target)], capture_output=True, text=True,
                              env=env_no_color, timeout=60)
        assert proc.returncode == 0, proc.stderr
        row = RunDirectory(target).tasks().iloc[0]
        assert row["step"] == "mProject" and row["wall_s"] == 10.0
        assert row["cpu_time_s"] == 25.0 and row["threads_requested"] == 4
        assert row["peak_rss_bytes"] == 2_048_000 and row["read_chars"] == 10_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schemaVersion": "1.5", "workflow": {"execution": {"tasks": [
        {"id": "a", "runtimeInSeconds": -3}]}}}))
    proc = subprocess.run([GENSCALE, "import", "wfformat", str(bad), "--out",
                           str(tmp_path / "no")], capture_output=True, text=True,
                          env=env_no_color, timeout=60)
    assert proc.returncode == 2 and "task a: runtimeInSeconds" in proc.stderr
    assert not (tmp_path / "no").exists()


def test_import_wfformat_reads_wfinstances_layout(tmp_path: Path, env_no_color) -> None:
    """WfInstances' Nextflow instances (tests/data/wfformat/README): task machines by name,
    scoped process names, WfCommons' executedAt. 0.10.x: a traceback on the machines."""
    source = Path(__file__).parent / "data" / "wfformat" / "nextflow-bacass-1.6.json"
    target = tmp_path / "bacass"
    proc = subprocess.run([GENSCALE, "import", "wfformat", str(source), "--out", str(target)],
                          capture_output=True, text=True, env=env_no_color, timeout=60)
    assert proc.returncode == 0, proc.stderr
    tasks = RunDirectory(target).tasks().set_index("step")
    assert sorted(tasks.index) == ["fastqc", "multiqc", "skewer", "unicycler"]
    assert (tasks["app"] == tasks.index).all()  # as the Nextflow trace importer names them
    assert tasks.loc["unicycler", "host"] == "worker-7"
    assert pd.isna(tasks.loc["multiqc", "host"]) or tasks.loc["multiqc", "host"] == ""
    start = datetime(2024, 2, 11, 9, 10, 7, tzinfo=UTC).timestamp()
    assert tasks.loc["unicycler", "start_time"] == start
    assert tasks.loc["unicycler", "end_time"] == start + 1101.0
    assert tasks.loc["fastqc", "cpu_time_s"] == pytest.approx(1.765 * 41.0)
    assert tasks.loc["fastqc", "threads_requested"] == 2
    assert tasks.loc["unicycler", "write_chars"] == 12_000_000_000
    assert pd.isna(tasks.loc["multiqc", "start_time"])


@pytest.mark.parametrize(("name", "step", "app"), [
    ("mProject_ID0000001", "mProject", "mproject"),
    ("cpuhog_chain_00000001", "cpuhog_chain", "cpuhog"),
    ("NFCORE_BACASS.BACASS.FASTQC", "fastqc", "fastqc"),
    ("NFCORE_SAREK:SAREK:GATK4_MARKDUPLICATES", "gatk4_markduplicates", "gatk4"),
    ("bwa_mem2", "bwa_mem2", "bwa"),
])
def test_wfformat_step_names(name: str, step: str, app: str) -> None:
    from genscale.store.importers.wfformat import step_and_app

    assert step_and_app(name) == (step, app)



def test_an_imported_instance_keeps_its_dag_for_the_simulator(tmp_path: Path,
                                                              env_no_color) -> None:
    """A WfFormat instance's dependencies are kept on import (run.json's `task_parents`), so
    `genscale sim` replays it and `export --format wfformat` writes them back; 0.10.x kept
    none and `sim` refused every import ("no workflow spec")."""
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GENSCALE, *args], capture_output=True, text=True,
                              env=env_no_color, timeout=120)

    source = Path(__file__).parent / "data" / "wfformat" / "nextflow-bacass-1.6.json"
    imported = tmp_path / "bacass"
    assert cli("import", "wfformat", str(source), "--out", str(imported)).returncode == 0
    prefix = "nextflow-bacass-1.6.NFCORE_BACASS.BACASS."
    recorded = json.loads((imported / "run.json").read_text())["task_parents"]
    assert recorded[prefix + "UNICYCLER_3"] == [prefix + "SKEWER_1"]
    assert sorted(recorded[prefix + "MULTIQC_4"]) == [prefix + "FASTQC_2",
                                                      prefix + "UNICYCLER_3"]
    wall = RunDirectory(imported).tasks().set_index("step")["wall_s"]
    proc = cli("sim", str(imported), "--nodes", "1", "--cores-per-node", "8",
               "--memory-per-node", "64G")
    assert proc.returncode == 0, proc.stderr
    critical = max(wall["skewer"] + wall["unicycler"], wall["fastqc"]) + wall["multiqc"]
    assert json.loads(proc.stdout)["makespan_s"] == pytest.approx(critical)
    # the instance as it is, without an import: the same simulation
    proc = cli("sim", str(source), "--nodes", "1", "--cores-per-node", "8",
               "--memory-per-node", "64G")
    assert json.loads(proc.stdout)["makespan_s"] == pytest.approx(critical)

    out = tmp_path / "again.json"
    assert cli("export", str(imported), "--format", "wfformat", "--out", str(out)
               ).returncode == 0
    back = tmp_path / "back"
    assert cli("import", "wfformat", str(out), "--out", str(back)).returncode == 0
    again = {k.split(".")[-1]: sorted(p.split(".")[-1] for p in v) for k, v in
             json.loads((back / "run.json").read_text())["task_parents"].items()}
    assert again == {k.split(".")[-1]: sorted(p.split(".")[-1] for p in v)
                     for k, v in recorded.items()}

    # before 1.5 a task names its parents by name; a parent never executed is passed over
    old = {"name": "m", "schemaVersion": "1.4", "workflow": {"tasks": [
        {"name": "a_ID01", "id": "ID01", "runtimeInSeconds": 5.0, "parents": []},
        {"name": "b_ID02", "id": "ID02", "runtimeInSeconds": 7.0,
         "parents": ["a_ID01", "gone_ID09"]}]}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert cli("import", "wfformat", str(tmp_path / "old.json"), "--out",
               str(tmp_path / "old")).returncode == 0
    assert json.loads((tmp_path / "old" / "run.json").read_text())["task_parents"] == {
        "old.ID01": [], "old.ID02": ["old.ID01"]}
    proc = cli("sim", str(tmp_path / "old"), "--nodes", "1", "--cores-per-node", "2",
               "--memory-per-node", "1G")
    assert json.loads(proc.stdout)["makespan_s"] == pytest.approx(12.0)

    trace = tmp_path / "trace"
    assert cli("import", "nextflow-trace", str(Path(__file__).parent / "data" /
               "nextflow_trace_raw.txt"), "--out", str(trace)).returncode == 0
    proc = cli("sim", str(trace), "--nodes", "1", "--cores-per-node", "8",
               "--memory-per-node", "64G")
    assert proc.returncode == 2 and "records no dependencies between its tasks" in proc.stderr
