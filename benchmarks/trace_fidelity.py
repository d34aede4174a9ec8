"""Synthetic runtimes against held-out measured runs, per step (issue 20's fidelity target).

The corpus's datasets are split in two by a fixed hash of their ids. The work laws are
fitted on one half (`model.scaling.fit`; the quality factors and tail probabilities are the
packaged model's); then for every run of the other half, `genscale synth trace`'s drawing
(`sim.generate.draw_workflows`) makes a synthetic workflow at that run's inputs (pairs, read
length, reference length, threads, preset). Per step, the synthetic wall times against the
measured ones of the held-out runs: a two-sample Kolmogorov-Smirnov test (passes at 5%
where p > 0.05) and the p99/p50 ratio of each (target: within 20%).

    .venv/bin/python benchmarks/trace_fidelity.py [--corpus datasets/corpus-v1] [--draws 20]
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from genscale.model import scaling
from genscale.model.dataset import model_table
from genscale.model.projection import step_plans
from genscale.sim.generate import draw_workflows

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "datasets" / "corpus-v1")
    parser.add_argument("--draws", type=int, default=20,
                        help="synthetic workflows per held-out run")
    args = parser.parse_args()
    table = model_table(args.corpus)
    table = table[table["step"] != "(workflow)"]
    held = table["dataset_id"].map(lambda d: zlib.crc32(str(d).encode()) % 2 == 1)
    packaged = scaling.load(scaling.PACKAGED)
    rng = np.random.default_rng(4)
    pd.set_option("display.width", 200)
    for workflow in sorted(table["workflow"].unique()):
        rows = table[table["workflow"] == workflow]
        fitted = scaling.fit(rows[~held.loc[rows.index]], workflow)
        test = rows[held.loc[rows.index]]
        runs = test.groupby("run_id").first()
        preset = runs["preset"].astype(str).to_numpy() if "preset" in runs else \
            np.full(len(runs), "typical")
        inputs = scaling.Inputs.from_table(runs.reset_index())
        n = len(runs) * args.draws
        _, synthetic = draw_workflows(
            workflow, None, np.array([f"s{i}" for i in range(n)]), np.zeros(n),
            np.repeat(inputs.pairs, args.draws), np.repeat(inputs.read_length, args.draws),
            np.repeat(inputs.reference_bases, args.draws), np.repeat(preset, args.draws),
            rng, step_plans(workflow), fitted, packaged)
        out = []
        for step, measured in test.groupby("step"):
            drawn = synthetic.loc[synthetic["step"] == step, "wall_s"].to_numpy()
            real = measured["wall_s"].to_numpy(dtype=float)
            if drawn.size == 0 or real.size < 5:
                continue
            ks = ks_2samp(drawn, real)
            ratio_real = np.percentile(real, 99) / np.percentile(real, 50)
            ratio_drawn = np.percentile(drawn, 99) / np.percentile(drawn, 50)
            out.append({"step": step, "runs": real.size, "KS D": ks.statistic,
                        "KS p": ks.pvalue, "passes 5%": ks.pvalue > 0.05,
                        "p99/p50 measured": ratio_real, "p99/p50 synthetic": ratio_drawn,
                        "ratio off %": 100 * abs(ratio_drawn / ratio_real - 1)})
        frame = pd.DataFrame(out)
        print(f"\n{workflow}: {len(runs)} held-out runs of {args.corpus.name}, "
              f"{args.draws} synthetic workflows each")
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"passes KS at 5%: {int(frame['passes 5%'].sum())} of {len(frame)} steps; "
              f"p99/p50 within 20%: {int((frame['ratio off %'] <= 20).sum())} of "
              f"{len(frame)}")


if __name__ == "__main__":
    main()
