"""`genscale synth trace` against WfCommons' WfGen, side by side in one run.

Both make workflow tasks with runtimes, as fast as they can, on one core: WfGen 1.6 builds
workflows of about `--tasks` tasks from its BWA and nf-core rnaseq recipes
(`WorkflowGenerator(Recipe.from_num_tasks(n)).build_workflows(k)`, in WfCommons' own
virtualenv, `benchmarks/.venv-peers`); GenScale draws `--workflows` dnaseq and rnaseq
workflows (parquet only), timed from the start of generation to the trace directory
renamed into place. Tasks per second, side by side; then 1,000,000 workflows
(`--million`), against the target of under 5 minutes.

    .venv/bin/python benchmarks/trace_generation.py [--workflows 200000] [--million]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from sim_throughput import peers_python

WFGEN = r'''
import json, sys, time
from wfcommons import WorkflowGenerator
from wfcommons.wfchef import recipes

name, tasks, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recipe = getattr(recipes, name).from_num_tasks(tasks)
generator = WorkflowGenerator(recipe)
start = time.perf_counter()
built = generator.build_workflows(count)
taken = time.perf_counter() - start
made = sum(len(w.tasks) for w in built)
print(json.dumps({"seconds": taken, "tasks": made}))
'''


def ours(workflows: int, out: Path) -> tuple[float, int]:
    from genscale.model import scaling
    from genscale.sim.generate import generate
    from genscale.sim.mix import DEFAULT
    from genscale.sim.tracefiles import write_trace

    model = scaling.load(scaling.PACKAGED)
    start = time.perf_counter()
    counts = write_trace(out, generate(DEFAULT, workflows, 1, model), ("parquet",), {})
    return time.perf_counter() - start, counts["tasks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=200, help="tasks per WfGen workflow")
    parser.add_argument("--count", type=int, default=20, help="WfGen workflows per recipe")
    parser.add_argument("--million", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "wfgen.py"
        script.write_text(WFGEN)
        for recipe in ("BwaRecipe", "RnaseqRecipe"):
            result = json.loads(subprocess.run(
                [str(peers_python()), str(script), recipe, str(args.tasks), str(args.count)],
                check=True, capture_output=True, text=True).stdout)
            rows.append((f"WfGen 1.6 {recipe}", result["seconds"], result["tasks"]))
        seconds, tasks = ours(args.workflows, Path(tmp) / "trace")
        rows.append((f"genscale synth trace ({args.workflows:,} workflows)", seconds, tasks))
        tail_lines = tail_share(Path(tmp) / "trace")
        if args.million:
            seconds, tasks = ours(1_000_000, Path(tmp) / "million")
            rows.append(("genscale synth trace (1,000,000 workflows)", seconds, tasks))
    print(f"{'generator':<52}{'seconds':>10}{'tasks':>12}{'tasks/s':>12}")
    for name, seconds, tasks in rows:
        print(f"{name:<52}{seconds:>10.2f}{tasks:>12,}{tasks / seconds:>12,.0f}")
    best_peer = max(t / s for n, s, t in rows if n.startswith("WfGen"))
    ours_rate = rows[2][2] / rows[2][1]
    print(f"GenScale against WfGen's faster recipe: {ours_rate / best_peer:.1f}x")
    print()
    print("\n".join(tail_lines))


def tail_share(trace: Path) -> list[str]:
    """The tail of the default mix's trace: the share of workflows drawn into the models'
    residual tail against the share asked (each workflow's tail probability, by its
    preset), and how the workflows' CPU times spread (size is in the laws)."""
    import pandas as pd

    workflows = pd.read_parquet(trace / "workflows.parquet")
    tasks = pd.read_parquet(trace / "tasks.parquet", columns=["workflow_id", "cpu_time_s"])
    asked = 100 * float(workflows["tail_probability"].mean())
    drawn = 100 * float(workflows["tail"].mean())
    cpu = tasks.groupby("workflow_id")["cpu_time_s"].sum()
    lines = [f"Tail workflows ({len(workflows):,}): asked {asked:.2f}%, drawn {drawn:.2f}% "
             f"({abs(drawn - asked):.2f} points apart; target: within 0.5)"]
    for name, group in workflows.groupby("workflow"):
        own = cpu.reindex(group["workflow_id"])
        ratio = own / float(own.median())
        lines.append(f"{name}: workflow CPU time against its median: "
                     f"{100 * float((ratio > 5).mean()):.2f}% above 5x, "
                     f"{100 * float((ratio > 15).mean()):.2f}% above 15x; p98 "
                     f"{float(ratio.quantile(0.98)):.1f}x, p99 {float(ratio.quantile(0.99)):.1f}x")
    return lines


if __name__ == "__main__":
    main()
