"""One group's model: a size-scaling law, quality as a multiplier on it, quantiles, a tail.

    target = (c0 + c1 * size^b) * exp(m . machine)
                                             the law: a fixed cost plus a power of the size,
                                             fitted on the log scale (robust soft-L1 loss),
                                             b drawn towards 1 unless the data insist, times
                                             a factor per machine the rows ran on
    log(target) = log(law) + g(quality, log size)
                                             gradient-boosted trees on what the law leaves,
                                             or a ridge line on the quality features

The machine factors come from 0/1 columns named `machine.*` (`LAW_FACTOR_PREFIX`): where
a corpus spans machines, the same step took up to 1.6x longer on one than on the other, and
a law fitted across an unbalanced mix of them bends its slope (seen: a slope 80% too steep
when the larger inputs had run more often on the slower machine).

The trees see the intensive features (those not rising with size: Spearman's rho with the
size under 0.9 on the training rows) and the log size, so quality may act differently at
different sizes. Beyond the largest training input the trees hold their last correction
while the law carries the scale: a prediction for an input 5x larger than any seen follows
the law. Tree ensembles on the target itself would stay flat there.

Trees need rows: on a few dozen runs whose quality acts smoothly (STAR's time per read
rises steadily with the expected errors of the reads it is given) a ridge line on the same
standardised features, without the size, predicts the held-out folds better (seen: STAR's
R² 0.66 with trees, 0.82 with the line, on 60 runs). Each group takes whichever of the two
(and, where it ran on several machines, the machine factors in the law or in the trees)
predicts its held-out folds better, measured inside the training rows only.

Where the features include pilot times (`pilot.*`, see `engine.pilot`: the workflow run on
a few thousand of the input's pairs), the one that follows the target best may scale the
law as a machine does, by a power of it (`pilot_factor`); the law then carries what the
pilot measured to inputs of any size. Held-out folds decide, as for the machine, whether
it goes there or to the learner.

Past the largest training size (`FitOptions.extrapolation`), "linear" (`fit_beyond`)
keeps a prediction's growth at least the law's tangent there and moves it towards the
straight line on the times, as runs of minutes to hours grow (nf-core's, measured in
docs/extrapolation.md); "law" lets the law carry it alone, as runs of seconds grow whose
cost per read still falls past the sizes trained on (this project's corpus, on a 1 Mb
reference). Nothing in a group's own runs told the two apart, so the user says which.

Quantiles come from the out-of-fold residuals (on the log scale) of the whole model,
added to its prediction. The tail is "above `tail_k` times the typical value for its
size" (on its machine: a law of the size and the machine alone, `fit_typical`). A
classifier predicts it, and its threshold is the highest whose out-of-fold recall is at
least `tail_recall`.

A fitted group is a dict of plain numbers, lists and arrays: its boosted trees are kept in
their plain form (`model.trees`) once fitted, so a bundle is data, never code. scikit-learn
and SciPy are imported by the functions that fit, not by prediction: `model predict` on a
saved bundle needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genscale.model import trees
from genscale.model.dataset import PILOT_PREFIX
from genscale.model.options import FitOptions

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

QUANTILES = (0.5, 0.9, 0.99)


def one_thread() -> threadpool_limits:
    """One thread per fit: on a few hundred rows OpenMP's start-up and spinning cost more
    than the fit (measured 10-20x slower on 2 busy cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)

EXTENSIVE_RHO = 0.9
LAW_PRIOR = 0.1  # weight of (b - 1) against the log residuals, per sqrt(row)
# weight of each machine factor: only enough to split the shift between the machines
# uniquely (a row of no known machine then gets their middle), not to shrink it
MACHINE_PRIOR = 0.005
LAW_FACTOR_PREFIX = "machine."  # 0/1 columns of where a row ran: they scale the law
LEARNERS = ("trees", "ridge")  # what fits the quality's share, on the law's log residuals
RIDGE_ALPHAS = np.logspace(-2, 3, 21)  # chosen among by leave-one-out (RidgeCV's own)
# the fewest tail runs (and runs outside it) a tail classifier is trained on: a rare tail
# that a feature marks cleanly is learnt from two (seen: dnaseq's runs whose reads were
# all trimmed away, 6 of 200, often only 2 of them in a training fold)
MIN_TAIL_RUNS = 2
TAIL_THRESHOLD_FLOOR = 0.05  # a run under this tail probability is never called tail


PILOT_MIN_RHO = 0.3  # a pilot column that follows the target less than this scales nothing


def pilot_factor(frame: pd.DataFrame, target: str, features: list[str]) -> str | None:
    """The pilot time among `features` (`pilot.*`, see `engine.pilot`) that follows the
    target most closely in `frame` (Spearman), if any does: the law scales with it. For a
    step that is its own pilot's time; for a whole workflow, its costliest step's."""
    y = pd.to_numeric(frame[target], errors="coerce")
    best, best_rho = None, PILOT_MIN_RHO
    for column in features:
        if not (column.startswith(PILOT_PREFIX) and column.endswith("_s")):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().sum() < 10 or not (values.dropna() > 0).all():
            continue
        rho = values.corr(y, method="spearman")
        if pd.notna(rho) and rho > best_rho:
            best, best_rho = column, float(rho)
    return best


def has_pilot(features: list[str]) -> bool:
    return any(f.startswith(PILOT_PREFIX) for f in features)


def pilot_use(state: dict[str, Any], features: list[str]) -> str | None:
    """How a fitted group uses the pilot times: "law" (one scales its law), "learner"
    (they are the learner's features) or "none"; None when `features` has no pilot."""
    if not has_pilot(features):
        return None
    if state.get("law_pilot"):
        return "law"
    return "learner" if state.get("pilot_features", True) else "none"


