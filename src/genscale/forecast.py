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
    features = size_features(pd.DataFrame([dataset_features(dataset)])).to_dict("records")[0]
    # it will run here: this machine's indicators
    features.update(machine_features(meta["features"], str(host_facts()["cpu_model"])))
    kinds = meta.get("kinds", {})
    keys = [key for key in meta["rows"] if not kinds.get(key) or dataset.kind in kinds[key]]
    pilots: dict[str, dict[str, float]] = {}
    rows = []
    for key in keys:
        values = dict(zip(meta["by"], key.split(KEY_SEP) if meta["by"] else [], strict=True))
        workflow = values.get("workflow")
        if workflow and workflow not in pilots and has_pilot(meta["features"]):
            from genscale.engine.pilot import pilot_features  # runs the workflow: on demand

            pilots[workflow] = pilot_features(workflow, dataset_dir,
                                              int(features.get("fastq_1.reads", 0)))
        rows.append({**values, **features, **pilots.get(str(workflow), {})})
    if not rows:
        raise UserError(f"{dataset_dir}: the bundle has no model for a {dataset.kind} dataset")
    frame = pd.DataFrame(rows)
    for column in meta["features"]:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame




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
