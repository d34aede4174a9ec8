"""Issue 19's targets, measured: the work laws against production and against a line.

1. Production: `genscale project dnaseq --pairs 24M --read-length 100 --reference-bases 3.1G
   --threads 8 --cores 96` beside the prototype's measured GRCh38 run (REFERENCE.md: one
   96-core node, 1000 Genomes HG00096), as ratios projected / measured.
2. Held out within the corpus: each step's and the workflow's R² (on the measured scale)
   with every fold of whole datasets predicted by laws fitted without it, across every
   reference length; and, fitted on references at most 1/10 of the largest, the error on
   the largest, against a straight line on the read count fitted on the same rows.
3. How long `genscale project` takes (a fresh process, as a user runs it).

    .venv/bin/python benchmarks/production.py [--corpus datasets/production-v1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genscale.model import scaling
from genscale.model.dataset import model_table
from genscale.model.projection import Question, project, step_plans
from genscale.workflow.shape import reference_readers

ROOT = Path(__file__).resolve().parents[1]
GENSCALE = [sys.executable, "-m", "genscale.cli.main"]
PRODUCTION_ARGS = ["--pairs", "24M", "--read-length", "100", "--reference-bases", "3.1G",
                   "--threads", "8", "--cores", "96"]
# REFERENCE.md: the prototype's run (wall seconds, cores busy, peak GiB); CPU = wall x cores
PRODUCTION = [
    ("bwa_mem", "cpu_time_s", 1965 * 7.7, "1,965 s at ~7.7 cores"),
    ("bwa_mem", "wall_s", 1965.0, "1,965 s"),
    ("bwa_mem", "peak_rss_bytes", 6.8 * 2**30, "6.8 GiB"),
    ("sort", "wall_s", 126.0, "126 s at 8 cores"),
    ("sort", "cpu_time_s", 126.0 * 8, "126 s x 8 cores (at most)"),
    ("mark_duplicates", "wall_s", 942.0, "942 s"),
    ("mark_duplicates", "peak_rss_bytes", 23 * 2**30, "23 GiB (its heap: not ours)"),
    ("wgs_metrics", "wall_s", 858.0, "858 s"),
    ("fastqc_1", "wall_s", 150.0, "~150 s per mate"),
    ("fastqc_2", "wall_s", 150.0, "~150 s per mate"),
]


def production_table(model: Path | None) -> pd.DataFrame:
    extra = ["--model", str(model)] if model else []
    proc = subprocess.run([*GENSCALE, "project", "dnaseq", *PRODUCTION_ARGS, *extra, "--json"],
                          check=True, capture_output=True, text=True)
    steps = {s["step"]: s for s in json.loads(proc.stdout)["steps"]}
    rows = []
    for step, figure, measured, said in PRODUCTION:
        projected = steps[step][figure]
        rows.append({"step": step, "figure": figure, "production": said,
                     "measured": measured, "projected": projected,
                     "p90": steps[step][f"{figure}_p90"],
                     "ratio": projected / measured,
                     "extrapolated": steps[step]["extrapolated"]})
    return pd.DataFrame(rows)


def r2(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2))


def held_out(table: pd.DataFrame, workflow: str) -> pd.DataFrame:
    """Per step (and the workflow): R² of held-out predictions of CPU and wall time."""
    rows = table[(table["workflow"] == workflow) & (table["step"] != "(workflow)")]
    readers = reference_readers(workflow)  # as `genscale model scaling` fits them
    datasets = np.array(sorted(rows["dataset_id"].unique()))
    folds = np.arange(len(datasets)) % scaling.FOLDS
    predicted = []
    plans = step_plans(workflow)
    index_steps = {p.shape.step for p in plans if p.cached}
    for k in range(scaling.FOLDS):
        test = set(datasets[folds == k])
        train = rows[~rows["dataset_id"].isin(test)]
        model = scaling.fit(train, workflow, readers)
        for run_id, run in rows[rows["dataset_id"].isin(test)].groupby("run_id"):
            first = run.iloc[0]
            threads = int(run["threads_requested"].max())
            question = Question(pairs=float(first["fastq_1.reads"]),
                                read_length=float(first["fastq_1.length_mean"]),
                                reference_bases=float(first["reference.bases"]),
                                cores=2, threads=threads)
            projected = project(model, plans, question).set_index("step")
            for _, task in run.iterrows():
                if task["step"] in projected.index:
                    predicted.append({"run_id": run_id, "step": task["step"],
                                      "cpu": task["cpu_time_s"], "wall": task["wall_s"],
                                      "cpu_hat": projected.loc[task["step"], "cpu_time_s"],
                                      "wall_hat": projected.loc[task["step"], "wall_s"]})
            makespan = table[(table["run_id"] == run_id) & (table["step"] == "(workflow)")]
            # the projection leaves index building out (a platform does it once per
            # reference): a run that built its reference's index is no makespan to hold
            # it to (each length's first run)
            if not makespan.empty and not run["step"].isin(index_steps).any():
                whole = projected.loc["(workflow)"]
                predicted.append({"run_id": run_id, "step": "(workflow)",
                                  "cpu": np.nan, "wall": float(makespan["wall_s"].iloc[0]),
                                  "cpu_hat": np.nan, "wall_hat": whole["wall_s"]})
    frame = pd.DataFrame(predicted)
    out = []
    for step, group in frame.groupby("step"):
        wall = group.dropna(subset=["wall", "wall_hat"])
        cpu = group.dropna(subset=["cpu", "cpu_hat"])
        out.append({"step": step, "runs": len(group),
                    "R² wall": r2(wall["wall"].to_numpy(), wall["wall_hat"].to_numpy()),
                    "R² cpu": (r2(cpu["cpu"].to_numpy(), cpu["cpu_hat"].to_numpy())
                               if len(cpu) > 1 else np.nan),
                    "median error wall %": 100 * float(np.median(
                        np.abs(wall["wall_hat"] / wall["wall"] - 1)))})
    return pd.DataFrame(out)


def extrapolation(table: pd.DataFrame, workflow: str) -> pd.DataFrame:
    """Fitted on references at most 1/10 of the largest; errors on the largest."""
    rows = table[(table["workflow"] == workflow) & (table["step"] != "(workflow)")]
    largest = float(rows["reference.bases"].max())
    train = rows[rows["reference.bases"] <= largest / 10]
    test = rows[rows["reference.bases"] == largest]
    if test.empty or train.empty:
        return pd.DataFrame()
    model = scaling.fit(train, workflow, reference_readers(workflow))
    out = []
    for step, group in test.groupby("step"):
        if step not in model["steps"]:
            continue
        demand = model["steps"][step]["demands"]["cpu_time_s"]
        y = group["cpu_time_s"].to_numpy(dtype=float)
        laws = scaling.predict_demand(demand, scaling.Inputs.from_table(group))
        seen = train[train["step"] == step]
        slope, intercept = np.polyfit(seen["fastq_1.reads"], seen["cpu_time_s"], 1)
        line = slope * group["fastq_1.reads"].to_numpy(dtype=float) + intercept
        out.append({"step": step, "runs": len(group),
                    "laws median error %": 100 * float(np.median(np.abs(laws / y - 1))),
                    "line median error %": 100 * float(np.median(np.abs(line / y - 1))),
                    "terms": " + ".join(demand["terms"])})
    return pd.DataFrame(out)


def project_seconds(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([*GENSCALE, "project", "dnaseq", *PRODUCTION_ARGS], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "datasets" / "production-v1")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", type=Path, help="a scaling model file (default: the "
                        "packaged one)")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print("1. Production (REFERENCE.md) against genscale project dnaseq "
          + " ".join(PRODUCTION_ARGS))
    print(production_table(args.model).to_string(index=False,
                                                 float_format=lambda v: f"{v:,.3g}"))
    table = model_table(args.corpus)
    for workflow, rows in table.groupby("workflow", sort=True):
        runs = rows["run_id"].nunique()
        lengths = sorted(rows["reference.bases"].dropna().unique())
        print(f"\n2. {workflow}, held out within {args.corpus.name} ({runs} runs; references "
              f"{', '.join(f'{g:,.0f}' for g in lengths)} bases)")
        print(held_out(table, str(workflow)).to_string(
            index=False, float_format=lambda v: f"{v:.3f}"))
        print("   (workflow): its makespan on 2 cores; the runs that built their reference's "
              "index are left out, as the projection leaves index building out")
        print(f"\n   {workflow}, fitted on references at most 1/10 of the largest; CPU time "
              "on the largest:")
        print(extrapolation(table, str(workflow)).to_string(
            index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\n3. genscale project: {project_seconds(args.repeat):.2f} s (median of "
          f"{args.repeat}, a fresh process each)")


if __name__ == "__main__":
    main()