def law_factors(frame: pd.DataFrame, features: list[str]) -> list[str]:
    """The machine indicators among `features` that vary in `frame`."""
    return [c for c in features if c.startswith(LAW_FACTOR_PREFIX)
            and pd.to_numeric(frame[c], errors="coerce").nunique() > 1]


def _factor_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return np.nan_to_num(_matrix(frame, columns)) if columns else np.zeros((len(frame), 0))


def _regressor(seed: int) -> HistGradientBoostingRegressor:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, max_leaf_nodes=8,
                                         min_samples_leaf=5, l2_regularization=1.0,
                                         random_state=seed)


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.zeros((len(frame), 1))
    return frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def _log_size(frame: pd.DataFrame, size: str | None, offset: float = 0.0) -> np.ndarray:
    """log(size - offset), at least 0 (`size_offset`: the part of the size that costs no
    time)."""
    if size is None:
        return np.zeros(len(frame))
    values = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
    return _shifted(np.nan_to_num(values, nan=1.0 + offset), offset)


def intensive(frame: pd.DataFrame, features: list[str], size: str | None) -> list[str]:
    """The features that do not rise with the size (the trees' inputs)."""
    if size is None:
        return list(features)
    sizes = pd.to_numeric(frame[size], errors="coerce")
    keep = []
    for column in features:
        if column == size:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.nunique() < 2:
            continue  # constant here: nothing for the trees to learn from
        rho = values.corr(sizes, method="spearman")
        if not (pd.notna(rho) and abs(rho) >= EXTENSIVE_RHO):
            keep.append(column)
    return keep


def fit_law(log_size: np.ndarray, log_y: np.ndarray, factors: np.ndarray | None = None
            ) -> list[float]:
    """[c0, c1, b, m1, ...] of y = (c0 + c1 * size^b) * exp(factors . m), least squares on
    log y with a soft-L1 loss (a few slow outliers do not bend it); c0 = the median when
    the size does not vary. `factors`: one 0/1 column per machine, or None."""
    from scipy.optimize import least_squares

    y = np.exp(log_y)
    k = 0 if factors is None else factors.shape[1]
    if np.ptp(log_size) < 1e-9:
        return [float(np.median(y)), 0.0, 1.0, *([0.0] * k)]
    size = np.exp(log_size - log_size.max())  # scaled to at most 1: c1 is then a time
    slope = max(float(np.polyfit(size, y, 1)[0]), 1e-6)

    # a prior on the exponent: linear unless the data insist. Over a narrow range of sizes a
    # fixed cost and the exponent trade off, and a free exponent then explodes when
    # extrapolated (b = 3 fitted on a 2x range was seen)
    prior = LAW_PRIOR * np.sqrt(len(log_y))
    machine_prior = MACHINE_PRIOR * np.sqrt(len(log_y))

    def residual(params: np.ndarray) -> np.ndarray:
        c0, c1, b = params[:3]
        shift = factors @ params[3:] if k else 0.0
        # with one column per machine only their differences are determined: a faint
        # prior towards 0 makes the split unique
        return np.concatenate([np.log(c0 + c1 * size**b + 1e-12) + shift - log_y,
                               [prior * (b - 1.0)], machine_prior * params[3:]])

    start = np.array([max(float(np.min(y)) * 0.5, 1e-6), slope, 1.0, *([0.0] * k)])
    fitted = least_squares(residual, start,
                           bounds=([0.0, 0.0, 0.2, *([-3.0] * k)],
                                   [np.inf, np.inf, 3.0, *([3.0] * k)]),
                           loss="soft_l1", f_scale=0.1)
    c0, c1, b, *machine = (float(v) for v in fitted.x)
    # back to unscaled sizes: c1 * (s / s_max)^b = (c1 / s_max^b) * s^b
    return [c0, c1 * float(np.exp(-b * log_size.max())), b, *machine]


def law_log(law: list[float], log_size: np.ndarray, factors: np.ndarray | None = None
            ) -> np.ndarray:
    c0, c1, b = law[:3]
    out = np.log(c0 + c1 * np.exp(b * log_size) + 1e-12)
    if len(law) > 3 and factors is not None:
        out = out + factors @ np.asarray(law[3:])
    return np.asarray(out, dtype=float)


# the offsets tried, as fractions of the smallest size: up to 99.9999% of it (a 680 MB
# reference under 17 kB of reads was seen)
OFFSET_FRACTIONS = 1.0 - np.logspace(-6, 0, 13)[:-1]  # every half decade
FORM_SIZE_SPLIT = 0.7  # the size-ordered check: fitted on the smaller 70%, tested above
# the line's growth is taken where its bias is under this share of the law's: 0.4 before,
# which kept the law's growth on nf-core/eager's steps where the line's was nearer
LINE_MARGIN = 1.0
# past the largest training size a prediction is moved towards the straight line on the
# times, by LINE_WEIGHT * `_line_trust` of the way in logs: half-way where the line
# predicts the larger training rows as well as the model does out of fold, less where it
# strays more. On nf-core runs of 53 steps (10 to 34 rows each) the law alone lost to the
# line at most extrapolations. A weight fading with the group's rows (LINE_WEIGHT * 30 /
# (rows + 30)) was used before the trust; with it, the fading was no better on those
# runs, another machine's or a superlinear law, nor by the median over this project's
# corpus groups (group by group it kept FastQC's nearer: docs/extrapolation.md)
LINE_WEIGHT = 0.5
# with a size offset or not: the laws compared. A straight law (b = 1) was a candidate too;
# chosen on law errors alone it took groups whose quality spread hid their shape
# (cross-validated R² 0.95 to 0.94 in tests/test_model.py) and gained nothing on the
# nf-core runs
FORMS = (False, True)
FORM_MARGIN = 0.9  # another form must cut the power law's errors by a tenth, on both
FORM_ROWS = 2000  # a law's form is chosen on a sample of this many rows of a larger group


