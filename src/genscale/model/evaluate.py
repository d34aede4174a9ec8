"""Metrics, baselines, grouped cross-validation and the size-extrapolation test.

Every number is measured on rows the model did not train on:

- grouped cross-validation: folds by a group column (by default `dataset_id`, else
  `run_id`, so no sample, and no run of the same input, is in both train and test), the
  model refitted on each training part;
- extrapolation: trained on the inputs up to a size, tested on inputs at least `factor`
  times larger than any it saw.

Beside the model, in the same table: a straight line on the input size (the Lotaru-style
estimator) and the training median. For the tail: precision, recall and AUC.

And what no model of the input can do better than: where the same input ran more than once
on the same machine, how much its runs differ (`repeat_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genscale.model.estimator import (
    FitOptions,
    fit_group_oof,
    grouped_folds,
    predict_group,
    tail_labels,
    typical_log,
)

METHODS = ("model", "line", "median")


def point_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """R², MdAPE and MAPE (percent) of `predicted` against `y`."""
    # scikit-learn where a model is fitted or evaluated, not where a bundle predicts
    from sklearn.metrics import r2_score

    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    ape = np.abs(predicted - y) / np.abs(y) * 100
    return {"r2": float(r2_score(y, predicted)) if len(y) > 1 else float("nan"),
            "mdape": float(np.median(ape)), "mape": float(np.mean(ape)), "n": len(y)}


def tail_metrics(labels: np.ndarray, probability: np.ndarray,
                 called: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    labels = np.asarray(labels, dtype=int)
    out = {"positives": int(labels.sum()), "n": len(labels)}
    if labels.sum() == 0 or np.isnan(probability).all():
        return {**out, "precision": float("nan"), "recall": float("nan"),
                "auc": float("nan")}
    both = len(np.unique(labels)) == 2
    return {**out,
            "precision": float(precision_score(labels, called, zero_division=0)),
            "recall": float(recall_score(labels, called, zero_division=0)),
            "auc": float(roc_auc_score(labels, np.nan_to_num(probability))) if both
            else float("nan")}


def repeat_noise(frame: pd.DataFrame, target: str, group: str | None,
                 machine: str = "cpu_model") -> dict[str, Any] | None:
    """How much runs of the same input (rows sharing `group`, and `machine` when the table
    has it) differ; None when no input ran twice.

    - `run_to_run_sd_percent`: the pooled standard deviation of log(target) within an
      input, in percent (about the coefficient of variation);
    - `r2_ceiling`: 1 - pooled within-input variance / the variance of all rows: the R² of
      a model that knew each input's mean exactly, if every input varied as the repeated
      ones do.
    """
    if group is None:
        return None
    y = pd.to_numeric(frame[target], errors="coerce")
    ok = y > 0
    keys = [group, machine] if machine in frame.columns else [group]
    data = frame.loc[ok, keys].assign(y=y[ok], log_y=np.log(y[ok]))
    repeated = data[data.groupby(keys, dropna=False)["y"].transform("size") >= 2]
    if repeated.empty or y[ok].var() <= 0:
        return None
    by = repeated.groupby(keys, dropna=False)
    df = int((by.size() - 1).sum())
    within = float(((repeated["y"] - by["y"].transform("mean")) ** 2).sum()) / df
    within_log = float(((repeated["log_y"] - by["log_y"].transform("mean")) ** 2).sum()) / df
    return {"inputs": int(by.ngroups), "runs": len(repeated),
            "run_to_run_sd_percent": 100 * float(np.sqrt(within_log)),
            "within_sd": float(np.sqrt(within)),
            "r2_ceiling": 1 - within / float(y[ok].var())}


def fit_baselines(frame: pd.DataFrame, target: str, size: str | None) -> dict[str, Any]:
    """The straight line on the size and the median, fitted on `frame`."""
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    line = [float(np.median(y)), 0.0]
    if size is not None:
        x = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(x)
        if ok.sum() >= 2 and np.ptp(x[ok]) > 0:
            from sklearn.linear_model import LinearRegression

            fitted = LinearRegression().fit(x[ok, None], y[ok])
            line = [float(fitted.intercept_), float(fitted.coef_[0])]
    return {"line": line, "median": float(np.median(y))}


def predict_baselines(baselines: dict[str, Any], frame: pd.DataFrame,
                      size: str | None) -> dict[str, np.ndarray]:
    a, b = baselines["line"]
    x = (pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
         if size is not None else np.zeros(len(frame)))
    return {"line": a + b * np.nan_to_num(x), "median": np.full(len(frame),
                                                                baselines["median"])}


@dataclass
class HeldOut:
    """One split, row by row (indexed as the frame it came from).

    - `test`: the held-out rows: `y`, each method's prediction (`model`, `line`,
      `median`), `p90`, `p99`, `typical` (`estimator.typical_log`) and the tail
      (`tail_label`, `tail_probability`, `tail_call`);
    - `train`: the training rows: `y`, `model` (their out-of-fold prediction inside the
      training part) and `typical`: what a workflow composed of its steps
      (`model.compose`) learns its spread and tail from, on the same split.
    """

    test: pd.DataFrame
    train: pd.DataFrame


def _held_out(train: pd.DataFrame, test: pd.DataFrame, target: str, features: list[str],
              size: str | None, options: FitOptions, group: str | None) -> HeldOut:
    """Fit on `train`, predict `test`: every method, the quantiles and the tail."""
    state, oof_log = fit_group_oof(train, target, features, size, options,
                                   train[group] if group else None)
    predicted = predict_group(state, test, features, size)
    baselines = predict_baselines(fit_baselines(train, target, size), test, size)
    y = pd.to_numeric(test[target], errors="coerce").to_numpy(dtype=float)
    typical = typical_log(state, test, size)
    rows = pd.DataFrame({
        "y": y, "model": predicted["predicted"].to_numpy(), **baselines,
        "p90": predicted["p90"].to_numpy(), "p99": predicted["p99"].to_numpy(),
        "typical": np.exp(typical),
        "tail_label": tail_labels(np.log(np.clip(y, 1e-9, None)), typical, options.tail_k),
        "tail_probability": predicted["tail_probability"].to_numpy(),
        "tail_call": predicted["tail"].to_numpy()}, index=test.index)
    trained = pd.DataFrame({
        "y": pd.to_numeric(train[target], errors="coerce").to_numpy(dtype=float),
        "model": np.exp(oof_log),
        "typical": np.exp(typical_log(state, train, size))}, index=train.index)
    return HeldOut(rows, trained)


def summarise(tests: list[pd.DataFrame]) -> dict[str, Any]:
    """The metrics of held-out rows (`HeldOut.test`, one frame per split)."""
    merged = pd.concat(tests)
    y = merged["y"].to_numpy()
    out: dict[str, Any] = {m: point_metrics(y, merged[m].to_numpy()) for m in METHODS}
    out["coverage"] = {"p90": float(np.mean(y <= merged["p90"].to_numpy())),
                       "p99": float(np.mean(y <= merged["p99"].to_numpy()))}
    out["tail"] = tail_metrics(merged["tail_label"].to_numpy(),
                               merged["tail_probability"].to_numpy(dtype=float),
                               merged["tail_call"].to_numpy())
    return out


def cross_validation_splits(frame: pd.DataFrame, target: str, features: list[str],
                            size: str | None, options: FitOptions, group: str | None
                            ) -> list[HeldOut]:
    """Grouped k-fold, split by split (none when there are too few groups to split)."""
    folds = grouped_folds(frame, frame[group] if group else None, options)
    return [_held_out(frame.iloc[train], frame.iloc[test], target, features, size,
                      options, group) for train, test in folds]


def cross_validate(frame: pd.DataFrame, target: str, features: list[str], size: str | None,
                   options: FitOptions, group: str | None) -> dict[str, Any] | None:
    """Grouped k-fold: the metrics of every method on the held-out folds together."""
    splits = cross_validation_splits(frame, target, features, size, options, group)
    return summarise([s.test for s in splits]) if splits else None


def extrapolation_split(sizes: pd.Series, factor: float = 5.0,
                        min_test: int | None = None) -> float | None:
    """The largest training size t such that at least `min_test` rows are >= factor * t
    (train: size <= t); None if there is none. `min_test` defaults to a tenth of the rows
    (at least 5), so that the test is the larger inputs, not a few odd ones past the cut:
    on a design of sizes 10x apart the largest t with 5 rows beyond 5t was seen to leave
    only 7 pathological datasets (inflated by their extra reads) to test on."""
    if min_test is None:
        min_test = max(5, int(np.ceil(0.1 * len(sizes))))
    values = np.sort(pd.to_numeric(sizes, errors="coerce").dropna().unique())
    best = None
    for t in values:
        if (sizes >= factor * t).sum() >= min_test and (sizes <= t).sum() >= 10:
            best = float(t)
    return best


def extrapolation_held_out(frame: pd.DataFrame, target: str, features: list[str], size: str,
                           options: FitOptions, group: str | None, factor: float = 5.0,
                           cut: float | None = None) -> HeldOut | None:
    """Trained on the inputs up to `cut` (by default `extrapolation_split`'s), tested on
    inputs at least `factor` times larger; None when the sizes do not span that much."""
    sizes = pd.to_numeric(frame[size], errors="coerce")
    cut = extrapolation_split(sizes, factor) if cut is None else cut
    if cut is None or not (sizes <= cut).any() or not (sizes >= factor * cut).any():
        return None
    return _held_out(frame[sizes <= cut], frame[sizes >= factor * cut], target, features,
                     size, options, group)


def extrapolation_summary(split: HeldOut, frame: pd.DataFrame, size: str) -> dict[str, Any]:
    """The metrics of an extrapolation split, with the sizes it trained and tested on."""
    sizes = pd.to_numeric(frame[size], errors="coerce")
    result = summarise([split.test])
    result["train_max_size"] = float(sizes[split.train.index].max())
    result["test_min_size"] = float(sizes[split.test.index].min())
    result["n_train"] = len(split.train)
    return result


def extrapolate(frame: pd.DataFrame, target: str, features: list[str], size: str,
                options: FitOptions, group: str | None, factor: float = 5.0,
                cut: float | None = None) -> dict[str, Any] | None:
    """Train on the small inputs (up to `cut`, see `extrapolation_held_out`), test on
    inputs at least `factor` times larger."""
    split = extrapolation_held_out(frame, target, features, size, options, group, factor,
                                   cut)
    return None if split is None else extrapolation_summary(split, frame, size)
