"""Extrapolation on real nf-core runs: `genscale model train` against the straight line.

Lotaru's published execution reports (github.com/CRC-FONDA/Lotaru,
`execution_reports/<machine>/results_<workflow>/execution_report_<machine>.csv`) hold
nf-core tasks run on down-sampled inputs (`Label` train-1, train-2) and on the full input
(`test`), with `Task`, `NumberSequences`, `Realtime` (ms) and `TaskInputSize`. This trains
one model per task, as `genscale model train --by Task --size TaskInputSize --features
TaskInputSize` does, on the training runs of at most CUT sequences, predicts the full
inputs, and prints the median absolute percentage error of the model and of a straight
line on TaskInputSize fitted on the same runs, per cut, side by side.

    .venv/bin/python benchmarks/extrapolation_nfcore.py REPORT.csv [REPORT.csv ...]
        [--cuts 1e6 3.3e6 7e6 1.4e7 inf] [--tasks fastqc bwa ...]

The reports are not in this repository (they are Lotaru's); get them from its repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from genscale.model import bundle
from genscale.model.evaluate import fit_baselines, predict_baselines
from genscale.model.options import FitOptions

NEEDED = ("Label", "Task", "NumberSequences", "Realtime", "TaskInputSize")


def mdape(predicted: np.ndarray, y: np.ndarray) -> float:
    return float(np.median(np.abs(predicted - y) / y) * 100)


def one_cut(table: pd.DataFrame, cut: float) -> tuple[float, float, int]:
    train = table[(table["Label"] != "test") & (table["NumberSequences"] <= cut)]
    train = train.groupby("Task").filter(lambda g: len(g) >= 5).reset_index(drop=True)
    test = table[(table["Label"] == "test") & table["Task"].isin(set(train["Task"]))]
    test = test.reset_index(drop=True)
    spec = bundle.default_spec(train, "Realtime", ["TaskInputSize"], ["Task"], None,
                               "TaskInputSize")
    groups, meta = bundle.train(train, spec, FitOptions(), evaluate=False)
    model = bundle.predict(groups, meta, test)["predicted_Realtime"].to_numpy()
    line = np.empty(len(test))
    for task, rows in test.groupby("Task"):
        fitted = fit_baselines(train[train["Task"] == task], "Realtime", "TaskInputSize")
        line[rows.index] = predict_baselines(fitted, rows, "TaskInputSize")["line"]
    y = test["Realtime"].to_numpy(dtype=float)
    return mdape(model, y), mdape(line, y), len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--cuts", nargs="+", type=float, default=[1e6, 3.3e6, 7e6, 1.4e7,
                                                                  float("inf")])
    parser.add_argument("--tasks", nargs="*", help="only these tasks (default: all)")
    args = parser.parse_args()
    table = pd.concat([pd.read_csv(p) for p in args.reports], ignore_index=True)
    missing = [c for c in NEEDED if c not in table.columns]
    if missing:
        sys.exit(f"extrapolation_nfcore: no column {', '.join(missing)} in the reports")
    if args.tasks:
        table = table[table["Task"].isin(args.tasks)]
    print("| training runs of at most | full-size runs | model MdAPE % | line MdAPE % |")
    print("|---:|---:|---:|---:|")
    for cut in args.cuts:
        model, line, n = one_cut(table, cut)
        label = "all" if np.isinf(cut) else f"{cut:,.0f} sequences"
        print(f"| {label} | {n} | {model:.1f} | {line:.1f} |", flush=True)


if __name__ == "__main__":
    main()
