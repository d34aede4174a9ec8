"""Extrapolation on this project's corpus: the model against the straight line, per step.

Each (workflow, step) of the model table (`genscale model dataset`), runs on an idle
machine only (`background_cores` < 0.1), trained on its small inputs and tested on inputs
at least 5x larger, as `genscale model train` reports its extrapolation
(`genscale.model.evaluate.extrapolate`, size `read_bases`, the features of the packaged
corpus-v1 bundle). Prints the median over the groups of their MdAPE, the line's, and in
how many groups the model's is under the line's, for each `--line-weight`
(`estimator.LINE_WEIGHT`: how far predictions past the training sizes move towards the
line, times the line's trust; 0: not at all).

    .venv/bin/genscale model dataset datasets/corpus-v1 --out /tmp/corpus.parquet
    .venv/bin/python benchmarks/extrapolation_corpus.py /tmp/corpus.parquet --line-weight 0 0.5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from genscale.model import estimator
from genscale.model.evaluate import extrapolate
from genscale.model.options import FitOptions

BUNDLE = Path(__file__).parents[1] / "models" / "corpus-v1-wall_s" / "model.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--line-weight", nargs="+", type=float,
                        default=[estimator.LINE_WEIGHT])
    args = parser.parse_args()
    table = pd.read_parquet(args.table) if args.table.suffix == ".parquet" else \
        pd.read_csv(args.table)
    table = table[table["background_cores"] < 0.1]
    features = json.loads(BUNDLE.read_text())["features"]
    for line_weight in args.line_weight:
        estimator.LINE_WEIGHT = line_weight
        rows = []
        for (workflow, step), group in table.groupby(["workflow", "step"]):
            group = group[group["wall_s"] > 0].reset_index(drop=True)
            result = extrapolate(group, "wall_s", [c for c in features if c in group.columns],
                                 "read_bases", FitOptions(), "run_id")
            if result is not None:
                rows.append((workflow, step, result["model"]["mdape"], result["line"]["mdape"]))
        found = pd.DataFrame(rows, columns=["workflow", "step", "model", "line"])
        print(f"LINE_WEIGHT {line_weight:g}: median MdAPE over {len(found)} groups: model "
              f"{found['model'].median():.1f}, line {found['line'].median():.1f}; the model "
              f"under the line in {int((found['model'] < found['line']).sum())}", flush=True)


if __name__ == "__main__":
    main()
