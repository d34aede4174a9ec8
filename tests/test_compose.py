"""A workflow composed of its steps: the dispatch rule's replay, the shape, the bundle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genscale.model import bundle
from genscale.model.compose import (
    GroupEvidence,
    StepShape,
    compose_workflow,
    fit_composition,
    makespan_s,
    makespans_s,
    observed_cores,
    plan_shape,
    predict_composition,
    restrict,
)
from genscale.model.dataset import WORKFLOW_STEP, model_table
from genscale.model.estimator import FitOptions
from genscale.model.evaluate import HeldOut
from genscale.store.rundir import RunDirectory

from .conftest import ROOT

pytestmark = pytest.mark.slow  # trains bundles on corpus runs and replays a fresh run (80 s)

CORPUS = ROOT / "datasets" / "corpus-v1"


def test_the_shape_is_planned_without_a_dataset_or_tools() -> None:
    shape = {s.step: s for s in plan_shape("dnaseq")}
    assert set(shape["bwa_mem"].deps) == {"faidx", "bwa_index", "trim"}
    assert shape["bwa_mem"].threads == 2 and shape["fastqc_1"].deps == ()
    # the optional GATK steps are in the plan; a restriction drops them and what they hold
    assert "base_recalibrator" in shape
    kept = restrict(list(shape.values()), ["trim", "bwa_mem"])
    assert [(s.step, s.deps) for s in kept] == [("trim", ()), ("bwa_mem", ("trim",))]


def _measured_makespans(tasks: pd.DataFrame, workflow: str) -> pd.DataFrame:
    """Each run's measured makespan and the dispatch rule's replay of its step times."""
    shape = plan_shape(workflow)
    cores = observed_cores(tasks)
    assert cores is not None
    rows = []
    for run_id, run in tasks[tasks["status"] == "succeeded"].groupby("run_id"):
        ran = restrict(shape, run["step"])
        replayed = makespan_s(ran, dict(zip(run["step"], run["wall_s"], strict=True)), cores)
        span = float(run["end_time"].max() - run["start_time"].min())
        rows.append((run_id, span, replayed))
    return pd.DataFrame(rows, columns=["run_id", "measured", "replayed"])


@pytest.mark.parametrize("workflow", ["dnaseq", "rnaseq"])
def test_the_replay_of_the_corpus_step_times_gives_its_makespans(workflow: str) -> None:
    """The claim `model.compose` rests on, over every committed run: the makespan is the
    dispatch rule applied to the step times on the cores the runs had."""
    tasks = pd.read_csv(CORPUS / "tasks.csv", low_memory=False)
    tasks = tasks[tasks["workflow"] == workflow]
    assert observed_cores(tasks) == 2  # both machines of the corpus had two
    runs = _measured_makespans(tasks, workflow)
    error = (runs["replayed"] / runs["measured"] - 1).abs()
    assert len(runs) >= 100
    assert error.quantile(0.95) < 0.01 and error.max() < 0.05


def test_the_replay_of_a_fresh_run_gives_its_makespan(dnaseq_run: RunDirectory) -> None:
    """The same on a run made here, now, on this machine's cores."""
    tasks = dnaseq_run.tasks()
    cores = observed_cores(tasks)
    assert cores is not None and 2 <= cores <= (os.cpu_count() or 2)
    run = _measured_makespans(tasks, "dnaseq").iloc[0]
    # each hand-over between steps costs the engine a poll; a few, at most, lie on the path
    assert run["replayed"] == pytest.approx(run["measured"], rel=0.05, abs=0.5)


@st.composite
def shapes(draw: st.DrawFn) -> tuple[list[StepShape], dict[str, float], int]:
    n = draw(st.integers(1, 8))
    steps = []
    for i in range(n):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        steps.append(StepShape(f"s{i}", tuple(f"s{d}" for d in sorted(deps)),
                               draw(st.integers(1, 4))))
    durations = {s.step: draw(st.floats(0.0, 100.0)) for s in steps}
    return steps, durations, draw(st.integers(1, 4))


