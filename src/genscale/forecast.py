"""Predictions for inputs that have not run: what needs both a model bundle and a dataset.

`genscale.model` fits and predicts on tables and runs nothing; `genscale.engine` runs
workflows and loads no model. This module sits above both: it turns a dataset into a
bundle's rows (its pre-run features, and a pilot run of the workflow where the bundle was
trained with pilot times) and gives the workload engine a predictor (`workflow_predictor`)
that it takes as a plain function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.model.bundle import KEY_SEP, group_key, load, predict
from genscale.model.dataset import WORKFLOW_STEP, machine_features, size_features
from genscale.model.estimator import has_pilot
from genscale.monitor.host import host_facts


def dataset_rows(dataset_dir: Path, meta: dict[str, Any]) -> pd.DataFrame:
    """One row per group of the bundle that fits this dataset's kind, holding the
    dataset's pre-run features: every step, and the whole workflow, before anything runs.
    A bundle trained on pilot features gets them from a pilot run of each workflow, here
    (`engine.pilot`: seconds to tens of seconds)."""
    from genscale.quality.table import dataset_features

    dataset = Dataset.load(dataset_dir)
    features: dict[str, Any] = size_features(
        pd.DataFrame([dataset_features(dataset)])).to_dict("records")[0]  # type: ignore[assignment]
    # it will run here: this machine's indicators
    features.update(machine_features(meta["features"], str(host_facts()["cpu_model"])))
    pilots: dict[str, dict[str, float]] = {}

    def pilot(workflow: str) -> dict[str, float]:
        if workflow not in pilots and has_pilot(meta["features"]):
            from genscale.engine.pilot import pilot_features  # runs the workflow: on demand

            pilots[workflow] = pilot_features(workflow, dataset_dir,
                                              int(features.get("fastq_1.reads", 0)))
        return pilots.get(workflow, {})

    rows = _bundle_rows(meta, features, dataset.kind, pilot)
    if rows.empty:
        raise UserError(f"{dataset_dir}: the bundle has no model for a {dataset.kind} dataset")
    return rows


def _bundle_rows(meta: dict[str, Any], features: dict[str, Any], kind: str | None,
                 extra: Callable[[str], dict[str, float]] | None = None,
                 workflow: str | None = None) -> pd.DataFrame:
    """One row per group of the bundle (of `workflow` only, if given) that fits a dataset
    of `kind`, holding `features` (and `extra(workflow)`); every model feature a column."""
    kinds = meta.get("kinds", {})
    rows = []
    for key in meta["rows"]:
        if kind and kinds.get(key) and kind not in kinds[key]:
            continue
        values = dict(zip(meta["by"], key.split(KEY_SEP) if meta["by"] else [], strict=True))
        if workflow is not None and values.get("workflow", workflow) != workflow:
            continue
        more = extra(str(values["workflow"])) if extra and values.get("workflow") else {}
        rows.append({**values, **features, **more})
    frame = pd.DataFrame(rows)
    for column in meta["features"]:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def run_predictions(run_dir: Path, model: Path) -> pd.DataFrame:
    """A run's measured figures per step beside what `model` predicted for its inputs:
    columns `step, target, measured, predicted, p90`. `model` is a bundle directory
    (`genscale model train`: its target, from the run's pre-run features, including a
    pilot's where the run's features.json kept one) or a scaling model file
    (`genscale model scaling`: CPU time, wall time and peak memory, from the run's sizes
    on its host's cores). Measured is the median over the run's succeeded tasks of a step.
    """
    import json

    from genscale.quality.table import run_features
    from genscale.store.rundir import RunDirectory

    run = RunDirectory(run_dir)
    info = run.read_run_info()
    workflow = str((info.get("workflow") or {}).get("name"))
    closed = run_dir / "features.json"
    features = (json.loads(closed.read_text())["features"] if closed.is_file()
                else run_features(run_dir))
    sized: dict[str, Any] = size_features(
        pd.DataFrame([features])).to_dict("records")[0]  # type: ignore[assignment]
    tasks = run.tasks()
    done = tasks[tasks["status"] == "succeeded"]
    if model.is_file():
        predicted = _scaling_predictions(model, workflow, sized, info)
    else:
        predicted = _bundle_predictions(model, workflow, sized, info)
    medians = done.groupby("step")[list(predicted["target"].unique())].median()
    measured = medians.melt(ignore_index=False, var_name="target", value_name="measured")
    measured = measured.reset_index()
    out = measured.merge(predicted, on=["step", "target"], how="inner")
    if out.empty:
        raise UserError(f"{model}: predicts none of the steps of {run_dir} ({workflow})")
    return out[["step", "target", "measured", "predicted", "p90"]]


def _scaling_predictions(model: Path, workflow: str, features: dict[str, Any],
                         info: dict[str, Any]) -> pd.DataFrame:
    from genscale.model.projection import WORKFLOW_ROW, project_workflow

    sizes = {"pairs": features.get("fastq_1.reads"),
             "read_length": features.get("fastq_1.length_mean"),
             "reference_bases": features.get("reference.bases")}
    missing = [k for k, v in sizes.items() if v is None or not np.isfinite(float(v))]
    if missing:
        raise UserError(f"the run's inputs are not known ({', '.join(missing)}): its dataset "
                        "was removed and it has no features.json")
    threads = (info.get("settings") or {}).get("max_threads")
    table = project_workflow(workflow, pairs=float(sizes["pairs"]),  # type: ignore[arg-type]
                             read_length=float(sizes["read_length"]),  # type: ignore[arg-type]
                             reference_bases=float(sizes["reference_bases"]),  # type: ignore[arg-type]
                             cores=int((info.get("host") or {}).get("cores") or 1),
                             threads=threads, model=model)
    table = table[table["step"] != WORKFLOW_ROW]
    return pd.concat([pd.DataFrame({"step": table["step"], "target": target,
                                    "predicted": table[target], "p90": table[f"{target}_p90"]})
                      for target in ("wall_s", "cpu_time_s", "peak_rss_bytes")])


def _bundle_predictions(model: Path, workflow: str, features: dict[str, Any],
                        info: dict[str, Any]) -> pd.DataFrame:
    groups, meta = load(model)
    if "step" not in meta["by"]:
        raise UserError(f"{model}: a bundle by {','.join(meta['by']) or 'nothing'}; the report "
                        "compares steps: train it with --by workflow,step")
    features = {**features, **machine_features(meta["features"],
                                               str((info.get("host") or {}).get("cpu_model")))}
    rows = _bundle_rows(meta, features, None, workflow=workflow)
    if rows.empty:
        raise UserError(f"{model}: no model for the steps of {workflow}")
    target = meta["target"]
    predicted = predict(groups, meta, rows)
    return pd.DataFrame({"step": predicted["step"], "target": target,
                         "predicted": predicted[f"predicted_{target}"],
                         "p90": predicted[f"predicted_{target}_p90"]})


def workflow_predictor(bundle_dir: Path, target: str = "wall_s"
                       ) -> Callable[[Dataset, str], float]:
    """For shortest-predicted-first: a dataset's whole-workflow prediction from a bundle
    trained with `--by workflow,step` on a model table (its `(workflow)` rows)."""
    groups, meta = load(bundle_dir)
    if meta["target"] != target or meta["by"] != ["workflow", "step"]:
        raise UserError(f"{bundle_dir}: expected a bundle of {target} by workflow,step "
                        f"(this one predicts {meta['target']} by {','.join(meta['by'])})")

    # a workload runs the same datasets many times: their features are read once each
    rows_of: dict[Path, pd.DataFrame] = {}

    def predict_s(dataset: Dataset, workflow: str) -> float:
        key = group_key((workflow, WORKFLOW_STEP))
        if key not in groups:
            raise UserError(f"{bundle_dir}: no whole-workflow model for {workflow}")
        if dataset.path not in rows_of:
            rows_of[dataset.path] = dataset_rows(dataset.path, meta)
        rows = rows_of[dataset.path]
        rows = rows[(rows["workflow"] == workflow) & (rows["step"] == WORKFLOW_STEP)]
        return float(predict(groups, meta, rows)[f"predicted_{target}"].iloc[0])

    return predict_s
