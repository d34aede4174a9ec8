"""Extrapolation on real nf-core runs: `genscale model train` against the straight line.

Lotaru's published execution reports (github.com/CRC-FONDA/Lotaru,
`execution_reports/<machine>/results_<workflow>/execution_report_<machine>.csv`) hold
nf-core tasks run on down-sampled inputs (`Label` train-1, train-2) and on the full input
(`test`), with `Task`, `NumberSequences`, `Realtime` (ms) and `TaskInputSize` (and
`Workflow`: a step is a workflow's task). This trains one model per step, as `genscale
model train --by Workflow,Task --size TaskInputSize --features TaskInputSize` does, on the
training runs of at most CUT sequences, predicts the full inputs, and prints the median
absolute percentage error (MdAPE) of the model and of a straight line on TaskInputSize
fitted on the same runs, per cut, side by side: all steps together, then each workflow's.

The difference of the two MdAPEs comes with a 95% interval from a paired bootstrap over
the steps (a step's full-size runs are resampled together, 2,000 times): an interval that
holds 0 is a tie on these runs.

    .venv/bin/python benchmarks/extrapolation_nfcore.py REPORT.csv [REPORT.csv ...]
        [--cuts 1e6 3.3e6 7e6 1.4e7 inf] [--tasks fastqc bwa ...] [--line-weight 0]
        [--extrapolation law]

`--extrapolation` is `genscale model train`'s (default "linear"). `--line-weight` sets
`estimator.LINE_WEIGHT` (how far predictions past the training sizes move towards the
line, times its trust; 0: not at all) before training.

Reports of several machines (their `Machine` column) are pooled with each machine's steps
trained apart: the workflow is printed as `MACHINE:WORKFLOW`.

The last column is a bound, not an estimator: the MdAPE of the model or the line, whichever
was nearer on each step's full-size runs, chosen in hindsight step by step. No rule that
picks one of the two per step from the training runs can do better; where it is near the
line's, the two miss the same runs the same way, and a size-only choice between them has
little to win.

With `--scatter` it prints instead how far the training runs stray from a curve of their
size (`series_scatter`): the line's error at each step's largest training runs, in sample,
and that of one series' line at the other series' largest run.

The reports are not in this repository (they are Lotaru's); get them from its repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from genscale.model import bundle, estimator
from genscale.model.evaluate import fit_baselines, predict_baselines
from genscale.model.options import Extrapolation, FitOptions

NEEDED = ("Label", "Task", "NumberSequences", "Realtime", "TaskInputSize")
BOOTSTRAP = 2000


def ape(predicted: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(predicted - y) / y * 100, dtype=float)


def one_cut(table: pd.DataFrame, cut: float, options: FitOptions) -> pd.DataFrame:
    """The full-size runs of every step with 5 training runs or more: `Workflow`, `step`,
    and the model's and the line's absolute percentage errors."""
    train = table[(table["Label"] != "test") & (table["NumberSequences"] <= cut)]
    train = train.groupby("step").filter(lambda g: len(g) >= 5).reset_index(drop=True)
    test = table[(table["Label"] == "test") & table["step"].isin(set(train["step"]))]
    test = test.reset_index(drop=True)
    spec = bundle.default_spec(train, "Realtime", ["TaskInputSize"], ["step"], None,
                               "TaskInputSize")
    groups, meta = bundle.train(train, spec, options, evaluate=False)
    model = bundle.predict(groups, meta, test)["predicted_Realtime"].to_numpy()
    line = np.empty(len(test))
    for step, rows in test.groupby("step"):
        fitted = fit_baselines(train[train["step"] == step], "Realtime", "TaskInputSize")
        line[rows.index] = predict_baselines(fitted, rows, "TaskInputSize")["line"]
    y = test["Realtime"].to_numpy(dtype=float)
    return pd.DataFrame({"Workflow": test["Workflow"], "step": test["step"],
                         "model": ape(model, y), "line": ape(line, y)})


def hindsight_mdape(errors: pd.DataFrame) -> float:
    """MdAPE of the model or the line, whichever has the smaller median on each step's
    runs (chosen knowing the answers: the best any per-step choice between them does)."""
    by_step = errors.groupby("step")[["model", "line"]].median()
    model_nearer = errors["step"].map(by_step["model"] <= by_step["line"]).to_numpy(bool)
    return float(np.median(np.where(model_nearer, errors["model"], errors["line"])))


def series_scatter(table: pd.DataFrame) -> tuple[float, float]:
    """How far runs stray from any curve of their size, in the training runs alone: the
    median absolute percentage error of each step's straight line (fitted on all its
    training runs) at its 4 largest training runs, in sample; and of the line fitted on one
    down-sampled series (`train-1` or `train-2`: the one reaching the larger size) at the
    other series' largest run, a size inside the range it was fitted on."""
    in_sample: list[float] = []
    between: list[float] = []
    for _, runs in table[table["Label"] != "test"].groupby("step"):
        if len(runs) < 8:
            continue
        x = runs["TaskInputSize"].to_numpy(dtype=float)
        y = runs["Realtime"].to_numpy(dtype=float)
        slope, intercept = np.polyfit(x, y, 1)
        top = np.argsort(x)[-4:]
        in_sample.extend(ape(intercept + slope * x[top], y[top]))
        series = sorted((s for _, s in runs.groupby("Label")),
                        key=lambda s: s["TaskInputSize"].max())
        if len(series) == 2 and len(series[1]) >= 3:
            other, fitted = series
            slope, intercept = np.polyfit(fitted["TaskInputSize"].to_numpy(dtype=float),
                                          fitted["Realtime"].to_numpy(dtype=float), 1)
            run = other.loc[other["TaskInputSize"].idxmax()]
            between.extend(ape(np.array([intercept + slope * run["TaskInputSize"]]),
                               np.array([float(run["Realtime"])])))
    return float(np.median(in_sample)), float(np.median(between))