def _sample_folds(folds: list[tuple[np.ndarray, np.ndarray]], keep: np.ndarray
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """`folds` restricted to the rows `keep` (sorted), renumbered as positions in it."""
    position = {int(row): i for i, row in enumerate(keep)}
    return [(np.array([position[r] for r in train if r in position], dtype=int),
             np.array([position[r] for r in test if r in position], dtype=int))
            for train, test in folds]


def _shifted(sizes: np.ndarray, offset: float) -> np.ndarray:
    """log(sizes - offset), at least 0."""
    return np.log(np.clip(sizes - offset, 1.0, None))


def fit_size_offset(sizes: np.ndarray, log_y: np.ndarray) -> float:
    """The part of the size that costs no time, fitted: the offset s0 (a fraction of the
    smallest size, OFFSET_FRACTIONS) whose law on size - s0 fits log y best (the law's
    own robust loss, its exponent's prior included), or 0."""
    best, best_loss = 0.0, _law_loss(_shifted(sizes, 0.0), log_y)
    for fraction in OFFSET_FRACTIONS:
        offset = float(fraction * np.min(sizes))
        loss = _law_loss(_shifted(sizes, offset), log_y)
        if loss < best_loss:
            best, best_loss = offset, loss
    return best


def _law_loss(log_size: np.ndarray, log_y: np.ndarray) -> float:
    law = fit_law(log_size, log_y)
    r = law_log(law, log_size) - log_y
    # fit_law's loss: soft-L1 at scale 0.1, and its prior on the exponent
    soft_l1 = 2 * 0.01 * (np.sqrt(1 + (r / 0.1) ** 2) - 1)
    return float(soft_l1.sum() + (LAW_PRIOR * np.sqrt(len(log_y)) * (law[2] - 1.0)) ** 2)


def _quality_share(frame: pd.DataFrame, log_y: np.ndarray, features: list[str],
                   size: str | None) -> np.ndarray:
    """What a ridge line on the intensive features (`intensive`; not the size, machines or
    pilots) explains of a power law's log residuals: taken out before laws are compared
    (`choose_law_form`), so that quality's spread (up to 8x seen) does not drown the
    difference between them."""
    quality = intensive(frame, [f for f in features if not f.startswith(
        (LAW_FACTOR_PREFIX, PILOT_PREFIX))], size)
    if size is None or not quality or len(frame) < 10:
        return np.zeros(len(frame))
    log_size = _log_size(frame, size)
    matrix = _matrix(frame, quality)
    residual = log_y - law_log(fit_law(log_size, log_y), log_size)
    return _predict_ridge(_fit_ridge(matrix, residual), matrix)


def _form_rows(n: int, seed: int) -> np.ndarray | None:
    """The rows (sorted positions) a larger group's form and growth are judged on: a
    sample of FORM_ROWS, or None where the group has no more than that."""
    if n <= FORM_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, FORM_ROWS, replace=False))


