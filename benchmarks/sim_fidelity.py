"""A real workload run replayed in `genscale sim`: its makespan and every workflow's
turnaround, measured against simulated, under the same cores and policy.

The engine runs W diamond workflows of sleeps (1-4 s, one step on 2 threads), arriving as a
Poisson process, on `--cores` cores under `fifo`; the simulator replays the run directory
(its measured task times, each workflow arriving when the workload's schedule said) on one
node of as many cores. Sleeps keep the task times independent of the machine's load, so
what differs is the engine's own time between tasks, which the simulator does not have.
Targets (issue 20): makespan within 5%, each workflow's turnaround within 10%.

    .venv/bin/python benchmarks/sim_fidelity.py [--workflows 30] [--cores 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from genscale.engine.runner import RunSettings, run_workload
from genscale.sim.core import Cluster, simulate
from genscale.sim.trace import load

WORKFLOW = """\
name: diamond
steps:
  - {name: a, app: sh, outputs: {o: a}, command: "sleep 1 && touch {outputs.o}"}
  - {name: b, app: sh, inputs: {i: a}, outputs: {o: b}, command: "sleep 3 && touch {outputs.o}"}
  - {name: c, app: sh, threads: 2, inputs: {i: a}, outputs: {o: c},
     command: "sleep 2 && touch {outputs.o}"}
  - {name: d, app: sh, inputs: {i: b, j: c}, outputs: {o: d},
     command: "sleep 1 && touch {outputs.o}"}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=30)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--rate-per-min", type=float, default=12.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "diamond.yaml").write_text(WORKFLOW)
        (tmp / "workload.yaml").write_text(f"""\
name: fidelity
instances: {args.workflows}
mix:
  - {{workflow: diamond.yaml, synth: {{genome_bases: 20000, chromosomes: 1, pairs: 50}}}}
arrival: {{process: poisson, rate_per_min: {args.rate_per_min}}}
seed: 5
""")
        result = run_workload(tmp / "workload.yaml",
                              RunSettings(runs_dir=tmp / "runs", interval_s=0.5,
                                          cores=args.cores), "fifo")
        trace = load(result.run_dir)
    schedule = simulate(trace, Cluster(1, args.cores, 2**40), "fifo")
    table = trace.table.assign(end=schedule.end_s)
    measured_makespan = float(table["measured_end_s"].max())
    simulated_makespan = float(schedule.end_s.max())
    arrival = table.groupby("workflow_id")["arrival_s"].min()
    measured = table.groupby("workflow_id")["measured_end_s"].max() - arrival
    simulated = table.groupby("workflow_id")["end"].max() - arrival
    errors = (simulated / measured - 1).abs().to_numpy()
    print(f"{args.workflows} workflows of 4 sleep tasks, Poisson {args.rate_per_min}/min, "
          f"{args.cores} cores, fifo")
    print(f"{'':<26}{'measured':>10}{'simulated':>11}{'error':>9}")
    print(f"{'makespan s':<26}{measured_makespan:>10.2f}{simulated_makespan:>11.2f}"
          f"{100 * abs(simulated_makespan / measured_makespan - 1):>8.2f}%")
    print(f"{'turnaround error, median':<26}{'':>21}{100 * np.median(errors):>8.2f}%")
    print(f"{'turnaround error, max':<26}{'':>21}{100 * errors.max():>8.2f}%")


if __name__ == "__main__":
    main()
