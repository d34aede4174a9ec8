"""Workloads: arrivals, the concurrency cap, and what each scheduling policy does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from genscale.engine.policies import POLICIES
from genscale.engine.runner import RunSettings, run_workload
from genscale.engine.workload import WorkloadSpec, arrival_times
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, write

TWO_STEPS = """\
name: twostep
steps:
  - name: a
    app: sleep
    outputs: {o: a.txt}
    command: sleep 0.2 && echo a > {outputs.o}
  - name: b
    app: sleep
    inputs: {i: a.txt}
    outputs: {o: b.txt}
    command: sleep 0.1 && cat {inputs.i} > {outputs.o}
"""

MANY = """\
name: many
steps:
""" + "".join(f"""  - name: s{i}
    app: sleep
    outputs: {{o: s{i}.txt}}
    command: sleep 0.05 && touch {{outputs.o}}
""" for i in range(6))


def workload(tmp_path: Path, body: str, workflow: str = TWO_STEPS) -> Path:
    write(tmp_path / "wf.yaml", workflow)
    return write(tmp_path / "workload.yaml", body)


def active_intervals(tasks: pd.DataFrame) -> list[tuple[float, float]]:
    g = tasks.groupby("workflow_id")
    return list(zip(g["start_time"].min(), g["end_time"].max(), strict=True))


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_poisson_workload_completes_under_each_policy(tmp_path: Path, policy: str) -> None:
    spec = workload(tmp_path, """\
name: poisson
instances: 8
mix:
  - {workflow: wf.yaml, synth: {genome_bases: 20000, chromosomes: 1, pairs: 50, seed: 1}}
arrival: {process: poisson, rate_per_min: 300}
concurrency: 3
""")
    result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.1),
                          policy)
    assert result.outcome.ok
    run = RunDirectory(result.run_dir)
    tasks = run.tasks()
    assert tasks["workflow_id"].nunique() == 8 and (tasks["status"] == "succeeded").all()
    assert all(t.startswith(w + ".") for t, w in zip(tasks["task_id"], tasks["workflow_id"],
                                                       strict=True))
    info = run.read_run_info()
    assert info["workload"]["policy"] == policy
    start = info["start_time"]
    instances = info["workload"]["instances"]
    for wid, group in tasks.groupby("workflow_id"):  # nobody starts before it arrives
        assert group["submit_time"].min() >= start + instances[wid]["arrival_s"] - 0.05
    # never more than 3 workflows in flight
    spans = active_intervals(tasks)
    for s, _ in spans:
        assert sum(1 for a, b in spans if a <= s < b) <= 3


def test_shortest_predicted_first_lets_small_inputs_in_first(tmp_path: Path) -> None:
    counting = """\
name: count
inputs: {reads_1: reads}
steps:
  - name: count
    app: zcat
    inputs: {r: "{dataset.reads_1}"}
    outputs: {o: n.txt}
    command: zcat {inputs.r} | wc -l > {outputs.o}
"""
    spec = workload(tmp_path, """\
name: spf
instances: 6
mix:
  - {workflow: wf.yaml, weight: 1, synth: {genome_bases: 20000, chromosomes: 1, pairs: 4000}}
  - {workflow: wf.yaml, weight: 1, synth: {genome_bases: 20000, chromosomes: 1, pairs: 100}}
concurrency: 1
seed: 2
""", counting)  # seed 2 draws the big and small entries interleaved: 0 1 0 1 1 0
    orders = {}
    for policy in ("fifo", "shortest-predicted-first"):
        result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.5),
                              policy)
        info = RunDirectory(result.run_dir).read_run_info()["workload"]["instances"]
        by_admission = sorted(info, key=lambda w: info[w]["admitted_s"])
        orders[policy] = [info[w]["predicted_s"] for w in by_admission]
    assert orders["shortest-predicted-first"] == sorted(orders["shortest-predicted-first"])
    assert orders["fifo"] != sorted(orders["fifo"])  # the mix interleaves sizes


def first_starts(result_dir: Path, n: int) -> list[str]:
    tasks = RunDirectory(result_dir).tasks().sort_values("start_time")
    return list(tasks["workflow_id"][:n])


def test_fair_share_interleaves_where_fifo_does_not(tmp_path: Path) -> None:
    spec = workload(tmp_path, """\
name: fair
instances: 2
mix:
  - {workflow: wf.yaml, synth: {genome_bases: 20000, chromosomes: 1, pairs: 50}}
""", MANY)
    starts = {}
    for policy in ("fifo", "fair-share"):
        result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.5,
                                                cores=1), policy)
        starts[policy] = first_starts(result.run_dir, 4)
    assert len(set(starts["fifo"])) == 1  # all of the first workflow first
    assert len(set(starts["fair-share"])) == 2


def test_packing_starts_the_largest_task_that_fits(tmp_path: Path) -> None:
    mixed = """\
name: mixed
steps:
  - {name: small1, app: sleep, threads: 1, outputs: {o: s1}, command: "sleep 0.2 && touch s1"}
  - {name: small2, app: sleep, threads: 1, outputs: {o: s2}, command: "sleep 0.2 && touch s2"}
  - {name: big, app: sleep, threads: 2, outputs: {o: b}, command: "sleep 0.2 && touch b"}
"""
    spec = workload(tmp_path, """\