def _size_split(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the smaller FORM_SIZE_SPLIT of the rows, the larger rest), as positions: how a law
    is judged beyond the sizes it was fitted on."""
    order = np.argsort(sizes, kind="stable")
    cut = int(len(sizes) * FORM_SIZE_SPLIT)
    return order[:cut], order[cut:]


def choose_law_form(frame: pd.DataFrame, log_y: np.ndarray, size: str | None,
                    folds: list[tuple[np.ndarray, np.ndarray]], seed: int = 1) -> float:
    """The size offset of the group's law (one of FORMS): 0, the power law on the size,
    unless the law on the size less a fitted offset (`fit_size_offset`) predicts held-out
    rows better by FORM_MARGIN, both in the folds and beyond the sizes it was fitted on
    (`_size_split`). Why: a size that counts what costs nothing (seen: nf-core steps whose
    input size includes a 680 MB reference, while their time follows the reads alone)
    bends a power law to its bound (b = 3), where a law on the size less the reference
    follows the reads. The laws are compared alone, on log times less what the quality
    features explain (`_quality_share`); the learner is fitted on the law chosen. Decided
    on FORM_ROWS rows at most (a sample of larger groups)."""
    if size is None or not folds:
        return 0.0
    sizes = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
    if np.isnan(sizes).any() or np.ptp(sizes) <= 0 or len(sizes) < 10:
        return 0.0
    keep = _form_rows(len(sizes), seed)
    if keep is not None:
        sizes, log_y = sizes[keep], log_y[keep]
        folds = _sample_folds(folds, keep)
    errors: dict[bool, list[float]] = {form: [] for form in FORMS}
    for parts in (folds, [_size_split(sizes)]):
        squared: dict[bool, list[np.ndarray]] = {form: [] for form in FORMS}
        for train, test in parts:
            for with_offset in FORMS:
                offset = fit_size_offset(sizes[train], log_y[train]) if with_offset else 0.0
                law = fit_law(_shifted(sizes[train], offset), log_y[train])
                predicted = law_log(law, _shifted(sizes[test], offset))
                squared[with_offset].append((predicted - log_y[test]) ** 2)
        for form in FORMS:
            errors[form].append(float(np.mean(np.concatenate(squared[form]))))
    default = FORMS[0]
    eligible = [f for f in FORMS if f == default
                or all(e < FORM_MARGIN * d
                       for e, d in zip(errors[f], errors[default], strict=True))]
    with_offset = min(eligible, key=lambda f: float(np.mean(errors[f])))
    return fit_size_offset(sizes, log_y) if with_offset else 0.0


def fit_point(frame: pd.DataFrame, target: str, features: list[str], size: str | None,
              seed: int, machine_law: bool = True, learner: str = "trees",
              pilot: str | None = None, pilot_features: bool = True,
              size_offset: float = 0.0) -> dict[str, Any]:
    """The law and the `learner` (one of LEARNERS) on what it leaves: enough to predict the
    median. Without `machine_law`, the machine indicators are features of the learner like
    any other. With `pilot` (a pilot column), the law scales with its log, centred on the
    training rows' mean, and the learner sees no pilot column; without `pilot_features`,
    no pilot column is used at all. The law is on the size less `size_offset`
    (`choose_law_form`)."""
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    log_y = np.log(np.clip(y, 1e-9, None))
    log_size = _log_size(frame, size, size_offset)
    machines = law_factors(frame, features) if machine_law else []
    state: dict[str, Any] = {"law_factors": machines, "learner": learner,
                             "residual_model": None, "law_pilot": None,
                             "pilot_features": pilot_features, "size_offset": size_offset}
    if pilot is not None:
        logs = np.log(pd.to_numeric(frame[pilot], errors="coerce").to_numpy(dtype=float))
        center = float(np.nanmean(logs))
        state["law_pilot"] = {"column": pilot, "center": center,
                              "range": [float(np.nanmin(logs)) - center,
                                        float(np.nanmax(logs)) - center]}
    factors = _law_inputs(state, frame)
    law = fit_law(log_size, log_y, factors)
    others = [f for f in features if f not in machines
              and not ((pilot is not None or not pilot_features)
                       and f.startswith(PILOT_PREFIX))]
    quality = intensive(frame, others, size)
    state.update(law=law, quality_features=quality)
    if len(frame) >= 10 and (quality or size):
        matrix = _learner_matrix(frame, quality, size, learner, size_offset)
        state["residual_model"] = _fit_learner(learner, seed, matrix,
                                               log_y - law_log(law, log_size, factors))
        if factors.shape[1]:
            # backfitting, once: the law and its factors again on what the learner does
            # not explain, so that a machine that happened to run more of the slow inputs
            # is not blamed for them; then the learner on the new law
            state["law"] = law = fit_law(
                log_size, log_y - _predict_learner(state, matrix), factors)
            state["residual_model"] = _fit_learner(learner, seed, matrix,
                                                   log_y - law_log(law, log_size, factors))
    return state


def _law_inputs(state: dict[str, Any], frame: pd.DataFrame, pilot: bool = True
                ) -> np.ndarray:
    """The law's factor columns for `frame`: the machine indicators, then the centred log
    pilot time (0, the training rows' typical pilot, when `pilot` is False or the value is
    missing). A pilot time beyond the training rows' counts as their extreme: the law's
    power of it is not carried past what was seen (a pilot of a step of a tenth of a
    second is mostly start-up noise, and one odd value would otherwise scale the law by
    its power)."""
    matrix = _factor_matrix(frame, state.get("law_factors", []))
    spec = state.get("law_pilot")
    if spec is None:
        return matrix
    logs = np.log(pd.to_numeric(frame[spec["column"]], errors="coerce").to_numpy(dtype=float))
    centred = (np.clip(np.nan_to_num(logs - spec["center"]), *spec["range"]) if pilot
               else np.zeros(len(frame)))
    return np.column_stack([matrix, centred])


def _learner_matrix(frame: pd.DataFrame, quality: list[str], size: str | None,
                    learner: str, size_offset: float = 0.0) -> np.ndarray:
    """The trees see the log size too; the ridge line does not: beyond the sizes it saw, a
    slope in the size would bend the law's extrapolation."""
    if learner == "ridge":
        return _matrix(frame, quality)
    return np.column_stack([_log_size(frame, size, size_offset), _matrix(frame, quality)])


def _fit_learner(learner: str, seed: int, matrix: np.ndarray, residual: np.ndarray) -> Any:
    if learner == "ridge":
        return _fit_ridge(matrix, residual)
    with one_thread():
        return _regressor(seed).fit(matrix, residual)


def _residual_model(state: dict[str, Any]) -> Any:
    """The learner's fitted model (bundles of 0.4 called it "trees")."""
    return state.get("residual_model", state.get("trees"))


def _predict_learner(state: dict[str, Any], matrix: np.ndarray) -> np.ndarray:
    model = _residual_model(state)
    if state.get("learner", "trees") == "ridge":
        return _predict_ridge(model, matrix)
    return predict_trees(model, matrix)


def predict_trees(model: Any, matrix: np.ndarray) -> np.ndarray:
    """A boosted ensemble's prediction (a classifier's: its probability of class 1), in its
    plain form (`model.trees`) or, inside training, as scikit-learn fitted it (faster on
    the many rows of cross-validation; the same numbers)."""
    if trees.is_trees(model):
        return trees.predict(model, matrix)
    with one_thread():
        if hasattr(model, "predict_proba"):
            return np.asarray(model.predict_proba(matrix)[:, 1], dtype=float)
        return np.asarray(model.predict(matrix), dtype=float)


def plain(state: dict[str, Any]) -> dict[str, Any]:
    """`state` with its fitted ensembles in their plain form (`model.trees`): what a
    group keeps once trained, and what an old bundle's groups become when loaded."""
    out = dict(state)
    model = out.get("residual_model", out.get("trees"))
    if model is not None and out.get("learner", "trees") == "trees" \
            and not trees.is_trees(model):
        out["residual_model"] = trees.from_sklearn(model)
        out.pop("trees", None)
    tail = out.get("tail")
    if tail and tail.get("classifier") is not None and not trees.is_trees(tail["classifier"]):
        out["tail"] = {**tail, "classifier": trees.from_sklearn(tail["classifier"])}
    return out


