"""Model bundles: train on any table, save, reload, predict, evaluate.

A bundle is a directory:

- `model.groups.json.gz`: the fitted groups, plain data: numbers, lists and each boosted
  ensemble's trees as arrays (`model.trees` says how to walk them), gzipped JSON (Python's
  `Infinity`/`NaN` tokens where a number is not finite). Reading it runs no code and needs
  neither scikit-learn nor skops;
- `model.json`: the target, the feature schema (names, and for each its training range),
  `by`, `group`, `size`, the fit options, a sha256 of the training table, the metrics
  (grouped cross-validation, size extrapolation, with the baselines), the row counts, and
  the versions of GenScale, Python, NumPy, pandas and scikit-learn;
- `model.pkl` only when asked for (`--pickle`): the same groups as a plain pickle.

Bundles before 0.11 kept the groups in `model.skops` (scikit-learn's estimators, written
with skops); they still load, through skops, trusting only `TRUSTED_TYPES`, and their
estimators are turned into the plain form as they are read.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import pickle
import platform
import time
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale import __version__
from genscale.errors import UserError
from genscale.model.compose import (
    GroupEvidence,
    StepShape,
    compose_workflow,
    makespans_s,
    observed_cores,
    predict_composition,
    shape_of,
    workflow_shape,
)
from genscale.model.dataset import (
    MEASURED,
    WORKFLOW_STEP,
    post_step_features,
    pre_run_features,
)
from genscale.model.estimator import (
    FitOptions,
    fit_group_oof,
    has_pilot,
    pilot_use,
    plain,
    predict_group,
    typical_log,
)
from genscale.model.evaluate import (
    cross_validation_splits,
    extrapolation_held_out,
    extrapolation_summary,
    fit_baselines,
    point_metrics,
    predict_baselines,
    repeat_noise,
    summarise,
    tail_labels,
    tail_metrics,
)
from genscale.model.size import choose_size
from genscale.model.trees import is_trees, with_arrays
from genscale.store.rundir import atomic_write_bytes, atomic_write_json
from genscale.textfiles import separator

GROUPS_FILE = "model.groups.json.gz"
GROUPS_FORMAT = "genscale-groups/1"
LEGACY_GROUPS_FILE = "model.skops"  # bundles before 0.11
# a groups file that inflates past this is refused rather than read (corpus-v1's three
# bundles inflate to 1-2 MiB for 29 groups: this is room for some 3,000 groups)
MAX_GROUPS_BYTES = 256 << 20
# what a legacy model.skops may hold beyond scikit-learn's own estimators, which skops trusts itself
TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "numpy.dtype",
    "collections.OrderedDict",
]
KEY_SEP = " | "
COMPOSABLE = ("wall_s",)  # targets whose whole-workflow value the steps' replay gives


def _csv_dialect(path: Path, suffix: str) -> tuple[str, str]:
    """The separator and decimal mark of a text table: by its header (`textfiles.separator`;
    a tab for .tsv and .txt, else a comma, first), and a `;`-separated one, a spreadsheet's
    export under a decimal-comma locale, writes `1,5`."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        sep = separator(f.readline(), "\t" if suffix in (".tsv", ".txt") else ",")
    return sep, "," if sep == ";" else "."