@given(shapes())
@settings(max_examples=200, deadline=None)
def test_a_replayed_makespan_lies_between_the_longest_path_and_the_sum(
        case: tuple[list[StepShape], dict[str, float], int]) -> None:
    steps, durations, cores = case
    finish: dict[str, float] = {}
    for s in steps:  # in plan order, dependencies first
        finish[s.step] = durations[s.step] + max((finish[d] for d in s.deps), default=0.0)
    total = sum(durations.values())
    span = makespan_s(steps, durations, cores)
    assert max(finish.values()) - 1e-9 <= span <= total + 1e-9
    work = sum(durations[s.step] * min(s.threads, cores) for s in steps)
    assert span >= work / cores - 1e-9  # the cores cannot do more than they have
    if cores == 1:
        assert span == pytest.approx(total)


def test_makespans_of_rows_are_those_of_each_row() -> None:
    steps = [StepShape("a", (), 1), StepShape("b", (), 1), StepShape("c", ("a", "b"), 2)]
    table = pd.DataFrame({"c": [1.0, 2.0], "a": [3.0, 1.0], "b": [2.0, 5.0]})
    assert makespans_s(steps, table, 2).tolist() == [4.0, 7.0]
    assert makespans_s(steps, table, 1).tolist() == [6.0, 8.0]


@pytest.fixture(scope="module")
def small_corpus_bundle() -> tuple[dict, dict, pd.DataFrame]:
    """A bundle trained on the committed corpus's smallest rnaseq runs."""
    table = model_table(CORPUS)
    table = table[(table["workflow"] == "rnaseq") & (table["pairs"] <= 20_000)
                  & (table["background_cores"] < 0.1)].reset_index(drop=True)
    spec = bundle.default_spec(table, "wall_s", None, None, None, None)
    groups, meta = bundle.train(table, spec, FitOptions(folds=3))
    return groups, meta, table


def test_a_trained_workflow_is_the_replay_of_its_steps(
        small_corpus_bundle: tuple[dict, dict, pd.DataFrame], tmp_path: Path) -> None:
    groups, meta, table = small_corpus_bundle
    key = f"rnaseq | {WORKFLOW_STEP}"
    assert meta["not_composed"] == {}
    assert meta["fits"][key]["composed"]["cores"] == 2
    metrics = meta["metrics"][key]
    assert metrics["cross_validation"]["model"]["n"] == (table["step"] == WORKFLOW_STEP).sum()
    assert metrics["single_law"]["cross_validation"]["model"]["r2"] is not None

    # the whole workflow's prediction is its steps' predictions of the same run, replayed
    bundle.save(tmp_path / "b", groups, meta)
    groups, meta = bundle.load(tmp_path / "b")
    whole = table[table["step"] == WORKFLOW_STEP].head(4)
    predicted = bundle.predict(groups, meta, whole)["predicted_wall_s"].to_numpy()
    shape = restrict(plan_shape("rnaseq"), meta["fits"][key]["composed"]["steps"])
    for i, (_, row) in enumerate(whole.iterrows()):
        steps = pd.DataFrame([row] * len(shape)).reset_index(drop=True).assign(
            step=[s.step for s in shape])
        each = bundle.predict(groups, meta, steps)["predicted_wall_s"].to_numpy()
        assert predicted[i] == pytest.approx(
            makespan_s(shape, dict(zip(steps["step"], each, strict=True)), 2))
    out = bundle.predict(groups, meta, whole)
    assert (out["predicted_wall_s_p99"] >= out["predicted_wall_s_p90"]).all()
    assert np.isfinite(out["tail_probability"]).all()