def _fit_ridge(matrix: np.ndarray, residual: np.ndarray) -> dict[str, Any]:
    """Ridge regression on the standardised columns, a missing value taken as its column's
    training median; kept as plain numbers (nothing for skops to trust). A value beyond
    its column's training range is taken as the range's end when predicting: a line
    carried past the data multiplies the law by whatever it reaches (seen: a pilot time of
    a 0.03 s step, far above the others, made a prediction 40x too large)."""
    from sklearn.linear_model import RidgeCV

    median = pd.DataFrame(matrix).median().fillna(0.0).to_numpy(dtype=float)
    filled = np.where(np.isnan(matrix), median, matrix)
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale[scale == 0] = 1.0
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit((filled - mean) / scale, residual)
    return {"median": median.tolist(), "mean": mean.tolist(), "scale": scale.tolist(),
            "low": filled.min(axis=0).tolist(), "high": filled.max(axis=0).tolist(),
            "coef": np.ravel(ridge.coef_).tolist(), "intercept": float(ridge.intercept_),
            "alpha": float(ridge.alpha_)}


def _predict_ridge(model: dict[str, Any], matrix: np.ndarray) -> np.ndarray:
    median = np.asarray(model["median"])
    filled = np.where(np.isnan(matrix), median, matrix)
    if "low" in model:  # bundles of 0.5 kept no range
        filled = np.clip(filled, model["low"], model["high"])
    z = (filled - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return np.asarray(z @ np.asarray(model["coef"]) + model["intercept"], dtype=float)


def learner_log(state: dict[str, Any], frame: pd.DataFrame, size: str | None) -> np.ndarray:
    """The learner's share of the log prediction (what it adds to the law), or zeros."""
    if _residual_model(state) is None:
        return np.zeros(len(frame))
    return np.asarray(_predict_learner(state, _learner_matrix(
        frame, state["quality_features"], size, state.get("learner", "trees"),
        state.get("size_offset", 0.0))), dtype=float)


def predict_log(state: dict[str, Any], frame: pd.DataFrame, size: str | None) -> np.ndarray:
    offset = state.get("size_offset", 0.0)
    log_size = _log_size(frame, size, offset)
    law = law_log(state["law"], log_size, _law_inputs(state, frame))
    learned = learner_log(state, frame, size)
    out = np.asarray(law + learned, dtype=float)
    beyond = state.get("beyond")
    if beyond is not None and size is not None:
        sizes = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
        past = np.nan_to_num(sizes, nan=0.0) > beyond["size_max"]
        if past.any():
            law_growth = _growth_log(state["law"], sizes[past], beyond["size_max"], offset)
            if beyond["growth"] == "line":
                out[past] += _line_growth_log(beyond, sizes[past]) - law_growth
            elif beyond.get("tangent_floor"):
                out[past] += np.maximum(_tangent_growth_log(
                    state["law"], sizes[past], beyond["size_max"], offset) - law_growth, 0.0)
            own = _own_log(state, law[past], log_size[past], learned[past])
            out[past] += _toward_line(beyond, out[past] - own, sizes[past])
    return out


def _own_log(state: dict[str, Any], law: np.ndarray, log_size: np.ndarray,
             learned: np.ndarray) -> np.ndarray:
    """What rows' own features add to their log predictions: the law's factors (machine,
    pilot; `law` is the law with them, on `log_size`) and the learner (`learned`)."""
    return np.asarray(law - law_log(state["law"], log_size) + learned, dtype=float)


def _toward_line(beyond: dict[str, Any], size_log: np.ndarray, sizes: np.ndarray
                 ) -> np.ndarray:
    """What moves a prediction past the largest training size `line_weight` of the way
    (in logs) towards the straight line on the times: weight * (log line - the log
    prediction of a typical row), the typical row's being `size_log` (the law on the size
    alone, its growth) plus `own_level` (what the rows' own features add, at the largest
    training sizes). So what a row's machine, pilot and quality make of it is kept whole;
    where the line is not positive, nothing moves. 0 in bundles from before
    `line_weight` was kept."""
    weight = float(beyond.get("line_weight", 0.0))
    if weight <= 0:
        return np.zeros(len(sizes))
    a, b = beyond["line"]
    line = a + b * sizes
    typical = size_log + float(beyond.get("own_level", 0.0))
    return np.where(line > 0, weight * (np.log(np.clip(line, 1e-12, None)) - typical), 0.0)


def fit_beyond(frame: pd.DataFrame, target: str, size: str | None, offset: float = 0.0,
               seed: int = 1, quality_share: np.ndarray | None = None
               ) -> dict[str, Any] | None:
    """How a prediction grows past the largest training size: as the law does (never
    under its tangent there: `_floored_growth_log`, `tangent_floor`), or as the straight
    line a + b * size fitted on the times themselves (least squares) does from there
    (`predict_log`), whichever predicted that growth better inside the training
    rows: both fitted on the smaller 70% of the sizes, each one's growth from their
    largest to the larger 30% (the median of its log errors there, the bias; the spread
    no growth explains is left out), the smaller bias taken. `offset`: the law's size
    offset (`choose_law_form`). `quality_share`: what the quality features explain of the
    log times (`_quality_share`), taken out first, so that the quality mix of the larger
    30% does not pass for growth (a superlinear law whose runs vary 2.5x by quality had
    its bias doubled by it). Why: a law is fitted on log times, every run alike, and what
    fixed costs and noise do to the small inputs bends its exponent, where the line on
    the times is drawn by the larger inputs (seen on nf-core runs trained on inputs up to
    1/4 to 1/12 of the ones predicted: FastQC's law with b = 0.82 fell 41% short at 12x);
    where fixed costs are real, the law's growth is the better one (this project's corpus:
    most steps' laws beat the line at 5x). Judged on FORM_ROWS rows at most (a sample of
    larger groups); with under 10 rows, the law's growth. Also `line_weight`: how far a
    prediction past the largest training size then moves towards the line on all the
    rows (`predict_log`; LINE_WEIGHT, times `_line_trust` once the model's out-of-fold
    predictions are known). None without a size, or where the sizes do not vary."""
    if size is None:
        return None
    sizes = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    if np.isnan(sizes).any() or np.isnan(y).any() or np.ptp(sizes) <= 0:
        return None
    common = {**_line(sizes, y, float(sizes.max())), "line_weight": LINE_WEIGHT,
              "tangent_floor": True}
    if len(sizes) < 10:  # too few to judge the growths on: the law's
        return {**common, "growth": "law", "bias": {}}
    if quality_share is not None:  # both growths judged on times less the quality's share
        y = y * np.exp(-quality_share)
    keep = _form_rows(len(sizes), seed)
    if keep is not None:
        sizes, y = sizes[keep], y[keep]
    log_y = np.log(np.clip(y, 1e-9, None))
    small, large = _size_split(sizes)
    edge = float(sizes[small].max())
    bias = {}
    choice = "law"
    if np.ptp(sizes[small]) > 0:
        part_offset = fit_size_offset(sizes[small], log_y[small]) if offset else 0.0
        law = fit_law(_shifted(sizes[small], part_offset), log_y[small])
        anchor = law_log(law, _shifted(np.array([edge]), part_offset))
        line = _line(sizes[small], y[small], edge)
        for growth, grown in (
                ("law", _floored_growth_log(law, sizes[large], edge, part_offset)),
                ("line", _line_growth_log(line, sizes[large]))):
            bias[growth] = float(abs(np.median(anchor + grown - log_y[large])))
        choice = "line" if bias["line"] < LINE_MARGIN * bias["law"] else "law"
    return {**common, "growth": choice, "bias": bias}


def _own_level(state: dict[str, Any], frame: pd.DataFrame, size: str | None) -> float:
    """The median of what the rows of `frame` (the larger 1 - FORM_SIZE_SPLIT of the
    training sizes) own features add to their log predictions (`_own_log`): a typical
    row's, next to the edge."""
    if frame.empty:
        return 0.0
    log_size = _log_size(frame, size, state.get("size_offset", 0.0))
    law = law_log(state["law"], log_size, _law_inputs(state, frame))
    return float(np.median(_own_log(state, law, log_size, learner_log(state, frame, size))))


def _line_trust(sizes: np.ndarray, log_y: np.ndarray, oof: np.ndarray,
                beyond: dict[str, Any]) -> float:
    """How far the line may be trusted beside the model, from 0 to 1, on the rows of the
    larger 1 - FORM_SIZE_SPLIT of the training sizes (their sizes, log times and
    out-of-fold log predictions): the model's mean squared log error there over the
    line's (at most 1). A line that the rows' machines, pilots or quality scatter around
    (seen: a pilot that told inputs 10x apart, where the line was 125% off 5x past the
    training sizes) is not moved towards; one as near as the model is, fully. 1 where no
    fold held those rows out."""
    model_errors = oof - log_y
    model_errors = model_errors[~np.isnan(model_errors)]
    if not len(model_errors):
        return 1.0
    a, b = beyond["line"]
    on_line = a + b * sizes
    if (on_line <= 0).any():
        return 0.0
    line_mse = float(np.mean((np.log(on_line) - log_y) ** 2))
    if line_mse <= 0:
        return 1.0
    return float(min(1.0, np.mean(model_errors ** 2) / line_mse))


def _line(sizes: np.ndarray, y: np.ndarray, edge: float) -> dict[str, Any]:
    slope, intercept = np.polyfit(sizes, y, 1)
    return {"line": [float(intercept), float(max(slope, 0.0))], "size_max": edge}


def _line_growth_log(beyond: dict[str, Any], sizes: np.ndarray) -> np.ndarray:
    """log(line(size) / line(edge)): the line's growth past the largest training size. A
    line that is not positive at the edge grows as the size does."""
    a, b = beyond["line"]
    edge = beyond["size_max"]
    at_edge = a + b * edge
    if at_edge <= 0 or b <= 0:
        return np.asarray(np.log(sizes / edge), dtype=float)
    return np.asarray(np.log((a + b * sizes) / at_edge), dtype=float)


def _floored_growth_log(law: list[float], sizes: np.ndarray, edge: float, offset: float
                        ) -> np.ndarray:
    """The law's growth past `edge` (`_growth_log`), but never under its tangent's there
    (`_tangent_growth_log`): past the largest training size the time per unit of size
    does not fall below the law's at that size. Why: a law whose exponent is under 1
    makes each further byte cheaper without end, where a step's cost per read only levels
    off (seen on nf-core runs: FastQC's JVM start-up and warm-up bent its law to b = 0.77
    on inputs of 4 to 512 MB, 29% short at 7x, where the time grew linearly from there).
    A law bending upwards (b > 1) is above its tangent: its own growth stands."""
    return np.asarray(np.maximum(_growth_log(law, sizes, edge, offset),
                                 _tangent_growth_log(law, sizes, edge, offset)), dtype=float)


def _tangent_growth_log(law: list[float], sizes: np.ndarray, edge: float, offset: float
                        ) -> np.ndarray:
    """log(tangent(size) / law(edge)), the tangent being the law's at `edge` (on the size
    less `offset`, as the law is); -inf where the law is not positive there."""
    c0, c1, b = law[:3]
    at = max(edge - offset, 1.0)  # as `_shifted` takes it
    value = c0 + c1 * at ** b
    if value <= 0:
        return np.full(len(sizes), -np.inf)
    relative_slope = b * c1 * at ** (b - 1.0) / value  # d log(law) / d size at the edge
    return np.asarray(np.log1p(relative_slope * np.clip(sizes - edge, 0.0, None)),
                      dtype=float)


def _growth_log(law: list[float], sizes: np.ndarray, edge: float, offset: float
                ) -> np.ndarray:
    """log(law(size) / law(edge)) on the size less `offset`."""
    edges = np.full(len(sizes), edge)
    return law_log(law, _shifted(sizes, offset)) - law_log(law, _shifted(edges, offset))


def fit_typical(frame: pd.DataFrame, log_y: np.ndarray, features: list[str],
                size: str | None, size_offset: float = 0.0) -> dict[str, Any]:
    """The typical value for a row's size on its machine: the law fitted on the size and the
    machine indicators alone (robustly: the slow runs do not raise it), whatever else the
    model uses. So the tail's labels are a property of the rows, not of the features: a
    bundle trained with pilot times calls the same runs tail as one without (its law,
    scaled by a pilot that also tells the machines apart, had put the typical 1,000,000-pair
    dnaseq run 17% lower, and its tail was not the same runs)."""
    machines = law_factors(frame, features)
    law = fit_law(_log_size(frame, size, size_offset), log_y, _factor_matrix(frame, machines))
    return {"law": law, "machines": machines, "size_offset": size_offset}


def typical_log(state: dict[str, Any], frame: pd.DataFrame, size: str | None) -> np.ndarray:
    """The typical log value for the row's size and machine (`fit_typical`): what the tail
    is measured against. Bundles before 0.10 kept none: their point law stands in, at a
    typical pilot."""
    typical = state.get("typical")
    if typical is None:
        return law_log(state["law"], _log_size(frame, size, state.get("size_offset", 0.0)),
                       _law_inputs(state, frame, pilot=False))
    return law_log(typical["law"], _log_size(frame, size, typical.get("size_offset", 0.0)),
                   _factor_matrix(frame, typical["machines"]))


def fit_group(frame: pd.DataFrame, target: str, features: list[str], size: str | None,
              options: FitOptions, groups: pd.Series | None = None) -> dict[str, Any]:
    """Everything `predict_group` needs, fitted on `frame` (rows with a positive target):
    plain data, its keys named in `model.state.GroupState`."""
    return fit_group_oof(frame, target, features, size, options, groups)[0]


def fit_group_oof(frame: pd.DataFrame, target: str, features: list[str], size: str | None,
                  options: FitOptions, groups: pd.Series | None = None
                  ) -> tuple[dict[str, Any], np.ndarray]:
    """`fit_group`, and the chosen model's out-of-fold log predictions of `frame`'s rows
    (NaN where no fold held a row out): what a whole workflow composed of this group's
    step learns its spread and its tail from (`model.compose`)."""
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    log_y = np.log(np.clip(y, 1e-9, None))
    folds = grouped_folds(frame, groups, options)

    pilot = pilot_factor(frame, target, features)
    quality_share = _quality_share(frame, log_y, features, size)
    offset = choose_law_form(frame, log_y - quality_share, size, folds, options.seed)

    def out_of_fold(machine_law: bool, learner: str, law_pilot: str | None,
                    pilot_features: bool) -> np.ndarray:
        oof = np.full(len(frame), np.nan)
        for train, test in folds:
            part = fit_point(frame.iloc[train], target, features, size, options.seed,
                             machine_law, learner, law_pilot, pilot_features, offset)
            oof[test] = predict_log(part, frame.iloc[test], size)
        return oof

    # the candidates: each learner, and where the rows ran on several machines, the
    # machines in the law or among the learner's features. The law is the better place
    # when each machine ran a like mix of inputs; where one ran mostly the slow inputs,
    # its factor takes their blame (seen on rnaseq: STAR's R² fell from 0.69 to 0.48 with
    # the machine in the law). Likewise a pilot's time: scaling the law, a feature of the
    # learner, or not used: a pilot of 3,000 pairs can mislead where the input's size
    # matters more than its time per read (seen: a dnaseq input whose trim kept 2% of the
    # pairs; its pilot kept almost none, and CollectWgsMetrics on the empty alignments
    # took 62 s, where the run took 7 s). Out-of-fold predictions also give the quantiles
    # and the tail threshold.
    machine_choices = [True, False] if law_factors(frame, features) else [True]
    pilot_choices = ([(pilot, True)] if pilot else []) + (
        [(None, True), (None, False)] if has_pilot(features) else [(None, True)])
    candidates = [(m, learner, *p) for learner in LEARNERS for m in machine_choices
                  for p in pilot_choices]
    best, oof = candidates[0], np.full(len(frame), np.nan)
    if folds:
        predicted = [out_of_fold(*candidate) for candidate in candidates]
        i = int(np.argmin([np.nanmean((log_y - p) ** 2) for p in predicted]))
        best, oof = candidates[i], predicted[i]
    machine_law, learner, law_pilot, pilot_features = best
    state = fit_point(frame, target, features, size, options.seed, machine_law, learner,
                      law_pilot, pilot_features, offset)
    residuals = (log_y - oof)[~np.isnan(oof)]
    state["quantiles"] = {str(q): float(np.quantile(residuals, q)) if len(residuals) else 0.0
                          for q in QUANTILES}
    state["typical"] = fit_typical(frame, log_y, features, size, offset)
    state["beyond"] = (fit_beyond(frame, target, size, offset, options.seed, quality_share)
                       if options.extrapolation == "linear" else None)
    if state["beyond"] is not None:
        sizes = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
        large = _size_split(sizes)[1]
        state["beyond"]["own_level"] = _own_level(state, frame.iloc[large], size)
        state["beyond"]["line_weight"] *= _line_trust(sizes[large], log_y[large], oof[large],
                                                      state["beyond"])
    state["tail"] = _fit_tail(frame, log_y, state, features, size, options, folds)
    state["n_train"] = len(frame)
    return plain(state), oof


def grouped_folds(frame: pd.DataFrame, groups: pd.Series | None,
           options: FitOptions) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    keys = (groups if groups is not None else pd.Series(np.arange(len(frame)))).to_numpy()
    unique = np.unique(keys)
    n = min(options.folds, len(unique))
    if n < 2:
        return []
    splitter = KFold(n_splits=n, shuffle=True, random_state=options.seed)
    out = []
    for train_keys, test_keys in splitter.split(unique):
        train = np.flatnonzero(np.isin(keys, unique[train_keys]))
        test = np.flatnonzero(np.isin(keys, unique[test_keys]))
        out.append((train, test))
    return out


def tail_labels(log_y: np.ndarray, typical: np.ndarray, k: float) -> np.ndarray:
    return np.asarray(log_y > typical + np.log(k), dtype=int)


def _fit_tail(frame: pd.DataFrame, log_y: np.ndarray, state: dict[str, Any],
              features: list[str], size: str | None, options: FitOptions,
              folds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any] | None:
    labels = tail_labels(log_y, typical_log(state, frame, size), options.tail_k)
    if labels.sum() < MIN_TAIL_RUNS or labels.sum() > len(labels) - MIN_TAIL_RUNS:
        return {"classifier": None, "threshold": 1.0, "positives": int(labels.sum())}
    # a column with no values here (a feature of another kind of dataset) tells the
    # classifier nothing, and its binning would fail on it
    features = [c for c in features
                if pd.to_numeric(frame[c], errors="coerce").nunique() > 1]
    values = _learner_matrix(frame, features, size, "trees")  # the classifier is trees too
    bins = bin_edges(values)
    matrix = binned(bins, values)
    oof = np.full(len(frame), np.nan)
    for train, test in folds:
        if 0 < labels[train].sum() < len(train):
            with one_thread():
                fold = _classifier(options.seed, int(labels[train].sum())).fit(
                    matrix[train], labels[train])
            oof[test] = predict_trees(fold, matrix[test])
    with one_thread():
        classifier = _classifier(options.seed, int(labels.sum())).fit(matrix, labels)
    threshold = choose_threshold(labels, oof, options.tail_recall)
    return {"classifier": classifier, "threshold": threshold, "positives": int(labels.sum()),
            "features": features, "bins": bins}


MAX_BINS = 255  # what a scikit-learn boosted ensemble bins a feature into, at most


def bin_edges(matrix: np.ndarray) -> list[list[float]]:
    """Per column, the upper edges of at most MAX_BINS bins of its values (equal counts, or
    one per distinct value where there are fewer): what the tail classifier is fitted on
    (`binned`). Its trees would bin the columns so themselves, but weighted by the
    balanced classes' weights, and scikit-learn 1.6+ computes each weighted edge apart:
    16 of 25 s of a 1,000-row group's training, and hours at a million rows
    (docs/training-time.md). Binned once here, unweighted, the trees see at most
    MAX_BINS values and take them as they are."""
    edges = []
    for column in matrix.T:
        known = column[~np.isnan(column)]
        distinct = np.unique(known)
        if len(distinct) <= MAX_BINS:
            edges.append(distinct[:-1].tolist())  # a bin for each distinct value
        else:
            edges.append(np.unique(np.quantile(known, np.linspace(0, 1, MAX_BINS + 1)[1:-1],
                                               method="averaged_inverted_cdf")).tolist())
    return edges


def binned(edges: list[list[float]] | None, matrix: np.ndarray) -> np.ndarray:
    """`matrix` with each value replaced by its bin's number under `edges` (`bin_edges`;
    a missing value stays missing; beyond the last edge is the last bin). None: as it is
    (tail classifiers of bundles before 0.11 were fitted on the values)."""
    if edges is None:
        return matrix
    out = np.full(matrix.shape, np.nan)
    for j, column_edges in enumerate(edges):
        known = ~np.isnan(matrix[:, j])
        out[known, j] = np.searchsorted(np.asarray(column_edges, dtype=float),
                                        matrix[known, j], side="left")
    return out


def _classifier(seed: int, positives: int) -> HistGradientBoostingClassifier:
    """A leaf may be as small as half the tail runs (5 at most): with a rare tail (6 runs
    of 200 seen), leaves of 5 cannot hold the tail apart from the rest."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                                          max_leaf_nodes=8,
                                          min_samples_leaf=max(1, min(5, positives // 2)),
                                          class_weight="balanced", random_state=seed)


def choose_threshold(labels: np.ndarray, scores: np.ndarray, recall: float,
                     low: float = TAIL_THRESHOLD_FLOOR, high: float = 0.5) -> float:
    """The highest score threshold whose recall on (labels, scores) is at least `recall`,
    within [low, high]; `high` when no label is 1. For a classifier's probabilities,
    [TAIL_THRESHOLD_FLOOR, 0.5]: above 0.5 (the balanced classifier's own boundary) it
    would be one tail run's score exactly, and a new run scored a hair lower would be
    missed (seen: 0.99998); a threshold of 0, which out-of-fold scores of 0 for the tail
    runs would give, calls every run tail."""
    known = ~np.isnan(scores)
    positives = np.sort(scores[known & (labels == 1)])[::-1]
    if len(positives) == 0:
        return high
    needed = int(np.ceil(recall * len(positives)))
    return float(np.clip(positives[max(needed, 1) - 1], low, high))


def predict_group(state: dict[str, Any], frame: pd.DataFrame, features: list[str],
                  size: str | None) -> pd.DataFrame:
    """Point prediction, quantiles, and the tail's probability and call, per row."""
    log_pred = predict_log(state, frame, size)
    out = pd.DataFrame(index=frame.index)
    out["predicted"] = np.exp(log_pred)
    for q, shift in state["quantiles"].items():
        out[f"p{round(float(q) * 100)}"] = np.exp(log_pred + shift)
    tail = state.get("tail") or {}
    if tail.get("classifier") is not None:
        probability = predict_trees(tail["classifier"], binned(tail.get("bins"), _learner_matrix(
            frame, tail.get("features", features), size, "trees")))
        out["tail_probability"] = probability
        out["tail"] = (probability >= tail["threshold"]).astype(int)
    else:
        out["tail_probability"] = np.nan
        out["tail"] = 0
    return out
