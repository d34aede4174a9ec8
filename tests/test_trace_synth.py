"""`genscale synth trace`: its contract (tables, seeds, WfFormat), that input size drives
runtime, the tail's share, and bad mixes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from genscale.errors import UserError
from genscale.model import scaling
from genscale.sim.core import Cluster, simulate
from genscale.sim.generate import generate
from genscale.sim.mix import DEFAULT, Mix
from genscale.sim.trace import load

from .conftest import GENSCALE, ROOT, write

pytestmark = pytest.mark.slow  # draws traces through the CLI and validates WfFormat (20 s)

SCHEMA = ROOT.parent / "shared" / "schemas" / "wfformat-1.5.json"
TASK_COLUMNS = ["workflow_id", "task_id", "step", "app", "arrival_s", "parents", "threads",
                "memory_bytes", "cpu_time_s", "wall_s", "peak_rss_bytes", "read_bytes",
                "write_bytes"]  # the contract, spelled out


def _synth(tmp_path: Path, name: str, *extra: str, env: dict[str, str]) -> Path:
    out = tmp_path / name
    proc = subprocess.run([GENSCALE, "synth", "trace", "--workflows", "300", "--out",
                           str(out), "--seed", "7", *extra], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    return out


def test_contract_seeds_and_wfformat(tmp_path: Path, env_no_color) -> None:
    first = _synth(tmp_path, "a", "--format", "parquet,wfformat", env=env_no_color)
    again = _synth(tmp_path, "b", "--format", "parquet,wfformat", env=env_no_color)
    for name in ("tasks.parquet", "workflows.parquet", "series.parquet"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    tasks = pd.read_parquet(first / "tasks.parquet")
    assert list(tasks.columns[:len(TASK_COLUMNS)]) == TASK_COLUMNS
    workflows = pd.read_parquet(first / "workflows.parquet")
    assert len(workflows) == 300 and set(tasks["workflow_id"]) == set(workflows["workflow_id"])
    assert (tasks[["cpu_time_s", "wall_s", "peak_rss_bytes"]] > 0).all().all()
    assert not tasks["step"].isin(["bwa_index", "star_index", "faidx"]).any()  # built once
    # every WfFormat file is valid against the schema WRENCH reads
    # the schema names "http://json-schema.org/schema#" (no draft): validated as draft 7,
    # with its formats (date-time, uri) checked
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()),
                                           format_checker=jsonschema.FormatChecker())
    files = sorted((first / "wfformat").glob("*.json"))
    assert len(files) == 300
    for path in files[:40]:
        document = json.loads(path.read_text())
        validator.validate(document)
        ids = {t["id"] for t in document["workflow"]["specification"]["tasks"]}
        workflow = document["name"]
        assert ids == set(tasks.loc[tasks["workflow_id"] == workflow, "task_id"])
    # each task's series: its drawn mean cores on average, its drawn peak at the top
    series = pd.read_parquet(first / "series.parquet")
    assert len(series) == 10 * len(tasks)
    per_task = series.groupby(["workflow_id", "task_id"], sort=False).agg(
        cpu=("cpu_cores", "mean"), rss=("rss_bytes", "max"), last=("t_s", "max"))
    merged = per_task.join(tasks.set_index(["workflow_id", "task_id"]))
    assert np.allclose(merged["cpu"], merged["cpu_time_s"] / merged["wall_s"])
    assert np.allclose(merged["rss"], merged["peak_rss_bytes"])
    assert (merged["last"] < merged["wall_s"]).all()
    different = _synth(tmp_path, "c", "--seed", "8", env=env_no_color)
    assert (different / "tasks.parquet").read_bytes() != (first / "tasks.parquet").read_bytes()


def test_input_size_drives_runtime_and_the_tail_is_as_likely_as_the_models_say() -> None:
    model = scaling.load(scaling.PACKAGED)
    mix = Mix.model_validate({**DEFAULT.model_dump(), "workflows": [
        {**DEFAULT.workflows[0].model_dump(), "share": 1.0}]})
    chunks = list(generate(mix, 20_000, 3, model))
    workflows = pd.concat([c.workflows for c in chunks])
    tasks = pd.concat([c.tasks for c in chunks])
    bwa = tasks[tasks["step"] == "bwa_mem"].set_index("workflow_id")
    pairs = workflows.set_index("workflow_id").loc[bwa.index, "pairs"]
    rho = pd.Series(np.log(bwa["cpu_time_s"])).corr(pd.Series(np.log(pairs)), method="spearman")
    assert rho > 0.8
    tails = model["tail"]["dnaseq"]
    shares = mix.workflows[0].quality
    expected = sum(shares[p] * tails.get(p, {}).get("rate", 0.0) for p in shares) \
        / sum(shares.values())
    assert expected > 0 and abs(workflows["tail"].mean() - expected) < 0.005
    # a tail workflow takes one of the factors measured beyond its size and preset
    measured = {f for t in tails.values() for f in t["factors"]}
    assert set(workflows.loc[workflows["tail"], "tail_factor"]) <= measured
    assert (workflows.loc[~workflows["tail"], "tail_factor"] == 1).all()


def test_a_synthetic_trace_simulates(tmp_path: Path, env_no_color) -> None:
    out = _synth(tmp_path, "t", env=env_no_color)
    trace = load(out)
    schedule = simulate(trace, Cluster(4, 32, 256 * 2**30), "tail-aware")
    assert np.isfinite(schedule.end_s).all()
    assert (schedule.start_s >= trace.arrival_s - 1e-9).all()


@pytest.mark.parametrize("mix, expected", [
    ("workflows: []\n", "workflows"),
    ("workflows:\n  - {workflow: dnaseq, share: 1, pairs: {median: lots}}\n", "median"),
    ("workflows:\n  - {workflow: nosuch, share: 1, pairs: {median: 1M}}\n",
     "nosuch: no such workflow"),
    ("span_days: -1\nworkflows:\n  - {workflow: dnaseq, share: 1, pairs: {median: 1M}}\n",
     "span_days"),
])
def test_a_bad_mix_is_one_line(tmp_path: Path, env_no_color, mix: str, expected: str) -> None:
    path = write(tmp_path / "mix.yaml", mix)
    proc = subprocess.run([GENSCALE, "synth", "trace", "--workflows", "10", "--out",
                           str(tmp_path / "out"), "--mix", str(path)],
                          capture_output=True, text=True, env=env_no_color, timeout=60)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_format_and_out_mistakes(tmp_path: Path, env_no_color) -> None:
    (tmp_path / "exists").mkdir()
    for args, expected in ((["--format", "parquet,slurm"], "expected parquet, wfformat"),
                           (["--out", str(tmp_path / "exists")], "exists already")):
        base = ["--workflows", "5", "--out", str(tmp_path / "o")]
        if args[0] == "--out":
            base[3] = args[1]
            args = []
        proc = subprocess.run([GENSCALE, "synth", "trace", *base, *args],
                              capture_output=True, text=True, env=env_no_color, timeout=60)
        assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


def test_alibaba_and_swf_say_the_same_dag(tmp_path: Path, env_no_color) -> None:
    out = _synth(tmp_path, "f", "--format", "alibaba,swf", env=env_no_color)
    tasks = pd.read_parquet(out / "tasks.parquet")
    number = tasks.groupby("workflow_id", sort=False).cumcount() + 1
    index = {(w, t): n for w, t, n in zip(tasks["workflow_id"], tasks["task_id"], number,
                                                          strict=True)}
    batch = pd.read_csv(out / "alibaba" / "batch_task.csv", header=None, names=[
        "task_name", "instance_num", "job_name", "task_type", "status", "start_time",
        "end_time", "plan_cpu", "plan_mem"])
    assert len(batch) == len(tasks)
    for name, job, (w, t, parents) in zip(batch["task_name"], batch["job_name"],
                                          tasks[["workflow_id", "task_id", "parents"]]
                                          .itertuples(index=False), strict=True):
        own, *deps = name[1:].split("_")
        assert job == w and int(own) == index[(w, t)]
        assert sorted(map(int, deps)) == sorted(index[(w, p)] for p in parents.split())
    assert (batch["plan_cpu"] == 100 * tasks["threads"]).all()
    assert (batch["end_time"] >= batch["start_time"]).all()
    instances = pd.read_csv(out / "alibaba" / "batch_instance.csv", header=None)
    assert instances.shape == (len(tasks), 14)
    lines = [line.split() for line in (out / "trace.swf").read_text().splitlines()
             if not line.startswith(";")]
    assert len(lines) == len(tasks) and {len(f) for f in lines} == {18}
    jobs = {int(f[0]): f for f in lines}
    # a task's preceding job is one of its parents, which comes before it
    for f in lines:
        if int(f[16]) > 0:
            assert int(f[16]) < int(f[0]) and jobs[int(f[16])][1] == f[1]


def test_bursts_and_replayed_arrivals(tmp_path: Path) -> None:
    from genscale.sim.generate import arrivals_s
    from genscale.sim.mix import load_mix

    rng = np.random.default_rng(0)
    bursts = Mix.model_validate({**DEFAULT.model_dump(), "span_days": 1,
                                 "arrivals": {"process": "bursts", "burst_size": 4}})
    times = arrivals_s(bursts, 10, rng)
    assert times.tolist() == [0.0] * 4 + [28800.0] * 4 + [57600.0] * 2
    (tmp_path / "arrivals.csv").write_text("submit_s\n100\n130\n160\n")
    mix = write(tmp_path / "mix.yaml", """\
arrivals: {process: replay, replay_csv: arrivals.csv}
workflows:
  - {workflow: dnaseq, share: 1, pairs: {median: 1M}}
""")
    replayed = arrivals_s(load_mix(mix), 7, rng)
    assert replayed.tolist() == [0, 30, 60, 90, 120, 150, 180]
    bad = write(tmp_path / "bad.yaml", """\
arrivals: {process: replay}
workflows:
  - {workflow: dnaseq, share: 1, pairs: {median: 1M}}
""")
    with pytest.raises(UserError, match="process replay needs replay_csv"):
        load_mix(bad)
