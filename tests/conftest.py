from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.engine.runner import RunSettings, run_workflow
from genscale.monitor.process import ReapedCpuSinceFirstTask
from genscale.store.rundir import RunDirectory

ROOT = Path(__file__).resolve().parents[1]
GENSCALE = str(Path(sys.executable).with_name("genscale"))
CHECK_RUN = ROOT.parent / "shared" / "tools" / "check_run.py"


@pytest.fixture(scope="session")
def dna_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("data") / "dna"
    return synthesize(SynthOptions(kind="dna", genome_bases=300_000, pairs=30_000, seed=3), out)


@pytest.fixture(scope="session")
def rna_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("data") / "rna"
    return synthesize(SynthOptions(kind="rna", genome_bases=400_000, pairs=30_000, seed=5), out)


@pytest.fixture(scope="session")
def dnaseq_run(dna_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> RunDirectory:
    """dnaseq run once for the session, checked against the contract and the kernel."""
    return run_and_check("dnaseq", dna_dataset, tmp_path_factory.mktemp("dnaseq") / "runs")


@pytest.fixture(scope="session")
def rnaseq_run(rna_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> RunDirectory:
    return run_and_check("rnaseq", rna_dataset, tmp_path_factory.mktemp("rnaseq") / "runs")


def check_run_contract(run: RunDirectory, workflow: str) -> None:
    """The shared contract checker passes, and every task that ran has a non-empty series
    ending at its totals."""
    check = subprocess.run([sys.executable, str(CHECK_RUN), str(run.path), workflow,
                            "--summary"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    tasks = run.tasks()
    ran = tasks[tasks["status"] == "succeeded"]
    samples = run.samples()
    for task in ran.itertuples():
        series = samples[samples["task_id"] == task.task_id]
        assert len(series) >= 1, task.task_id
        assert series["write_bytes"].iloc[-1] == task.write_bytes, task.task_id
        assert series["read_chars"].iloc[-1] == task.read_chars, task.task_id
    assert (ran["peak_rss_bytes"] > 0).all()
    assert (ran["mean_cores"] <= 2.2).all()  # two cores here, and never more
    check_run_json(run)


def check_run_json(run: RunDirectory) -> None:
    """Every key of run.json is one `store.schema.RunInfo` names."""
    from genscale.store.schema import RunInfo

    unknown = set(run.read_run_info()) - set(RunInfo.__annotations__)
    assert not unknown, f"run.json keys not in store.schema.RunInfo: {sorted(unknown)}"


def run_and_check(workflow: str, dataset: Dataset, runs: Path) -> RunDirectory:
    kernel = ReapedCpuSinceFirstTask()
    result = run_workflow(workflow, dataset.path, RunSettings(runs_dir=runs, interval_s=0.2),
                          on_event=kernel)
    assert result.outcome.ok, result.outcome.failures
    kernel_cpu_s = kernel.elapsed_cpu_s()
    run = RunDirectory(result.run_dir)
    check_run_contract(run, workflow)
    # the CPU totals are the kernel's: all tasks together within 5% of what it accounted
    tasks = run.tasks()
    ran = tasks[tasks["status"] == "succeeded"]
    assert ran["cpu_time_s"].sum() == pytest.approx(kernel_cpu_s, rel=0.05)
    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def env_no_color() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}


# -- test tiers ----------------------------------------------------------------------------
# `make test` runs everything; `make test-fast` leaves out what these markers name (see
# docs/tests.md). A test is marked by what it needs, so a new one lands in its tier:
# the real SLURM (its module), the loopback Kubernetes API server (`cluster`), or whole
# workflows on synthetic data (`dna_dataset` and the runs made from it).
HEAVY_FIXTURES = {"dna_dataset", "rna_dataset", "dnaseq_run", "rnaseq_run"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.module is not None and item.module.__name__.endswith("test_slurm"):
            item.add_marker(pytest.mark.slurm)
        if "cluster" in fixtures:
            item.add_marker(pytest.mark.kubernetes)
        if fixtures & HEAVY_FIXTURES:
            item.add_marker(pytest.mark.slow)