def test_a_workflow_genscale_cannot_plan_keeps_its_single_law() -> None:
    """An imported pipeline's workflow rows are fitted as any group, and model.json says
    why they were not composed."""
    rng = np.random.default_rng(0)
    rows = []
    for step in ("align", "sort", WORKFLOW_STEP):
        size = np.exp(rng.uniform(np.log(1e6), np.log(1e8), 30))
        rows.append(pd.DataFrame({"workflow": "nf-core-sarek", "step": step,
                                  "run_id": [f"r{i}" for i in range(30)], "input_bytes": size,
                                  "wall_s": 1e-5 * size * rng.uniform(0.9, 1.1, 30)}))
    table = pd.concat(rows, ignore_index=True)
    spec = bundle.default_spec(table, "wall_s", ["input_bytes"], None, "run_id", None)
    groups, meta = bundle.train(table, spec, FitOptions(folds=3), evaluate=False)
    assert "nf-core-sarek" in meta["not_composed"]
    assert "composed" not in groups[f"nf-core-sarek | {WORKFLOW_STEP}"]
    predicted = bundle.predict(groups, meta, table)["predicted_wall_s"]
    assert predicted.notna().all()


def _evidence(runs: list[str], y: np.ndarray, model: np.ndarray) -> GroupEvidence:
    frame = pd.DataFrame({"run_id": runs, "read_bases": np.arange(1, len(runs) + 1) * 1e6})
    rows = pd.DataFrame({"y": y, "model": model, "typical": model}, index=frame.index)
    half = len(runs) // 2
    split = HeldOut(rows.iloc[half:].assign(line=1.0, median=1.0, p90=1.0, p99=1.0,
                                            tail_label=0, tail_probability=np.nan,
                                            tail_call=0), rows.iloc[:half])
    return GroupEvidence(frame, rows, cv=[split])


@pytest.mark.parametrize("steps_predict_well", [True, False])
def test_the_replay_is_kept_only_where_it_predicts_better_than_the_single_law(
        steps_predict_well: bool) -> None:
    """Chosen inside the training rows, as a group's learner is: out-of-fold errors of
    the replay against those of the workflow's single law."""
    rng = np.random.default_rng(1)
    runs = [f"r{i}" for i in range(40)]
    a, b = rng.uniform(1, 10, 40), rng.uniform(1, 10, 40)
    makespan = a + b  # one core: the steps run one after the other
    noise = 1.0 if steps_predict_well else rng.uniform(0.3, 3.0, 40)
    steps = {"a": _evidence(runs, a, a * noise), "b": _evidence(runs, b, b)}
    single = _evidence(runs, makespan, makespan * rng.uniform(0.9, 1.1, 40))
    shape = [StepShape("a", (), 1), StepShape("b", ("a",), 1)]
    composed = compose_workflow(single, steps, shape, 1, FitOptions(), None)
    assert composed is not None
    composition, metrics = composed
    assert composition["chosen"] is steps_predict_well
    assert metrics["composed_splits"] == ("1 of 1" if steps_predict_well else "0 of 1")
    held_out = metrics["cross_validation"]["model"]
    if steps_predict_well:  # the replay of perfect step predictions is the makespan
        assert held_out["mdape"] == pytest.approx(0.0, abs=1e-9)
    else:  # the single law's own held-out predictions, untouched
        truth = single.cv[0].test
        assert held_out["mape"] == pytest.approx(
            float((abs(truth["model"] - truth["y"]) / truth["y"]).mean() * 100))


def test_a_composed_tail_predicted_short_of_k_times_typical_is_still_called() -> None:
    """Tail runs predicted at 1.4x their typical makespan and run at 2x or more (dnaseq's
    inputs whose reads are all trimmed away): the weighted curve's call catches them,
    and not the runs predicted near their typical value."""
    rng = np.random.default_rng(3)
    n = 240
    typical = rng.uniform(10, 100, n)
    tail = np.arange(n) < 8
    predicted = typical * np.where(tail, rng.uniform(1.38, 1.45, n), rng.uniform(0.8, 1.25, n))
    y = typical * np.where(tail, rng.uniform(2.0, 2.4, n), rng.uniform(0.8, 1.3, n))
    composition = fit_composition(y, predicted, typical, FitOptions(tail_k=1.5))
    assert composition["tail"]["positives"] == 8
    out = predict_composition(composition, predicted, typical)
    assert out["tail"].to_numpy()[tail].all()
    assert out["tail"].to_numpy()[~tail].sum() <= 2
    assert (out["tail_probability"].to_numpy()[tail] > 0.5).all()