def read_table(path: Path) -> pd.DataFrame:
    """A CSV, TSV or Parquet table, by its extension (a CSV's separator by its header)."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep, decimal = _csv_dialect(path, suffix)
        return pd.read_csv(path, sep=sep, decimal=decimal, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: not a CSV, TSV or Parquet table ({exc})") from None


def select(table: pd.DataFrame, where: str | None) -> pd.DataFrame:
    """The rows matching a pandas query; a bad query is the user's, so one line."""
    if not where:
        return table
    try:
        chosen = table.query(where)
    except Exception as exc:  # pandas raises many kinds for a bad expression
        raise UserError(f"--where {where!r}: {exc}") from None
    if chosen.empty:
        raise UserError(f"--where {where!r}: no row matches")
    return chosen


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """`frame` to `path` (.parquet, else CSV), through a temporary name; the directory is
    made if it is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(path)


@dataclass
class TrainSpec:
    target: str
    features: list[str]
    by: list[str]
    group: str | None
    size: str | None
    size_reason: str = ""  # why that size column (model.json says so too)


def default_spec(table: pd.DataFrame, target: str, features: list[str] | None,
                 by: list[str] | None, group: str | None, size: str | None,
                 pilot: bool = False) -> TrainSpec:
    """Fill in what the user left out, from what the table is; check every name. `pilot`:
    the default features include the pilot features."""
    columns = list(table.columns)

    def need(name: str, flag: str) -> None:
        if name not in table.columns:
            raise UserError(f"{flag} {name}: no such column (the table has "
                            f"{', '.join(columns[:12])}{', ...' if len(columns) > 12 else ''})")

    need(target, "--target")
    if features is None:
        features = pre_run_features(columns, pilot)  # ours: what is known before a run
        if pilot and not has_pilot(features):
            raise UserError("--pilot: the table has no pilot.* column (see "
                            "scripts/corpus_refeature.py --pilot)")
        if not features:
            keys = {"run_id", "dataset_id", "workflow_id", "task_id", target, *MEASURED}
            features = [c for c in columns if c not in keys
                        and pd.api.types.is_numeric_dtype(table[c])]
    for column in features:
        need(column, "--features")
    if target in features:
        raise UserError(f"--features: the target {target} cannot be a feature")
    if by is None:
        by = [c for c in ("workflow", "step") if c in table.columns]
    for column in by:
        need(column, "--by")
    if group is None:  # runs of the same input are kept together, else rows of one run
        group = next((c for c in ("dataset_id", "run_id") if c in table.columns), None)
    if group is not None:
        need(group, "--group")
    if size is None:
        size, why = choose_size(table, target, features)
    elif size not in features:
        raise UserError(f"--size {size}: must be one of the features")
    else:
        why = f"{size}: given with --size"
    return TrainSpec(target, features, by, group, size, why)


def group_key(values: tuple[Any, ...]) -> str:
    return KEY_SEP.join(str(v) for v in values)


def _groups(table: pd.DataFrame, by: list[str]) -> list[tuple[str, pd.DataFrame]]:
    if not by:
        return [("all", table)]
    return [(group_key(k if isinstance(k, tuple) else (k,)), g)
            for k, g in table.groupby(by, sort=True, dropna=False)]


def train(table: pd.DataFrame, spec: TrainSpec, options: FitOptions,
          evaluate: bool = True, jobs: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    """(groups, metadata): one fitted model per group of `by`, with its held-out metrics.
    `jobs` processes fit the groups; the result does not depend on how many."""
    target = pd.to_numeric(table[spec.target], errors="coerce")
    usable = table[target.notna() & (target > 0)]
    if usable.empty:
        raise UserError(f"--target {spec.target}: no row with a positive number")
    groups: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    counts: dict[str, int] = {}
    kinds: dict[str, list[str]] = {}
    fits: dict[str, dict[str, Any]] = {}
    evidence: dict[str, GroupEvidence] = {}
    frames = {key: frame.reset_index(drop=True) for key, frame in _groups(usable, spec.by)
              if len(frame) >= 5}  # fewer rows are too few to fit anything
    for key, trained in zip(frames, _train_groups(list(frames.values()), spec, options,
                                                  evaluate, jobs), strict=True):
        frame = frames[key]
        groups[key], metrics[key], evidence[key] = trained
        counts[key] = len(frame)
        # what training chose, readable without loading the estimators
        beyond = groups[key].get("beyond") or {}
        fits[key] = {"learner": groups[key]["learner"],
                     "law": groups[key]["law"], "law_factors": groups[key]["law_factors"],
                     "law_pilot": (groups[key].get("law_pilot") or {}).get("column"),
                     "pilot": pilot_use(groups[key], spec.features),
                     "size_offset": groups[key].get("size_offset", 0.0),
                     "growth_past_training": beyond.get("growth"),
                     "line_weight_past_training": beyond.get("line_weight")}
        if "kind" in frame.columns:
            kinds[key] = sorted(str(k) for k in frame["kind"].dropna().unique())
    if not groups:
        raise UserError(f"no group of {', '.join(spec.by) or 'the table'} has 5 rows or more")
    not_composed = _compose(usable, spec, options, groups, metrics, evidence)
    for key, state in groups.items():
        if "composed" in state:
            fits[key]["composed"] = {"cores": state["composed"]["cores"],
                                     "steps": [s["step"] for s in state["composed"]["steps"]]}
    return groups, {**_metadata(usable, spec, options, counts, kinds, metrics), "fits": fits,
                    "not_composed": not_composed}


def _train_groups(frames: list[pd.DataFrame], spec: TrainSpec, options: FitOptions,
                  evaluate: bool, jobs: int
                  ) -> list[tuple[dict[str, Any], dict[str, Any], GroupEvidence]]:
    """`_train_group` of each frame, in order, in up to `jobs` processes. Every fit is
    seeded by `options` alone, so the processes give what one process would. Spawned,
    not forked: a fork of a process whose BLAS or OpenMP threads have started can hang."""
    if jobs <= 1 or len(frames) < 2:
        return [_train_group(frame, spec, options, evaluate) for frame in frames]
    with ProcessPoolExecutor(max_workers=min(jobs, len(frames)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_train_group, frames, [spec] * len(frames),
                             [options] * len(frames), [evaluate] * len(frames)))


def _train_group(frame: pd.DataFrame, spec: TrainSpec, options: FitOptions,
                 evaluate: bool) -> tuple[dict[str, Any], dict[str, Any], GroupEvidence]:
    """One group's fitted state, its held-out metrics (empty without `evaluate`), and the
    predictions behind them (for a workflow composed of its steps)."""
    state, oof_log = fit_group_oof(frame, spec.target, spec.features, spec.size, options,
                                   frame[spec.group] if spec.group else None)
    state["baselines"] = fit_baselines(frame, spec.target, spec.size)
    evidence = GroupEvidence(frame, pd.DataFrame({
        "y": pd.to_numeric(frame[spec.target], errors="coerce").to_numpy(dtype=float),
        "model": np.exp(oof_log),
        "typical": np.exp(typical_log(state, frame, spec.size))}, index=frame.index))
    if not evaluate:
        return state, {}, evidence
    evidence.cv = cross_validation_splits(frame, spec.target, spec.features, spec.size,
                                          options, spec.group)
    evidence.extrapolation = (extrapolation_held_out(frame, spec.target, spec.features,
                                                     spec.size, options, spec.group)
                              if spec.size else None)
    return state, {
        "cross_validation": summarise([s.test for s in evidence.cv]) if evidence.cv else None,
        "noise": repeat_noise(frame, spec.target, spec.group),
        "extrapolation": (extrapolation_summary(evidence.extrapolation, frame, spec.size)
                          if evidence.extrapolation is not None and spec.size else None),
    }, evidence


def _compose(table: pd.DataFrame, spec: TrainSpec, options: FitOptions,
             groups: dict[str, Any], metrics: dict[str, Any],
             evidence: dict[str, GroupEvidence]) -> dict[str, str]:
    """Each whole workflow's model becomes the replay of its steps' (`model.compose`)
    where the table allows (a `wall_s` target, groups by workflow and step, a workflow
    GenScale can plan, pre-run features only: a step's post-step reports are not known
    for the whole workflow's row, and the cores its runs had) and where the replay
    predicts the workflow's runs better out of fold than its single law on the makespan.
    The single law stays in the group, and its metrics under `single_law`; the group's
    own metrics are those of the choice, made inside each split. Returns why each
    workflow that was not composed was not."""
    not_composed: dict[str, str] = {}
    if spec.target not in COMPOSABLE or spec.by != ["workflow", "step"]:
        return not_composed
    for key in [k for k in groups if k.endswith(KEY_SEP + WORKFLOW_STEP)]:
        workflow = key[: -len(KEY_SEP + WORKFLOW_STEP)]
        steps = {k[len(workflow + KEY_SEP):]: k for k in groups
                 if k.startswith(workflow + KEY_SEP) and k != key}
        rows = table[(table["workflow"].astype(str) == workflow)
                     & (table["step"] != WORKFLOW_STEP)]
        shape = workflow_shape(workflow, steps) if steps else None
        cores = observed_cores(rows)
        if post_step_features(spec.features):
            not_composed[workflow] = "post-step features"
        elif shape is None:
            not_composed[workflow] = "not a workflow GenScale can plan, or steps it lacks"
        elif cores is None:
            not_composed[workflow] = "no start_time, end_time and threads_requested"
        else:
            composed = compose_workflow(evidence[key],
                                        {s: evidence[k] for s, k in steps.items()},
                                        shape, cores, options, spec.size)
            if composed is None:
                not_composed[workflow] = "its steps' rows or splits differ from its own"
                continue
            composition, composed_metrics = composed
            if metrics.get(key):
                single = {m: metrics[key][m] for m in ("cross_validation", "extrapolation")}
                metrics[key].update(composed_metrics, single_law=single)
            if composition["chosen"]:
                groups[key]["composed"] = composition
            else:
                errors = composition["log_mse"]
                not_composed[workflow] = (
                    f"its single law predicted its runs better out of fold (log MSE "
                    f"{errors['single_law']:.4f} against {errors['composed']:.4f} replayed)")
    return not_composed


def _metadata(usable: pd.DataFrame, spec: TrainSpec, options: FitOptions,
              counts: dict[str, int], kinds: dict[str, list[str]],
              metrics: dict[str, Any]) -> dict[str, Any]:
    ranges = {c: [_finite(usable[c].min()), _finite(usable[c].max())]
              for c in spec.features if pd.api.types.is_numeric_dtype(usable[c])}
    return {
        "format": "genscale-model/1", "created": time.time(), **asdict(spec),
        "options": asdict(options), "feature_ranges": ranges,
        "training_sha256": hashlib.sha256(
            pd.util.hash_pandas_object(usable, index=False).to_numpy().tobytes()).hexdigest(),
        "rows": counts, "kinds": kinds, "metrics": metrics,
        "versions": {"genscale": __version__, "python": platform.python_version(),
                     "numpy": np.__version__, "pandas": pd.__version__,
                     "scikit-learn": _sklearn_version()},
    }


def _sklearn_version() -> str:
    import sklearn  # training only: see estimator's docstring

    return str(sklearn.__version__)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def save(out: Path, groups: dict[str, Any], meta: dict[str, Any],
         plain_pickle: bool = False) -> None:
    """Write the bundle's files, each whole or not at all (a temporary name, renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    groups = {key: plain(state) for key, state in groups.items()}
    text = json.dumps({"format": GROUPS_FORMAT, "groups": groups}, default=_array_json,
                      separators=(",", ":"))
    # mtime 0: the same groups give the same bytes
    atomic_write_bytes(out / GROUPS_FILE, gzip.compress(text.encode("utf-8"), mtime=0))
    (out / LEGACY_GROUPS_FILE).unlink(missing_ok=True)  # a bundle rewritten in place
    if plain_pickle:
        atomic_write_bytes(out / "model.pkl", pickle.dumps({"groups": groups}))
    atomic_write_json(out / "model.json", _jsonable(meta))


def _array_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} has no place in a bundle")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def _bundle_files(bundle: Path) -> tuple[Path, Path]:
    """(the groups file, model.json); UserError when `bundle` is not a bundle."""
    meta_file = bundle / "model.json"
    for name in (GROUPS_FILE, LEGACY_GROUPS_FILE):
        if (bundle / name).is_file() and meta_file.is_file():
            return bundle / name, meta_file
    raise UserError(f"{bundle}: not a model bundle ({GROUPS_FILE} and model.json expected)")