def difference_interval(errors: pd.DataFrame, seed: int = 1) -> tuple[float, float]:
    """95% interval of MdAPE(model) - MdAPE(line), resampling steps with replacement."""
    rng = np.random.default_rng(seed)
    steps = [(part["model"].to_numpy(), part["line"].to_numpy())
             for _, part in errors.groupby("step")]
    differences = np.empty(BOOTSTRAP)
    for i in range(BOOTSTRAP):
        chosen = [steps[j] for j in rng.integers(0, len(steps), len(steps))]
        differences[i] = (np.median(np.concatenate([m for m, _ in chosen]))
                          - np.median(np.concatenate([line for _, line in chosen])))
    low, high = np.quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--cuts", nargs="+", type=float, default=[1e6, 3.3e6, 7e6, 1.4e7,
                                                                  float("inf")])
    parser.add_argument("--tasks", nargs="*", help="only these tasks (default: all)")
    parser.add_argument("--line-weight", type=float, default=estimator.LINE_WEIGHT)
    parser.add_argument("--extrapolation", choices=get_args(Extrapolation), default="linear")
    parser.add_argument("--scatter", action="store_true",
                        help="print how far the training runs stray from a curve of their "
                             "size (series_scatter) instead of extrapolating")
    args = parser.parse_args()
    estimator.LINE_WEIGHT = args.line_weight
    table = pd.concat([pd.read_csv(p) for p in args.reports], ignore_index=True)
    missing = [c for c in NEEDED if c not in table.columns]
    if missing:
        sys.exit(f"extrapolation_nfcore: no column {', '.join(missing)} in the reports")
    if "Workflow" not in table.columns:
        table["Workflow"] = "-"
    if "Machine" in table.columns and table["Machine"].nunique() > 1:
        # a step's times on one machine say nothing of its times on another: each
        # machine's steps are trained apart, as MACHINE:WORKFLOW
        table["Workflow"] = table["Machine"].astype(str) + ":" + table["Workflow"].astype(str)
    table["step"] = table["Workflow"].astype(str) + "/" + table["Task"].astype(str)
    if args.tasks:
        table = table[table["Task"].isin(args.tasks)]
    if args.scatter:
        line_at_largest, between_series = series_scatter(table)
        print(f"the line's MdAPE at each step's 4 largest training runs (in sample): "
              f"{line_at_largest:.1f}%; at the other series' largest run (one line per "
              f"series): {between_series:.1f}%")
        return
    print("| training runs of at most | workflow | steps | full-size runs | model MdAPE % "
          "| line MdAPE % | model - line, 95% interval | the nearer per step, in hindsight |")
    print("|---:|---|---:|---:|---:|---:|---|---:|")
    options = FitOptions(extrapolation=args.extrapolation)
    for cut in args.cuts:
        errors = one_cut(table, cut, options)
        label = "all" if np.isinf(cut) else f"{cut:,.0f} sequences"
        parts = [("all", errors)] + ([(str(w), e) for w, e in errors.groupby("Workflow")]
                                     if errors["Workflow"].nunique() > 1 else [])
        for workflow, part in parts:
            low, high = difference_interval(part)
            model, line = part["model"].median(), part["line"].median()
            print(f"| {label} | {workflow} | {part['step'].nunique()} | {len(part)} "
                  f"| {model:.1f} | {line:.1f} | {model - line:+.1f} [{low:+.1f}, {high:+.1f}] "
                  f"| {hindsight_mdape(part):.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
