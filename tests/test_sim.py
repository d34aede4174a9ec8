"""The cluster simulator (`genscale sim`): schedules worked out by hand, every policy's
rule, the replay of a real run, and bad traces."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genscale.engine.runner import RunSettings, run_workflow
from genscale.errors import UserError
from genscale.sim.core import Cluster, ranks, simulate
from genscale.sim.trace import from_table, load

from .conftest import GENSCALE, write

GIB = 2**30


def trace_of(rows: list[tuple]) -> pd.DataFrame:
    """(workflow, task, arrival, parents, threads, memory GiB, wall) rows as a trace table."""
    return pd.DataFrame(rows, columns=["workflow_id", "task_id", "arrival_s", "parents",
                                       "threads", "memory_bytes", "wall_s"]).assign(
        memory_bytes=lambda f: f["memory_bytes"] * GIB)


def run(rows: list[tuple], policy: str = "fifo", nodes: int = 1, cores: int = 2,
        memory_gib: float = 8) -> pd.DataFrame:
    trace = from_table(trace_of(rows), "test")
    schedule = simulate(trace, Cluster(nodes, cores, memory_gib * GIB), policy)
    return trace.table.assign(node=schedule.node, start=schedule.start_s,
                              end=schedule.end_s).set_index(["workflow_id", "task_id"])


def test_a_chain_and_a_fork_by_hand() -> None:
    out = run([("w1", "a", 0, "", 1, 1, 10), ("w1", "b", 0, "a", 2, 1, 5),
               ("w1", "c", 0, "a", 1, 1, 3), ("w2", "x", 4, "", 1, 1, 2)])
    assert out.loc[("w1", "a"), ["start", "end"]].tolist() == [0, 10]
    assert out.loc[("w2", "x"), ["start", "end"]].tolist() == [4, 6]  # the free core
    # b (2 threads) comes first in plan order and fits at 10; c waits for it
    assert out.loc[("w1", "b"), ["start", "end"]].tolist() == [10, 15]
    assert out.loc[("w1", "c"), ["start", "end"]].tolist() == [15, 18]


def test_fifo_lets_a_later_task_past_one_that_does_not_fit_and_easy_does_not_delay_it() -> None:
    rows = [("w1", "long", 0, "", 1, 1, 10), ("w2", "wide", 1, "", 2, 1, 4),
            ("w3", "short", 2, "", 1, 1, 3), ("w4", "late", 2, "", 1, 1, 20)]
    fifo = run(rows, "fifo")
    # wide needs both cores: fifo starts short and late on the free core meanwhile
    assert fifo.loc[("w3", "short"), "start"] == 2
    assert fifo.loc[("w4", "late"), "start"] == 5
    assert fifo.loc[("w2", "wide"), "start"] == 25  # starved until both cores are free
    easy = run(rows, "easy")
    # EASY reserves both cores for wide at 10: short ends by then, late would not
    assert easy.loc[("w3", "short"), "start"] == 2
    assert easy.loc[("w2", "wide"), "start"] == 10
    assert easy.loc[("w4", "late"), "start"] == 14


def test_memory_aware_never_holds_more_memory_than_a_node_has() -> None:
    rng = np.random.default_rng(1)
    rows = [(f"w{i}", "t", float(i), "", 1, float(rng.uniform(1, 6)), float(rng.uniform(1, 9)))
            for i in range(60)]
    for policy, bounded in (("fifo", False), ("memory-aware", True)):
        out = run(rows, policy, nodes=2, cores=4, memory_gib=8)
        most = 0.0
        for _, group in out.groupby("node"):
            for t in group["start"]:
                live = group[(group["start"] <= t) & (group["end"] > t)]
                most = max(most, float(live["memory_bytes"].sum()))
        assert (most <= 8 * GIB) == bounded, policy


def test_shortest_and_tail_aware_ranks() -> None:
    table = trace_of([("long", "t", 0, "", 1, 1, 50), ("short", "t", 0, "", 1, 1, 5),
                      ("risky", "t", 0, "", 1, 1, 10)]).assign(
        tail_probability=[0.0, 0.0, 0.9], predicted_s=[50, 5, 10])
    trace = from_table(table, "test")
    order = lambda policy: list(trace.table["workflow_id"].iloc[np.argsort(ranks(trace, policy))])  # noqa: E731
    assert order("fifo") == ["long", "short", "risky"]
    assert order("shortest-predicted-first") == ["short", "risky", "long"]
    assert order("tail-aware") == ["short", "risky", "long"]
    table.loc[2, "tail_probability"] = 1.0
    table.loc[2, "predicted_s"] = 40  # expected 60 with the tail (k = 1.5): after long
    assert list(from_table(table, "t").table["workflow_id"].iloc[
        np.argsort(ranks(from_table(table, "t"), "tail-aware"))]) == ["short", "long", "risky"]


@pytest.mark.parametrize("change, expected", [
    ({"wall_s": [-1.0, 1.0]}, "row 1: wall_s -1.0: expected a finite number"),
    ({"threads": [0, 1]}, "row 1: threads 0"),
    ({"parents": ["", "nope"]}, "row 2: parent 'nope' is not a task of workflow w"),
    ({"parents": ["b", "a"]}, "is in a cycle of parents"),
    ({"arrival_s": [0.0, 5.0]}, "row 2: arrival_s differs"),
    ({"task_id": ["a", "a"]}, "row 2: task a of workflow w appears twice"),
])
def test_a_bad_trace_is_one_line(change, expected) -> None:
    table = trace_of([("w", "a", 0, "", 1, 1, 1), ("w", "b", 0, "a", 1, 1, 1)])
    for column, values in change.items():
        table[column] = values
    with pytest.raises(UserError, match=expected.replace("(", r"\(")):
        from_table(table, "t.parquet")
    with pytest.raises(UserError, match="no column wall_s"):
        from_table(table.drop(columns=["wall_s"]), "t.parquet")


DIAMOND = """\
name: diamond
steps:
  - name: a
    app: sh
    outputs: {o: a}
    command: sleep 0.6 && touch {outputs.o}
  - name: b
    app: sh
    inputs: {i: a}
    outputs: {o: b}
    command: sleep 1.2 && touch {outputs.o}
  - name: c
    app: sh
    threads: 2
    inputs: {i: a}
    outputs: {o: c}
    command: sleep 0.9 && touch {outputs.o}
  - name: d
    app: sh
    inputs: {i: b, j: c}
    outputs: {o: d}
    command: sleep 0.3 && touch {outputs.o}