name: pack
instances: 1
mix:
  - {workflow: wf.yaml, synth: {genome_bases: 20000, chromosomes: 1, pairs: 50}}
""", mixed)
    first = {}
    for policy in ("fifo", "packing"):
        result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.5,
                                                cores=2), policy)
        tasks = RunDirectory(result.run_dir).tasks().sort_values("start_time")
        first[policy] = set(tasks["step"].iloc[:2]) if policy == "fifo" else \
            {str(tasks["step"].iloc[0])}
    # FIFO takes the plan order (both small ones together); packing the 2-core task first
    assert first == {"fifo": {"small1", "small2"}, "packing": {"big"}}


def test_arrival_processes(tmp_path: Path) -> None:
    base = {"name": "w", "instances": 5, "mix": [{"workflow": "x", "dataset": "d"}]}
    bursts = WorkloadSpec(**base, arrival={"process": "bursts", "burst_size": 2,
                                           "burst_every_s": 30})
    assert arrival_times(bursts, tmp_path) == [0, 0, 30, 30, 60]
    write(tmp_path / "submits.csv", "submit_s\n100\n103.5\n101\n110\n140\n")
    replay = WorkloadSpec(**base, arrival={"process": "replay", "replay_csv": "submits.csv"})
    assert arrival_times(replay, tmp_path) == [0, 1, 3.5, 10, 40]
    poisson = WorkloadSpec(**base, arrival={"process": "poisson", "rate_per_min": 60})
    times = arrival_times(poisson, tmp_path)
    assert times[0] == 0 and times == sorted(times) and times == arrival_times(poisson,
                                                                               tmp_path)


def test_report_compares_runs_and_bad_specs_are_one_line(tmp_path: Path) -> None:
    spec = workload(tmp_path, """\
name: cmp
instances: 3
mix:
  - {workflow: wf.yaml, synth: {genome_bases: 20000, chromosomes: 1, pairs: 50}}
""")
    runs = [run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.5),
                         p).run_dir for p in ("fifo", "fair-share")]
    out = tmp_path / "cmp.csv"
    proc = subprocess.run([GENSCALE, "report", *map(str, runs), "--csv", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    assert list(table["policy"]) == ["fifo", "fair-share"]
    assert (table["workflows"] == 3).all() and (table["makespan_s"] > 0).all()
    assert {"workflow_p95_s", "workflow_p99_s", "utilisation"} <= set(table.columns)
    bad = write(tmp_path / "bad.yaml", "name: bad\ninstances: 2\nmix:\n  - {workflow: x}\n"
                                       "polcy: fifo\n")
    proc = subprocess.run([GENSCALE, "workload", "run", str(bad)], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert any(":5: polcy: unknown key" in line for line in lines), lines
    assert json.dumps  # the module is used by other tests


def test_shortest_predicted_first_takes_a_models_predictions(tmp_path: Path) -> None:
    """With --model, predicted_s comes from the bundle's whole-workflow model, not from
    input size: here a model that (by construction) finds the small inputs slower."""
    import numpy as np

    from genscale import forecast
    from genscale.engine.workload import build_instances, load_workload
    from genscale.model import bundle
    from genscale.model.dataset import WORKFLOW_STEP
    from genscale.model.options import FitOptions

    size = np.linspace(1e4, 1e6, 30)
    table = pd.DataFrame({"workflow": "count", "step": WORKFLOW_STEP,
                          "dataset_input_bytes": size, "wall_s": 1e7 / size})
    spec_ = bundle.default_spec(table, "wall_s", ["dataset_input_bytes"], None, None, None)
    groups, meta = bundle.train(table, spec_, FitOptions(), evaluate=False)
    bundle.save(tmp_path / "model", groups, meta)
    spec = workload(tmp_path, """\
name: spf
instances: 4
mix:
  - {workflow: wf.yaml, weight: 1, synth: {genome_bases: 20000, chromosomes: 1, pairs: 4000}}
  - {workflow: wf.yaml, weight: 1, synth: {genome_bases: 20000, chromosomes: 1, pairs: 100}}
seed: 2
""", "name: count\ninputs: {reads_1: reads}\nsteps:\n  - {name: c, app: zcat, inputs: "
     "{r: '{dataset.reads_1}'}, outputs: {o: n.txt}, command: 'zcat {inputs.r} > {outputs.o}'}\n")
    parsed = load_workload(spec)
    _, by_size = build_instances(parsed, spec.parent, tmp_path / "w1", tmp_path / "cache")
    _, by_model = build_instances(parsed, spec.parent, tmp_path / "w2", tmp_path / "cache",
                                  forecast.workflow_predictor(tmp_path / "model"))
    big = max(by_size, key=lambda w: by_size[w]["predicted_s"])
    small = min(by_size, key=lambda w: by_size[w]["predicted_s"])
    assert by_model[big]["predicted_s"] < by_model[small]["predicted_s"]
    with pytest.raises(UserError, match="expected a bundle of wall_s by workflow,step"):
        other = bundle.default_spec(table, "wall_s", ["dataset_input_bytes"], [], None, None)
        g, m = bundle.train(table, other, FitOptions(), evaluate=False)
        bundle.save(tmp_path / "flat", g, m)
        forecast.workflow_predictor(tmp_path / "flat")
