"""A whole workflow's time composed of its steps' predicted times.

A run's makespan is what the engine's dispatch rule (`engine.engine`: ready tasks start in
plan order while their threads fit the cores, and a later one may start where an earlier
one does not fit) makes of its steps' times. Replayed (`makespan_s`) on the measured step
times of corpus-v1's 383 runs, the rule gives their measured makespans to within 0.4% for
19 runs in 20 (R² 0.999999): the makespan is a function of the step times and the cores.

So the whole workflow is predicted through its steps, each with its own size law and
quality learner, rather than by one law on the makespan. One law cannot follow a makespan
whose longest branch changes with the size: on dnaseq, CollectWgsMetrics (a fixed cost of
about 10 s) leads below 100,000 read pairs and bwa mem (linear) above; one law fitted
across both bent towards the small inputs and under-predicted the 1,000,000-pair runs by
25%. Composed, the steps' laws each carry their own share.

What is composed, from the steps' predictions of the same rows:

- the point: the replay of the steps' predictions;
- the typical value for the size: the replay of the steps' typical values (each a law of
  the size and the machine alone, `estimator.typical_log`); the tail is a makespan above
  `tail_k` times it;
- the spread: quantiles of the log residuals of the replayed out-of-fold predictions;
- the tail: a logistic curve on log(composed prediction / composed typical), fitted on
  the same out-of-fold rows with the classes weighted as a step's tail classifier's are;
  a run is called tail where its probability is above the threshold a step's classifier
  would take (`estimator.choose_threshold`: the highest that keeps the out-of-fold recall
  asked for, at most 0.5).

Where the steps' out-of-fold predictions come from the training rows only (`fit_group_oof`
inside each split of `evaluate`), so do the spread and the tail's curve: a composed
workflow's held-out metrics are as held out as a step's.

The replay is only as good as its steps. It is kept where it predicts the workflow's
training rows out of fold better than the workflow's single law on its makespan, as a
group chooses its learner (`chosen`, `log_mse`); seen: with pilot features, STAR's model
was weaker and the rnaseq workflow kept its single law.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.model.estimator import MIN_TAIL_RUNS, QUANTILES, choose_threshold, tail_labels
from genscale.model.evaluate import HeldOut, extrapolation_summary, summarise
from genscale.model.options import FitOptions


@dataclass(frozen=True)
class StepShape:
    """What the dispatch rule needs of a step: its name, what it waits for, its threads."""

    step: str
    deps: tuple[str, ...]
    threads: int


def plan_shape(workflow_ref: str) -> list[StepShape]:
    """The steps of a workflow (a catalog name or a YAML file) in plan order, with their
    dependencies and threads, planned without a dataset or tools."""
    from genscale.workflow.loader import load_workflow
    from genscale.workflow.shape import shape_plan, steps_waited_for

    plan = shape_plan(*load_workflow(workflow_ref))
    waits = steps_waited_for(plan)
    return [StepShape(t.step, waits[t.task_id], t.threads) for t in plan.tasks]


def restrict(shape: list[StepShape], steps: Iterable[str]) -> list[StepShape]:
    """`shape` with only `steps`: the others never ran (skipped: an optional step whose
    tool is missing, and so every step after it), so nothing waited for them."""
    keep = set(steps)
    return [StepShape(s.step, tuple(d for d in s.deps if d in keep), s.threads)
            for s in shape if s.step in keep]


def makespan_s(shape: list[StepShape], durations_s: Mapping[str, float], cores: int) -> float:
    """The makespan the engine's dispatch rule gives steps of these durations on `cores`
    cores (`schedule_s`)."""
    return max((end for _, end in schedule_s(shape, durations_s, cores).values()),
               default=0.0)


def schedule_s(shape: list[StepShape], durations_s: Mapping[str, float], cores: int
               ) -> dict[str, tuple[float, float]]:
    """Each step's (start, end) under the engine's dispatch rule on `cores` cores: in plan
    order, each ready step starts while its threads (at most `cores`) fit what the
    running ones leave; one that does not fit waits and later ones may start; a step
    alone runs whatever its threads."""
    order = {s.step: i for i, s in enumerate(shape)}
    waiting = {s.step: len(s.deps) for s in shape}
    dependents: dict[str, list[str]] = {s.step: [] for s in shape}
    for s in shape:
        for dep in s.deps:
            dependents[dep].append(s.step)
    threads = {s.step: min(max(s.threads, 1), cores) for s in shape}
    ready = [(order[s], s) for s, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    running: list[tuple[float, int, str]] = []
    started: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    used, now = 0, 0.0
    while ready or running:
        deferred = []
        while ready and not (running and used >= cores):
            item = heapq.heappop(ready)
            step = item[1]
            if not running or used + threads[step] <= cores:
                heapq.heappush(running, (now + max(float(durations_s[step]), 0.0),
                                         order[step], step))
                started[step] = now
                used += threads[step]
            else:
                deferred.append(item)
        for item in deferred:
            heapq.heappush(ready, item)
        now, _, done = heapq.heappop(running)
        spans[done] = (started[done], now)
        used -= threads[done]
        for dependent in dependents[done]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (order[dependent], dependent))
    return spans


def makespans_s(shape: list[StepShape], durations_s: pd.DataFrame, cores: int) -> np.ndarray:
    """`makespan_s` of each row of `durations_s` (one column per step of `shape`)."""
    columns = [s.step for s in shape]
    return np.array([makespan_s(shape, dict(zip(columns, row, strict=True)), cores)
                     for row in durations_s[columns].to_numpy(dtype=float)])


def observed_cores(tasks: pd.DataFrame) -> int | None:
    """The cores the runs of `tasks` had, as their tasks used them: the most threads
    (`threads_requested`) running at once in one run (`run_id`, `start_time`,
    `end_time`); None without those columns."""
    needed = {"run_id", "start_time", "end_time", "threads_requested"}
    if not needed <= set(tasks.columns):
        return None
    most = 0
    for _, run in tasks.dropna(subset=list(needed)).groupby("run_id"):
        # ends before starts at the same instant: a step that starts as another ends
        # did not share the cores with it
        events = sorted([(float(t), 1, int(n)) for t, n in
                         zip(run["start_time"], run["threads_requested"], strict=True)]
                        + [(float(t), 0, -int(n)) for t, n in
                           zip(run["end_time"], run["threads_requested"], strict=True)])
        level = 0
        for _, _, change in events:
            level += change
            most = max(most, level)
    return most or None


def fit_composition(y: np.ndarray, predicted: np.ndarray, typical: np.ndarray,
                    options: FitOptions) -> dict[str, Any]:
    """The spread and the tail of a composed workflow, from composed out-of-fold
    predictions (`predicted`) and typical values of runs whose makespan was `y`."""
    log_y = np.log(np.clip(y, 1e-9, None))
    residuals = log_y - np.log(predicted)
    quantiles = {str(q): float(np.quantile(residuals, q)) for q in QUANTILES}
    labels = tail_labels(log_y, np.log(typical), options.tail_k)
    tail: dict[str, Any] = {"positives": int(labels.sum()), "coef": None, "intercept": None,
                            "threshold": None}
    if MIN_TAIL_RUNS <= labels.sum() <= len(labels) - MIN_TAIL_RUNS:
        score = np.log(predicted / typical)[:, None]
        # weighted as a step's tail classifier is, and called by the same rule, the bar
        # sits where the few tail runs and the many others balance: below k times the
        # typical value when the tail runs are predicted short of it (seen on dnaseq: runs
        # whose reads are all trimmed away, predicted at 1.46x their typical makespan and
        # run at 2.3x, which 0.8.0's bar of at most 1.5x missed). The penalty is light
        # because the log ratios span a few tenths: the default (C=1) flattened the curve
        # until runs at 1.25x their typical makespan were called tail (19 of 232 in
        # tests/test_compose.py; none with C=100).
        from sklearn.linear_model import LogisticRegression  # fitting only: see estimator

        curve = LogisticRegression(class_weight="balanced", C=100.0).fit(score, labels)
        tail.update(coef=float(curve.coef_[0, 0]), intercept=float(curve.intercept_[0]),
                    threshold=choose_threshold(labels, curve.predict_proba(score)[:, 1],
                                               options.tail_recall))
    return {"quantiles": quantiles, "tail": tail}


def predict_composition(composition: dict[str, Any], predicted: np.ndarray,
                        typical: np.ndarray) -> pd.DataFrame:
    """What `estimator.predict_group` gives a step, for composed predictions."""
    out = pd.DataFrame({"predicted": predicted})
    for q, shift in composition["quantiles"].items():
        out[f"p{round(float(q) * 100)}"] = predicted * np.exp(shift)
    tail = composition["tail"]
    if tail["coef"] is None:
        out["tail_probability"], out["tail"] = np.nan, 0
    else:
        score = np.log(predicted / typical)
        probability = 1.0 / (1.0 + np.exp(-(tail["coef"] * score + tail["intercept"])))
        out["tail_probability"] = probability
        if "threshold" in tail:
            out["tail"] = (probability >= tail["threshold"]).astype(int)
        else:  # bundles of 0.8 and 0.9 set a bar on the log ratio itself
            out["tail"] = (score >= tail["log_ratio_threshold"]).astype(int)
    return out


def shape_record(shape: list[StepShape], cores: int) -> dict[str, Any]:
    """The shape as plain JSON-able values (what a bundle keeps)."""
    return {"cores": cores, "steps": [{**asdict(s), "deps": list(s.deps)} for s in shape]}


def shape_of(record: dict[str, Any]) -> tuple[list[StepShape], int]:
    return ([StepShape(s["step"], tuple(s["deps"]), int(s["threads"]))
             for s in record["steps"]], int(record["cores"]))


def workflow_shape(workflow_ref: str, steps: Iterable[str]) -> list[StepShape] | None:
    """The shape of `workflow_ref` restricted to `steps`, or None when it is not a
    workflow GenScale can plan (an imported trace's) or lacks one of `steps`."""
    try:
        shape = plan_shape(workflow_ref)
    except UserError:
        return None
    steps = set(steps)
    if not steps <= {s.step for s in shape}:
        return None
    return restrict(shape, steps)


@dataclass
class GroupEvidence:
    """A group's rows and its predictions of them, split by split: what a workflow
    composed of its steps is fitted and measured from, on the very same splits.

    - `frame`: the group's rows (with `run_id`);
    - `full`: `y`, `model` (out-of-fold inside the whole group) and `typical` of every row;
    - `cv`, `extrapolation`: the splits of `evaluate` (`HeldOut`), when it ran.
    """

    frame: pd.DataFrame
    full: pd.DataFrame
    cv: list[HeldOut] = field(default_factory=list)
    extrapolation: HeldOut | None = None


def _by_run(evidence: GroupEvidence, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.set_index(evidence.frame.loc[rows.index, "run_id"].to_numpy())


class _Composer:
    """Replays the steps' predictions of the workflow's rows, split by split."""

    def __init__(self, workflow: GroupEvidence, steps: dict[str, GroupEvidence],
                 shape: list[StepShape], cores: int, options: FitOptions) -> None:
        self.workflow, self.steps, self.shape, self.cores = workflow, steps, shape, cores
        self.options = options

    def replay(self, wf_rows: pd.DataFrame, step_rows: dict[str, pd.DataFrame]
               ) -> tuple[np.ndarray, np.ndarray] | None:
        """(composed predictions, composed typical values) of `wf_rows`; None when a
        step lacks one of their runs there (the splits are not the same)."""
        runs = self.workflow.frame.loc[wf_rows.index, "run_id"].to_numpy()
        out = []
        for column in ("model", "typical"):
            table = pd.DataFrame({step: _by_run(self.steps[step], rows)[column]
                                  .reindex(runs).to_numpy()
                                  for step, rows in step_rows.items()})
            if table.isna().to_numpy().any():
                return None
            out.append(makespans_s(self.shape, table, self.cores))
        return out[0], out[1]

    def fit(self, wf_train: pd.DataFrame, step_train: dict[str, pd.DataFrame]
            ) -> dict[str, Any] | None:
        """The composition fitted on training rows, with `log_mse`: how well the replay
        and the workflow's single law predicted those rows out of fold (`chosen`, the
        better of the two, as a group chooses its learner); None where it cannot be
        replayed."""
        replayed = self.replay(wf_train, step_train)
        if replayed is None:
            return None
        y = wf_train["y"].to_numpy()
        errors = {"composed": _log_mse(y, replayed[0]),
                  "single_law": _log_mse(y, wf_train["model"].to_numpy())}
        return {**fit_composition(y, *replayed, self.options), "log_mse": errors,
                "chosen": errors["composed"] <= errors["single_law"]}

    def held_out(self, wf: HeldOut, steps: dict[str, HeldOut]
                 ) -> tuple[HeldOut, bool] | None:
        """The workflow's split as the model chosen on its training rows predicts it:
        its model's columns replaced by the composed ones where the replay was chosen
        (True), else the single law's, as they are (False)."""
        composition = self.fit(wf.train, {s: h.train for s, h in steps.items()})
        replayed = self.replay(wf.test, {s: h.test for s, h in steps.items()})
        if composition is None or replayed is None:
            return None
        if not composition["chosen"]:
            return wf, False
        predicted, typical = replayed
        out = predict_composition(composition, predicted, typical)
        test = wf.test.copy()
        log_y = np.log(np.clip(test["y"].to_numpy(), 1e-9, None))
        test["model"], test["typical"] = predicted, typical
        test["p90"], test["p99"] = out["p90"].to_numpy(), out["p99"].to_numpy()
        test["tail_label"] = tail_labels(log_y, np.log(typical), self.options.tail_k)
        test["tail_probability"] = out["tail_probability"].to_numpy()
        test["tail_call"] = out["tail"].to_numpy()
        return HeldOut(test, wf.train), True


def _log_mse(y: np.ndarray, predicted: np.ndarray) -> float:
    known = np.isfinite(predicted) & (predicted > 0)
    if not known.any():
        return float("inf")
    return float(np.mean((np.log(np.clip(y[known], 1e-9, None)) - np.log(predicted[known]))
                         ** 2))


def compose_workflow(workflow: GroupEvidence, steps: dict[str, GroupEvidence],
                     shape: list[StepShape], cores: int, options: FitOptions,
                     size: str | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the composition, with `chosen`: whether it predicted the workflow's rows out of
    fold better than the single law; the held-out metrics of that choice, made inside
    each split's training rows, as `evaluate` gives a step's, with `composed_splits`),
    or None when the steps' rows or splits do not cover the workflow's runs."""
    composer = _Composer(workflow, steps, shape, cores, options)
    composition = composer.fit(workflow.full, {s: e.full for s, e in steps.items()})
    if composition is None or any(len(e.cv) != len(workflow.cv) for e in steps.values()):
        return None
    metrics: dict[str, Any] = {}
    splits = [composer.held_out(split, {s: e.cv[k] for s, e in steps.items()})
              for k, split in enumerate(workflow.cv)]
    if splits:
        if any(s is None for s in splits):
            return None
        done = [s for s in splits if s is not None]
        metrics["cross_validation"] = summarise([s.test for s, _ in done])
        metrics["composed_splits"] = f"{sum(c for _, c in done)} of {len(done)}"
    if workflow.extrapolation is not None and size is not None:
        if any(e.extrapolation is None for e in steps.values()):
            return None
        split = composer.held_out(workflow.extrapolation,
                                  {s: e.extrapolation for s, e in steps.items()
                                   if e.extrapolation is not None})
        if split is None:
            return None
        metrics["extrapolation"] = extrapolation_summary(split[0], workflow.frame, size)
        metrics["extrapolation"]["composed"] = split[1]
    return {**shape_record(shape, cores), **composition}, metrics
