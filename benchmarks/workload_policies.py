"""One workload under every scheduling policy, compared on makespan, workflow time (mean,
p95, p99) and utilisation.

    .venv/bin/python benchmarks/workload_policies.py [SPEC] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genscale.engine.policies import POLICIES
from genscale.engine.runner import RunSettings, run_workload
from genscale.report.compare import compare_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path,
                        default=Path(__file__).parent.parent / "workloads" / "dnaseq-poisson.yaml")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = parser.parse_args()
    runs = []
    for policy in POLICIES:
        result = run_workload(args.spec, RunSettings(runs_dir=args.runs_dir, interval_s=1.0),
                              policy)
        runs.append(result.run_dir)
        print(f"{policy}: {result.run_dir} ({'ok' if result.outcome.ok else 'FAILED'})",
              flush=True)
    table = compare_runs(runs)
    print()
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
