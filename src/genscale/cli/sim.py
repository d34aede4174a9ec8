"""`genscale sim`: a trace (or a run) on a simulated cluster, under a policy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from genscale.sim.policies import POLICIES


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--nodes", type=click.IntRange(1, 10_000_000), required=True,
              help="nodes of the cluster")
@click.option("--cores-per-node", type=click.IntRange(1, 1_000_000), required=True,
              help="cores of each node")
@click.option("--memory-per-node", required=True, help="memory of each node, such as 256G")
@click.option("--policy", type=click.Choice(POLICIES), default="fifo", show_default=True,
              help="how ready tasks are ordered and placed (docs/simulation.md)")
@click.option("--out", type=click.Path(path_type=Path),
              help="write summary.json and tasks.parquet here")
def sim(trace: Path, nodes: int, cores_per_node: int, memory_per_node: str, policy: str,
        out: Path | None) -> None:
    """Simulate TRACE (a trace directory; a run directory: its measured tasks; or WfCommons
    instances: a .json file or a directory of them) on NODES nodes of CORES-PER-NODE cores;
    print the summary as JSON.

    \b
    Example:
      genscale sim runs/my-workload --nodes 1 --cores-per-node 2 --memory-per-node 24G
      genscale sim montage-instance.json --nodes 4 --cores-per-node 48 --memory-per-node 192G
    """
    from genscale.sim import core, summary
    from genscale.sim.trace import load
    from genscale.workflow.spec import size_flag

    memory = float(size_flag(memory_per_node, "--memory-per-node"))
    loaded = load(trace)
    cluster = core.Cluster(nodes, cores_per_node, memory)
    began = time.perf_counter()
    schedule = core.simulate(loaded, cluster, policy)
    taken = time.perf_counter() - began
    result = summary.summarise(loaded, schedule, cluster, policy, taken)
    if out is not None:
        summary.write(out, result, summary.task_table(loaded, schedule))
    click.echo(json.dumps(result, indent=2))
