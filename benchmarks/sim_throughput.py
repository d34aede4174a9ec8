"""`genscale sim` against SimPy on the same tasks and cores, side by side in one run.

A synthetic trace of W dnaseq-shaped workflows (`genscale synth trace`, Poisson arrivals
over 30 days) on N nodes of C cores: GenScale's event core under `fifo`, and SimPy 4's
first-come-first-served (one `Container` of cores per node, each task a process that waits
for its workflow's arrival and its parents, then asks its node's container for its threads:
SimPy serves a container's requests strictly in order), each timed with
`time.perf_counter` around the simulation alone (the trace already in memory). Tasks go to
nodes round-robin in SimPy (it has no placement of its own); the makespans are printed to
show both simulated the same load, not to agree (the two rules differ).

SimPy runs from its own virtualenv (`benchmarks/.venv-peers`, made on first use from PyPI).

    .venv/bin/python benchmarks/sim_throughput.py [--workflows 20000] [--nodes 20] [--cores 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PEERS = ROOT / ".venv-peers"
PEER_PACKAGES = ["simpy==4.1.2", "wfcommons==1.6"]

SIMPY = r'''
import json, sys, time
import pandas as pd
import simpy

tasks = pd.read_parquet(sys.argv[1])
nodes, cores = int(sys.argv[2]), int(sys.argv[3])
env = simpy.Environment()
pools = [simpy.Container(env, capacity=cores, init=cores) for _ in range(nodes)]
done = {}
ends = []

def task(i, row, node):
    yield env.timeout(max(0.0, row.arrival_s - env.now))
    for parent in row.parents.split():
        yield done[(row.workflow_id, parent)]
    need = min(int(row.threads), cores)
    yield pools[node].get(need)
    yield env.timeout(row.wall_s)
    yield pools[node].put(need)
    ends.append(env.now)
    done[(row.workflow_id, row.task_id)].succeed()

rows = list(tasks.itertuples(index=False))
for row in rows:
    done[(row.workflow_id, row.task_id)] = env.event()
start = time.perf_counter()
for i, row in enumerate(rows):
    env.process(task(i, row, i % nodes))
env.run()
taken = time.perf_counter() - start
print(json.dumps({"seconds": taken, "tasks": len(rows), "makespan_s": max(ends)}))
'''


def peers_python() -> Path:
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pandas", "pyarrow",
                        *PEER_PACKAGES], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--cores", type=int, default=64)
    parser.add_argument("--large-workflows", type=int, default=0,
                        help="then a trace of this many workflows, on 10x the nodes "
                             "(800,000: about 10 million tasks)")
    args = parser.parse_args()
    import pandas as pd

    from genscale.model import scaling
    from genscale.sim.core import Cluster, simulate
    from genscale.sim.generate import generate
    from genscale.sim.mix import DEFAULT, Mix
    from genscale.sim.trace import from_table

    mix = Mix.model_validate({**DEFAULT.model_dump(), "workflows": [
        {**DEFAULT.workflows[0].model_dump(), "share": 1.0}]})
    model = scaling.load(scaling.PACKAGED)
    tasks = pd.concat([c.tasks for c in generate(mix, args.workflows, 1, model)],
                      ignore_index=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.parquet"
        tasks.to_parquet(path)
        script = Path(tmp) / "simpy_fcfs.py"
        script.write_text(SIMPY)
        peer = json.loads(subprocess.run(
            [str(peers_python()), str(script), str(path), str(args.nodes), str(args.cores)],
            check=True, capture_output=True, text=True).stdout)
    trace = from_table(tasks, "synthetic")
    cluster = Cluster(args.nodes, args.cores, 2**50)
    # the first use after an install compiles the event loop (then cached): not a cost of
    # each simulation, so a small one runs first
    simulate(from_table(tasks.iloc[:200], "synthetic"), cluster, "fifo")
    start = time.perf_counter()
    schedule = simulate(trace, cluster, "fifo")
    ours = time.perf_counter() - start
    span = float(schedule.end_s.max())
    print(f"{len(tasks):,} tasks of {args.workflows:,} workflows on {args.nodes} nodes x "
          f"{args.cores} cores")
    print(f"{'simulator':<28}{'seconds':>10}{'tasks/s':>12}{'makespan days':>15}")
    print(f"{'SimPy 4.1.2 FCFS':<28}{peer['seconds']:>10.2f}"
          f"{peer['tasks'] / peer['seconds']:>12,.0f}{peer['makespan_s'] / 86400:>15.2f}")
    print(f"{'genscale sim --policy fifo':<28}{ours:>10.2f}{len(tasks) / ours:>12,.0f}"
          f"{span / 86400:>15.2f}")
    print(f"speed-up: {peer['seconds'] / ours:.1f}x")
    if args.large_workflows:
        large(mix, model, args.large_workflows, args.nodes * 10, args.cores)


def large(mix: Any, model: dict[str, Any], workflows: int, nodes: int, cores: int) -> None:
    """A trace of millions of tasks: how long generating it, reading it as arrays and
    simulating it take (only GenScale: SimPy would take hours), and the memory."""
    import pandas as pd

    from genscale.sim.core import Cluster, simulate
    from genscale.sim.generate import generate
    from genscale.sim.trace import from_table

    start = time.perf_counter()
    tasks = pd.concat([c.tasks for c in generate(mix, workflows, 1, model)],
                      ignore_index=True)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    trace = from_table(tasks, "synthetic")
    del tasks
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    schedule = simulate(trace, Cluster(nodes, cores, 2**50), "fifo")
    simulated = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"\n{len(trace):,} tasks of {workflows:,} workflows on {nodes} nodes x {cores} "
          f"cores, fifo (makespan {float(schedule.end_s.max()) / 86400:.1f} days):")
    print(f"{'stage':<34}{'seconds':>10}{'tasks/s':>12}")
    for stage, seconds in (("generate (synth trace, in memory)", generated),
                           ("read as arrays (sim.trace)", loaded),
                           ("simulate (genscale sim's core)", simulated)):
        print(f"{stage:<34}{seconds:>10.1f}{len(trace) / seconds:>12,.0f}")
    print(f"peak memory of the process: {peak / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