"""


@pytest.mark.slow  # the engine runs a workflow of sleeps (4 s)
def test_a_real_run_replayed_keeps_its_order_and_makespan(tmp_path: Path) -> None:
    """The engine ran a diamond on 2 cores (c needs both, so b and c cannot overlap);
    replayed with its measured times on one node of 2 cores, the tasks start in the same
    order and the makespan is the measured one less the engine's gaps between tasks."""
    spec = write(tmp_path / "diamond.yaml", DIAMOND)
    result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / "runs",
                                                       interval_s=0.1, cores=2))
    trace = load(result.run_dir)
    schedule = simulate(trace, Cluster(1, 2, 8 * GIB), "fifo")
    table = trace.table.assign(start=schedule.start_s, end=schedule.end_s)
    measured = table.sort_values("measured_start_s")["task_id"].tolist()
    assert table.sort_values("start")["task_id"].tolist() == measured
    assert measured[0] == "a" and measured[-1] == "d"
    makespan = float(table["end"].max())
    measured_makespan = float(table["measured_end_s"].max())
    assert makespan <= measured_makespan + 1e-6
    # what the engine spends between tasks is small beside the tasks (3 s of sleep)
    assert makespan > 0.8 * measured_makespan


def test_sim_command_writes_summary_and_tasks(tmp_path: Path, env_no_color) -> None:
    rng = np.random.default_rng(2)
    rows = []
    for w in range(30):
        rows += [(f"w{w}", "align", w * 3.0, "", 2, 2, float(rng.uniform(5, 20))),
                 (f"w{w}", "sort", w * 3.0, "align", 1, 1, float(rng.uniform(1, 4)))]
    trace_dir = tmp_path / "trace"
    trace_dir.mkdir()
    trace_of(rows).to_parquet(trace_dir / "tasks.parquet")
    proc = subprocess.run([GENSCALE, "sim", str(trace_dir), "--nodes", "2",
                           "--cores-per-node", "4", "--memory-per-node", "16G",
                           "--policy", "easy", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env_no_color, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == json.loads(proc.stdout)
    assert summary["tasks_simulated"] == 60 and summary["workflows"] == 30
    assert 0 < summary["utilisation"] <= 1
    assert summary["turnaround_s"]["p50"] <= summary["turnaround_s"]["p99"]
    tasks = pd.read_parquet(tmp_path / "out" / "tasks.parquet")
    assert set(tasks["node"]) <= {0, 1}
    assert (tasks["start_s"] >= tasks["ready_s"]).all()
    sort = tasks[tasks["task_id"] == "sort"].set_index("workflow_id")
    align = tasks[tasks["task_id"] == "align"].set_index("workflow_id")
    assert (sort["start_s"] >= align.loc[sort.index, "end_s"]).all()
    # at no time does a node hold more cores than it has
    for _, group in tasks.groupby("node"):
        for t in group["start_s"]:
            live = group[(group["start_s"] <= t) & (group["end_s"] > t)]
            assert live["threads"].sum() <= 4
    for bad, expected in ((["--memory-per-node", "lots"], "--memory-per-node 'lots'"),
                          (["--nodes", "0"], "--nodes")):
        args = [GENSCALE, "sim", str(trace_dir), "--nodes", "2", "--cores-per-node", "4",
                "--memory-per-node", "16G"]
        args[args.index(bad[0]) + 1] = bad[1]
        proc = subprocess.run(args, capture_output=True, text=True, env=env_no_color,
                              timeout=60)
        assert proc.returncode == 2 and expected in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = subprocess.run([GENSCALE, "sim", str(tmp_path), "--nodes", "1",
                           "--cores-per-node", "1", "--memory-per-node", "1G"],
                          capture_output=True, text=True, env=env_no_color, timeout=60)
    assert proc.returncode == 2 and "not a trace" in proc.stderr


def test_simgrid_gives_the_same_fifo_schedule(tmp_path: Path) -> None:
    """SimGrid (Debian's python3-simgrid, an independent engine: tests/simgrid_fifo.py)
    and `genscale sim --policy fifo` give every task of random small traces the same node,
    start and end. Times are continuous draws, so no two events coincide."""
    rng = np.random.default_rng(11)
    for case in range(3):
        rows = []
        for w in range(25):
            arrival = float(rng.uniform(0, 200))
            steps = int(rng.integers(2, 6))
            for s in range(steps):
                parents = " ".join(f"t{p}" for p in range(s) if rng.uniform() < 0.5)
                rows.append((f"w{w}", f"t{s}", arrival, parents, int(rng.integers(1, 5)), 1,
                             float(rng.uniform(1, 60))))
        table = trace_of(rows)
        trace = from_table(table, "case")
        schedule = simulate(trace, Cluster(3, 4, 64 * GIB), "fifo")
        document = {"tasks": [{"id": f"{r.workflow_id}/{r.task_id}", "workflow": r.workflow_id,
                               "arrival": r.arrival_s,
                               "parents": [f"{r.workflow_id}/{p}" for p in r.parents.split()],
                               "threads": int(r.threads), "wall": r.wall_s}
                              for r in table.itertuples(index=False)]}
        path = tmp_path / f"case{case}.json"
        path.write_text(json.dumps(document))
        proc = subprocess.run(["/usr/bin/python3", str(Path(__file__).with_name(
            "simgrid_fifo.py")), str(path), "3", "4"], capture_output=True, text=True,
            timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        theirs = json.loads(proc.stdout)
        for i, r in enumerate(table.itertuples(index=False)):
            other = theirs[f"{r.workflow_id}/{r.task_id}"]
            assert other["node"] == schedule.node[i], (case, r)
            assert other["start"] == pytest.approx(schedule.start_s[i], abs=1e-6), (case, r)
            assert other["end"] == pytest.approx(schedule.end_s[i], abs=1e-6), (case, r)


@pytest.mark.slow  # the engine runs 8 workflows of sleeps (15 s)
def test_a_workload_run_replayed_gives_its_makespan_and_turnarounds(tmp_path: Path) -> None:
    """Issue 20's fidelity check, on sleeps (so the numbers do not depend on the machine's
    speed): 8 diamond workflows arriving as a Poisson process, run by the engine on 2
    cores under fifo; replayed by the simulator on one node of 2 cores with the measured
    task times, the makespan and every workflow's turnaround come out as measured, less
    the engine's own gaps between tasks (benchmarks/sim_fidelity.py measures it at scale)."""
    from genscale.engine.runner import run_workload

    write(tmp_path / "diamond.yaml", DIAMOND)
    spec = write(tmp_path / "workload.yaml", """\
name: diamonds
instances: 8
mix:
  - {workflow: diamond.yaml, synth: {genome_bases: 20000, chromosomes: 1, pairs: 50, seed: 1}}
arrival: {process: poisson, rate_per_min: 40}
seed: 3
""")
    result = run_workload(spec, RunSettings(runs_dir=tmp_path / "runs", interval_s=0.2,
                                            cores=2), "fifo")
    assert result.outcome.ok
    trace = load(result.run_dir)
    assert trace.table["workflow_id"].nunique() == 8
    schedule = simulate(trace, Cluster(1, 2, 64 * GIB), "fifo")
    table = trace.table.assign(end=schedule.end_s)
    measured_makespan = float(table["measured_end_s"].max())
    simulated_makespan = float(schedule.end_s.max())
    assert abs(simulated_makespan / measured_makespan - 1) < 0.10
    arrival = table.groupby("workflow_id")["arrival_s"].min()
    measured = table.groupby("workflow_id")["measured_end_s"].max() - arrival
    simulated = table.groupby("workflow_id")["end"].max() - arrival
    assert ((simulated / measured - 1).abs() < 0.20).all(), pd.concat(
        [measured, simulated], axis=1)
