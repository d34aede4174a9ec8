"""Extrapolation on this project's corpus: the model against the straight line, per step.

Each (workflow, step) of the model table (`genscale model dataset`), runs on an idle
machine only (`background_cores` < 0.1), trained on its small inputs and tested on inputs
at least 5x larger, as `genscale model train` reports its extrapolation
(`genscale.model.evaluate.extrapolate`, size `read_bases`, the features of the packaged
corpus-v1 bundle; folds by `--group`, `dataset_id` as `make models` trains). Prints the
median and the geometric mean over the groups of their MdAPE, the line's, and in how many
groups the model's is under the line's, for each `--extrapolation` (`FitOptions`: "law",
as `make models` trains, or "linear", `genscale model train`'s default) and, for "linear",
each `--line-weight` (`estimator.LINE_WEIGHT`: how far predictions past the training sizes
move towards the line, times the line's trust; 0: not at all); with `--per-group`, each
group's too (a median over 29 groups hides a group that gets twice as far off).
`--target` is what is predicted (`wall_s`, or `peak_rss_bytes` with that bundle's
features).

    .venv/bin/genscale model dataset datasets/corpus-v1 --out /tmp/corpus.parquet
    .venv/bin/python benchmarks/extrapolation_corpus.py /tmp/corpus.parquet
        [--extrapolation law linear] [--line-weight 0 0.5] [--per-group] [--group run_id]
        [--target peak_rss_bytes]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from genscale.model import estimator
from genscale.model.evaluate import extrapolate
from genscale.model.options import Extrapolation, FitOptions

MODELS = Path(__file__).parents[1] / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--extrapolation", nargs="+", choices=get_args(Extrapolation),
                        default=["law", "linear"])
    parser.add_argument("--line-weight", nargs="+", type=float,
                        default=[estimator.LINE_WEIGHT])
    parser.add_argument("--group", default="dataset_id",
                        help="the column whose rows are held out together (default: dataset_id)")
    parser.add_argument("--per-group", action="store_true", help="print each group's MdAPE")
    parser.add_argument("--target", default="wall_s", choices=["wall_s", "peak_rss_bytes"])
    args = parser.parse_args()
    table = pd.read_parquet(args.table) if args.table.suffix == ".parquet" else \
        pd.read_csv(args.table)
    if args.group not in table.columns:
        sys.exit(f"extrapolation_corpus: {args.table}: no column {args.group!r} to hold out by")
    table = table[table["background_cores"] < 0.1]
    bundle = MODELS / f"corpus-v1-{args.target}" / "model.json"
    features = json.loads(bundle.read_text())["features"]
    target = args.target
    fits = [(e, w) for e in args.extrapolation
            for w in (args.line_weight if e == "linear" else [estimator.LINE_WEIGHT])]
    for extrapolation, line_weight in fits:
        estimator.LINE_WEIGHT = line_weight
        options = FitOptions(extrapolation=extrapolation)
        rows = []
        for (workflow, step), group in table.groupby(["workflow", "step"]):
            group = group[group[target] > 0].reset_index(drop=True)
            result = extrapolate(group, target, [c for c in features if c in group.columns],
                                 "read_bases", options, args.group)
            if result is not None:
                rows.append((workflow, step, result["model"]["mdape"], result["line"]["mdape"]))
        found = pd.DataFrame(rows, columns=["workflow", "step", "model", "line"])
        if args.per_group:
            print(found.round(1).to_string(index=False))
        label = (f"--extrapolation {extrapolation}"
                 + (f", LINE_WEIGHT {line_weight:g}" if extrapolation == "linear" else ""))
        geometric = {m: float(np.exp(np.log(found[m]).mean())) for m in ("model", "line")}
        print(f"{target}, {label}: MdAPE over {len(found)} groups, median (geometric "
              f"mean): model {found['model'].median():.1f} ({geometric['model']:.1f}), line "
              f"{found['line'].median():.1f} ({geometric['line']:.1f}); the model under the "
              f"line in {int((found['model'] < found['line']).sum())}", flush=True)


if __name__ == "__main__":
    main()