def load_meta(bundle: Path) -> dict[str, Any]:
    """The bundle's model.json alone (no estimator is loaded)."""
    return _read_meta(_bundle_files(bundle)[1], ("target", "features", "by", "metrics"))


def _read_meta(meta_file: Path, required: tuple[str, ...]) -> dict[str, Any]:
    """model.json as a dict with the `required` keys; UserError naming the file otherwise."""
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{meta_file}: not a model.json GenScale wrote ({exc})") from None
    lacking = [k for k in required if not isinstance(meta, dict) or k not in meta]
    if lacking:
        raise UserError(f"{meta_file}: not a model.json GenScale wrote (no "
                        f"{', '.join(lacking)})")
    return dict(meta)


def load(bundle: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(groups, metadata). UserError naming the file when it is damaged or not a bundle's."""
    groups_file, meta_file = _bundle_files(bundle)
    legacy = groups_file.name == LEGACY_GROUPS_FILE
    groups = _load_skops(groups_file) if legacy else _load_groups(groups_file)
    try:  # a 0.10 bundle's fitted estimators become their plain form (`estimator.plain`)
        groups = {str(key): _checked_state(plain(state) if legacy else state)
                  for key, state in groups.items()}
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UserError(f"{groups_file}: not a model file GenScale wrote "
                        f"({type(exc).__name__}: {str(exc)[:120]})") from None
    return groups, _read_meta(meta_file, ("target", "features", "by"))


def _load_groups(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rb") as f:
            data = f.read(MAX_GROUPS_BYTES + 1)
        if len(data) > MAX_GROUPS_BYTES:
            raise UserError(f"{path}: inflates past {MAX_GROUPS_BYTES >> 20} MiB; "
                            "not a model file GenScale wrote")
        content = json.loads(data.decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a readable model file ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None
    if not (isinstance(content, dict) and content.get("format") == GROUPS_FORMAT
            and isinstance(content.get("groups"), dict)):
        raise UserError(f"{path}: not a model file GenScale wrote (no {GROUPS_FORMAT!r} "
                        "groups)")
    return dict(content["groups"])


def _checked_state(state: Any) -> dict[str, Any]:
    """A group's state (`model.state.GroupState`) with its ensembles' arrays as numpy
    arrays; ValueError (or the like) when it lacks what prediction reads."""
    if not isinstance(state, dict):
        raise TypeError("a group is not a mapping")
    law = state["law"]
    if not (isinstance(law, list) and len(law) >= 3
            and all(isinstance(v, int | float) for v in law)):
        raise ValueError("a group's law is not a list of numbers")
    if not isinstance(state["quantiles"], dict):
        raise TypeError("a group's quantiles are not a mapping")
    beyond = state.get("beyond")
    if beyond is not None:
        weight = beyond.get("line_weight", 0.0)
        numbers = [*beyond["line"], beyond["size_max"], weight, beyond.get("own_level", 0.0)]
        if not (len(beyond["line"]) == 2 and all(isinstance(v, int | float) for v in numbers)
                and 0 <= weight <= 1
                and isinstance(beyond.get("tangent_floor", False), bool)):
            raise ValueError("a group's growth past its training sizes is not numbers")
    out = dict(state)
    if is_trees(out.get("residual_model")):
        out["residual_model"] = with_arrays(out["residual_model"])
    tail = out.get("tail")
    if isinstance(tail, dict) and is_trees(tail.get("classifier")):
        out["tail"] = {**tail, "classifier": with_arrays(tail["classifier"])}
    return out


def _load_skops(path: Path) -> dict[str, Any]:
    """A bundle of 0.10 or before: its groups, through skops, trusting `TRUSTED_TYPES`."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    # skops reads a zip of JSON and never runs code for the types it is told to trust (it
    # refuses a file holding others before building anything: one pass over the file, not
    # a get_untrusted_types pass and a load pass); a damaged file fails in zipfile, zlib or
    # json, which is the file's fault, not ours
    damaged = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, TypeError,
               AttributeError, IndexError)
    try:
        return dict(sio.load(path, trusted=TRUSTED_TYPES)["groups"])
    except UntrustedTypesFoundException:
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        raise UserError(f"{path}: holds types this version does not trust: "
                        f"{', '.join(sorted(untrusted))}") from None
    except damaged as exc:
        raise UserError(f"{path}: not a readable model file ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None


def predict(groups: dict[str, Any], meta: dict[str, Any], table: pd.DataFrame) -> pd.DataFrame:
    """The rows of `table` plus `predicted_<target>`, its quantiles and the tail columns.
    Rows of a group the bundle has no model for get NaN."""
    target = meta["target"]
    missing = [c for c in [*meta["features"], *meta["by"]] if c not in table.columns]
    if missing:
        raise UserError(f"the table lacks the model's columns: {', '.join(missing[:10])}")
    out = table.copy()
    names = {"predicted": f"predicted_{target}", "p50": f"predicted_{target}_p50",
             "p90": f"predicted_{target}_p90", "p99": f"predicted_{target}_p99",
             "tail_probability": "tail_probability", "tail": "predicted_tail"}
    for column in names.values():
        out[column] = np.nan
    for key, frame in _groups(table, meta["by"]):
        if key not in groups:
            continue
        predicted = _predict_key(groups, meta, key, frame)
        for source, column in names.items():
            out.loc[frame.index, column] = predicted[source].to_numpy()
    return out


def _step_frames(groups: dict[str, Any], key: str, frame: pd.DataFrame
                 ) -> tuple[list[StepShape], int, list[tuple[str, dict[str, Any], pd.DataFrame]]]:
    """A composed workflow's shape, cores, and each step's (name, state, `frame` as that
    step's rows)."""
    shape, cores = shape_of(groups[key]["composed"])
    workflow = key[: -len(KEY_SEP + WORKFLOW_STEP)]
    return shape, cores, [(s.step, groups[group_key((workflow, s.step))],
                           frame.assign(step=s.step)) for s in shape]


def _replayed_typical_s(shape: list[StepShape], cores: int,
                        steps: list[tuple[str, dict[str, Any], pd.DataFrame]],
                        size: str | None) -> np.ndarray:
    """The replay of the steps' typical values (`estimator.typical_log`)."""
    typicals = {step: np.exp(typical_log(state, rows, size)) for step, state, rows in steps}
    return makespans_s(shape, pd.DataFrame(typicals), cores)


def _group_typical_log(groups: dict[str, Any], meta: dict[str, Any], key: str,
                       frame: pd.DataFrame) -> np.ndarray:
    """The log of the typical value group `key`'s tail is measured against: its own, or
    for a composed workflow the replay of its steps' (`model.compose`)."""
    if "composed" not in groups[key]:
        return typical_log(groups[key], frame, meta["size"])
    return np.log(_replayed_typical_s(*_step_frames(groups, key, frame), meta["size"]))


def _predict_key(groups: dict[str, Any], meta: dict[str, Any], key: str,
                 frame: pd.DataFrame) -> pd.DataFrame:
    """The predictions of group `key` for `frame`, as `predict_group` gives them. A
    composed workflow's are the replay of its steps' predictions of the same rows."""
    if "composed" not in groups[key]:
        return predict_group(groups[key], frame, meta["features"], meta["size"])
    shape, cores, steps = _step_frames(groups, key, frame)
    points = {step: predict_group(state, rows, meta["features"],
                                  meta["size"])["predicted"].to_numpy()
              for step, state, rows in steps}
    predicted = makespans_s(shape, pd.DataFrame(points), cores)
    typical = _replayed_typical_s(shape, cores, steps, meta["size"])
    out = predict_composition(groups[key]["composed"], predicted, typical)
    return out.set_index(frame.index)


def evaluate(groups: dict[str, Any], meta: dict[str, Any], table: pd.DataFrame
             ) -> dict[str, Any]:
    """The bundle's metrics on `table` (held-out data), per group and for all rows, with
    the baselines it stored."""
    target = meta["target"]
    predicted = predict(groups, meta, table)
    y = pd.to_numeric(predicted[target], errors="coerce")
    rows = predicted[y.notna() & (y > 0) & predicted[f"predicted_{target}"].notna()]
    if rows.empty:
        raise UserError(f"no row of the table has both {target} and a model for its group")
    out: dict[str, Any] = {}
    for key, frame in [*_groups(rows, meta["by"]), ("all", rows)]:
        if key == "all" and not meta["by"]:
            continue
        truth = frame[target].to_numpy(dtype=float)
        result = {"model": point_metrics(truth, frame[f"predicted_{target}"].to_numpy())}
        if key in groups:
            baselines = predict_baselines(groups[key]["baselines"], frame, meta["size"])
            result.update({m: point_metrics(truth, v) for m, v in baselines.items()})
            labels = tail_labels(np.log(truth), _group_typical_log(groups, meta, key, frame),
                                 meta["options"]["tail_k"])
            result["tail"] = tail_metrics(labels, frame["tail_probability"].to_numpy(),
                                          frame["predicted_tail"].to_numpy())
        out[key] = result
    return _jsonable(out)


@dataclass
class Bundle:
    """A trained model: one fitted group per value of the `by` columns, and its metadata
    (what model.json holds: target, features, training ranges, metrics, versions).

        bundle = genscale.Bundle.train(table, "wall_s")  # or genscale.Bundle.load(PATH)
        rows = bundle.predict(new_rows)   # + predicted_wall_s, its p50/p90/p99, tail columns
        bundle.save(Path("my-model"))

    `table` is any DataFrame with the target and feature columns: a model table
    (`genscale model dataset`), an imported trace, a user's own CSV read with pandas.
    """

    groups: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def train(cls, table: pd.DataFrame, target: str, features: list[str] | None = None,
              by: list[str] | None = None, group: str | None = None,
              size: str | None = None, pilot: bool = False,
              options: FitOptions | None = None, evaluate: bool = True,
              jobs: int = 1) -> Bundle:
        """Fit one model per group of `by` (default: workflow and step, where the table
        has them) on the rows with a positive `target`. Left out, `features` are what is
        known before a run (or every numeric column of a foreign table), `group` keeps a
        dataset's runs in one fold, and `size` is chosen (`model.size.choose_size`).
        `evaluate`: measure the held-out metrics (cross-validation, size extrapolation)
        into the metadata. UserError (one line) for a name the table lacks."""
        spec = default_spec(table, target, features, by, group, size, pilot)
        groups, meta = train(table, spec, options or FitOptions(), evaluate, jobs)
        return cls(groups, meta)

    @classmethod
    def load(cls, path: Path | str) -> Bundle:
        """A bundle directory written by `save` (or by 0.10 and before); UserError naming
        the file when it is damaged. Reading runs no code."""
        groups, meta = load(Path(path))
        return cls(groups, meta)

    def save(self, path: Path | str, pickle: bool = False) -> None:
        """Write the bundle's files under `path`, each whole or not at all."""
        save(Path(path), self.groups, self.metadata, plain_pickle=pickle)

    @property
    def target(self) -> str:
        return str(self.metadata["target"])

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """`table`'s rows plus `predicted_<target>`, `predicted_<target>_p50/_p90/_p99`,
        `tail_probability` and `predicted_tail`; NaN for a group the bundle lacks."""
        return predict(self.groups, self.metadata, table)

    def evaluate(self, table: pd.DataFrame) -> dict[str, Any]:
        """Its metrics on held-out rows of `table`, per group and overall, beside the
        baselines (`median`, `line`) it stored."""
        return evaluate(self.groups, self.metadata, table)
