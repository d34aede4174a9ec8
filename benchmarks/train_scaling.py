"""How `genscale model train` grows with rows and groups (issue 17's 1M-row question).

A synthetic user's table like a platform trace (runtime = a * size^1.2 * quality effect *
noise, a tail where adapters are high), in G groups, trained as `model train` trains it
(cross-validation and the extrapolation test included, one process), timed per size. Each
size runs in a fresh process, so peak memory is its own.

    .venv/bin/python benchmarks/train_scaling.py [--rows 10000 100000 1000000]
        [--groups 10 50] [--limit-s 1800]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def table(rows: int, groups: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    size = np.exp(rng.uniform(np.log(1e6), np.log(5e9), rows))
    quality = rng.uniform(0, 1, rows)
    adapters = rng.uniform(0, 1, rows)
    group = rng.integers(0, groups, rows)
    scale = np.exp(rng.normal(0, 1, groups))[group]
    wall = (scale * 2e-6 * size**1.2 * np.exp(0.6 * quality)
            * np.where(adapters > 0.98, 5.0, 1.0) * np.exp(rng.normal(0, 0.1, rows)))
    return pd.DataFrame({"process": [f"P{g}" for g in group], "run_id": np.arange(rows),
                         "TaskInputSize": size, "quality": quality, "adapters": adapters,
                         "realtime": wall})


def one(rows: int, groups: int) -> dict[str, float]:
    from genscale.model import bundle
    from genscale.model.options import FitOptions

    frame = table(rows, groups)
    spec = bundle.default_spec(frame, "realtime", None, ["process"], "run_id", None)
    start = time.perf_counter()
    bundle.train(frame, spec, FitOptions())
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rows": rows, "groups": groups, "train_s": round(wall, 1),
            "peak_rss_mib": round(peak / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--groups", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--limit-s", type=float, default=1800,
                        help="stop a size that takes longer than this; it is reported so")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    print("| rows | groups | train s | s per 1,000 rows | peak MiB |")
    print("|---:|---:|---:|---:|---:|")
    for groups in args.groups:
        for rows in args.rows:
            try:
                out = subprocess.run([sys.executable, __file__, "--one", str(rows),
                                      str(groups)], capture_output=True, text=True,
                                     timeout=args.limit_s, check=True)
            except subprocess.TimeoutExpired:
                print(f"| {rows:,} | {groups} | over {args.limit_s:.0f} | | |", flush=True)
                break
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {rows:,} | {groups} | {r['train_s']:,.1f} | "
                  f"{1000 * r['train_s'] / rows:.3f} | {r['peak_rss_mib']:,} |", flush=True)


if __name__ == "__main__":
    main()
