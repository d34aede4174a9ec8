"""Pilot runs: the real workflow on a few thousand pairs, as features, and predicting with
a bundle that uses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genscale import forecast
from genscale.data.manifest import Dataset
from genscale.engine.pilot import pilot_features
from genscale.errors import UserError
from genscale.model import bundle
from genscale.model.estimator import (
    FitOptions,
    fit_group,
    pilot_factor,
    pilot_use,
)
from genscale.model.evaluate import extrapolate


def pilot_bundle() -> tuple[dict, dict]:
    """A bundle of STAR's time on the read bases and its pilot's time."""
    rng = np.random.default_rng(2)
    n = 60
    pilot_s = rng.uniform(0.5, 4.0, n)
    read_bases = rng.uniform(2e6, 2e7, n)
    table = pd.DataFrame({"workflow": "rnaseq", "step": "star_align", "kind": "rna",
                          "run_id": [f"r{i}" for i in range(n)], "read_bases": read_bases,
                          "pilot.star_align.wall_s": pilot_s,
                          "wall_s": read_bases / 1e6 * pilot_s * rng.lognormal(0, 0.05, n)})
    spec = bundle.default_spec(table, "wall_s", None, None, None, None, pilot=True)
    assert spec.features == ["read_bases", "pilot.star_align.wall_s"]
    return bundle.train(table, spec, FitOptions(), evaluate=False)


def test_a_pilot_time_scales_the_law_and_carries_it_to_larger_inputs() -> None:
    """STAR-like: time = size x the pilot's time per pair (10x apart between inputs, as
    clean and degraded reads are). Trained on the small inputs, the pilot in the law
    predicts inputs 5x larger; the straight line on size cannot know which are slow."""
    rng = np.random.default_rng(4)
    n = 120
    pilot_s = np.exp(rng.uniform(np.log(0.4), np.log(4.0), n))
    read_bases = np.exp(rng.uniform(np.log(2e6), np.log(2e7), n))
    table = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "read_bases": read_bases,
                          "pilot.star_align.wall_s": pilot_s,
                          "pilot.fastqc_1.wall_s": rng.uniform(2, 3, n),
                          "wall_s": 0.5 + read_bases / 1e6 * pilot_s * rng.lognormal(0, 0.05, n)})
    features = ["read_bases", "pilot.star_align.wall_s", "pilot.fastqc_1.wall_s"]
    assert pilot_factor(table, "wall_s", features) == "pilot.star_align.wall_s"
    result = extrapolate(table, "wall_s", features, "read_bases", FitOptions(), "run_id")
    assert result is not None and result["test_min_size"] >= 5 * result["train_max_size"]
    assert result["model"]["mdape"] < 15 and result["line"]["mdape"] > 40


def test_a_pilot_that_tells_nothing_is_left_out() -> None:
    """A step whose time is its size law alone, beside pilot times that do not follow it
    (as a pilot tells little of bwa mem's time, or misleads where the trim keeps 2% of an
    input's pairs and almost none of the pilot's): trees on the pilot times fit noise, and
    held-out folds choose the model that uses no pilot."""
    rng = np.random.default_rng(5)
    n = 150
    read_bases = np.exp(rng.uniform(np.log(2e6), np.log(2e7), n))
    table = pd.DataFrame({
        "run_id": [f"r{i}" for i in range(n)], "read_bases": read_bases,
        "pilot.bwa_mem.wall_s": rng.lognormal(0, 0.5, n),
        "pilot.makespan_s": rng.lognormal(3, 0.2, n),
        "wall_s": 1.0 + read_bases / 1e6 * 0.3 * rng.lognormal(0, 0.1, n)})
    features = ["read_bases", "pilot.bwa_mem.wall_s", "pilot.makespan_s"]
    state = fit_group(table, "wall_s", features, "read_bases", FitOptions(), table["run_id"])
    assert pilot_use(state, features) == "none"
    assert state["residual_model"] is None or not state["quality_features"]


def test_predicting_with_pilot_features_runs_the_pilot(rna_dataset: Dataset,
                                                       tmp_path: Path) -> None:
    groups, meta = pilot_bundle()
    rows = forecast.dataset_rows(rna_dataset.path, meta)
    [row] = rows.to_dict("records")
    # the real rnaseq workflow ran on about 1 in 10 of the 30,000 pairs
    assert 2700 <= row["pilot.pairs"] <= 3300
    assert 0 < row["pilot.star_align.wall_s"] < row["pilot.makespan_s"]
    assert {"pilot.trim.wall_s", "pilot.star_index.wall_s", "pilot.sort.wall_s"} <= set(row)
    predicted = bundle.predict(groups, meta, rows)["predicted_wall_s"].iloc[0]
    expected = row["read_bases"] / 1e6 * row["pilot.star_align.wall_s"]
    assert predicted == pytest.approx(expected, rel=0.5)


def test_a_pilot_needs_reads(rna_dataset: Dataset) -> None:
    with pytest.raises(UserError, match="no read pairs to run a pilot on"):
        pilot_features("rnaseq", rna_dataset.path, 0)


def test_pilot_features_stay_out_of_the_defaults_unless_asked() -> None:
    table = pd.DataFrame({"run_id": ["a", "b"], "read_bases": [1.0, 2.0],
                          "pilot.trim.wall_s": [1.0, 2.0], "wall_s": [1.0, 2.0]})
    assert bundle.default_spec(table, "wall_s", None, None, None, None).features == [
        "read_bases"]
    with pytest.raises(UserError, match="--pilot: the table has no pilot"):
        bundle.default_spec(table.drop(columns="pilot.trim.wall_s"), "wall_s", None, None,
                            None, None, pilot=True)
