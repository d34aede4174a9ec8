"""Whole-run CPU totals against the kernel's accounting.

Runs each workflow once (index cache off) and compares the sum of tasks.csv's cpu_time_s
with getrusage(RUSAGE_CHILDREN) of this process, counted from the first task's start (the
tool-version probes before it are excluded).

    .venv/bin/python benchmarks/cpu_accounting.py [--interval S] WORKFLOW=DATASET_DIR ...
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from genscale.engine.runner import RunSettings, run_workflow
from genscale.monitor.process import ReapedCpuSinceFirstTask
from genscale.store.rundir import RunDirectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="WORKFLOW=DATASET_DIR")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    print("| workflow | tasks | sum of cpu_time_s (s) | kernel (s) | difference |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as runs_dir:
        for spec in args.runs:
            workflow, _, dataset = spec.partition("=")
            kernel_cpu = ReapedCpuSinceFirstTask()
            result = run_workflow(workflow, Path(dataset),
                                  RunSettings(runs_dir=Path(runs_dir), interval_s=args.interval,
                                              use_cache=False), on_event=kernel_cpu)
            kernel = kernel_cpu.elapsed_cpu_s()
            tasks = RunDirectory(result.run_dir).tasks()
            ran = tasks[tasks["status"] == "succeeded"]
            total = float(ran["cpu_time_s"].sum())
            print(f"| {workflow} | {len(ran)} | {total:.3f} | {kernel:.3f} | "
                  f"{100 * (total - kernel) / kernel:+.3f}% |")


if __name__ == "__main__":
    main()
