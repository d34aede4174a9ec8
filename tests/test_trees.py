"""Plain tree ensembles (`model.trees`) predict as scikit-learn does, to the bit, and
bundles of 0.10 (model.skops) still load and predict as they did."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from genscale.errors import UserError
from genscale.model import bundle, trees
from genscale.model.estimator import fit_point, predict_group
from genscale.model.options import FitOptions

from .test_model import synthetic_table

RNG = np.random.default_rng(5)
TRAIN = RNG.normal(size=(600, 3))
TRAIN[RNG.random(TRAIN.shape) < 0.1] = np.nan  # the trees learn where missing values go
TARGET = np.nan_to_num(TRAIN[:, 0]) * 2 + np.nan_to_num(TRAIN[:, 1]) ** 2
REGRESSOR = HistGradientBoostingRegressor(max_leaf_nodes=8, random_state=0).fit(TRAIN, TARGET)
CLASSIFIER = HistGradientBoostingClassifier(max_leaf_nodes=8, class_weight="balanced",
                                            random_state=0).fit(TRAIN, TARGET > 2)

cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                 st.floats(-4, 4), st.just(float("nan")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=40))
def test_plain_trees_predict_what_scikit_learn_predicts(rows: list[tuple[float, ...]]) -> None:
    x = np.array(rows, dtype=float)
    regressor, classifier = trees.from_sklearn(REGRESSOR), trees.from_sklearn(CLASSIFIER)
    assert np.array_equal(trees.predict(regressor, x), REGRESSOR.predict(x))
    assert np.array_equal(trees.predict(classifier, x), CLASSIFIER.predict_proba(x)[:, 1])


def test_plain_trees_survive_json_and_refuse_what_is_not_an_ensemble() -> None:
    x = RNG.normal(size=(5000, 3)) * 3
    model = trees.with_arrays(json.loads(json.dumps(trees.from_sklearn(REGRESSOR),
                                                    default=lambda a: a.tolist())))
    assert np.array_equal(trees.predict(model, x), REGRESSOR.predict(x))
    broken = {**model, "left": np.append(model["left"][:-1], len(model["value"]) + 3)}
    with pytest.raises(ValueError, match="left points outside"):
        trees.with_arrays(broken)
    with pytest.raises(ValueError, match="feature columns expected"):
        trees.predict(model, x[:, :2])


def test_a_bundle_of_0_10_loads_and_predicts_as_its_estimators_did(tmp_path: Path) -> None:
    table = synthetic_table(150)
    features = ["input_bytes", "quality", "adapters"]
    frame = table[table["app"] == "bwa"].reset_index(drop=True)
    state = fit_point(frame, "wall_s", features, "input_bytes", 1)
    assert isinstance(state["residual_model"], HistGradientBoostingRegressor)
    state.update(quantiles={"0.5": 0.0, "0.9": 0.2}, tail={
        "classifier": CLASSIFIER.fit(frame[["input_bytes", "quality", "adapters"]]
                                     .to_numpy()[:, :3], frame["adapters"] > 0.5),
        "threshold": 0.5, "positives": 3, "features": ["quality", "adapters"]})
    out = tmp_path / "old"
    out.mkdir()
    sio.dump({"groups": {"bwa": state}}, out / "model.skops")
    meta = {"target": "wall_s", "features": features, "by": ["app"], "size": "input_bytes",
            "group": None, "metrics": {}}
    (out / "model.json").write_text(json.dumps(meta))
    groups, _ = bundle.load(out)
    assert groups["bwa"]["residual_model"]["kind"] == "trees"
    expected = predict_group(state, frame, features, "input_bytes")
    got = predict_group(groups["bwa"], frame, features, "input_bytes")
    pd.testing.assert_frame_equal(expected, got, check_exact=True)


def test_a_damaged_groups_file_is_one_line(tmp_path: Path) -> None:
    table = synthetic_table(60)
    spec = bundle.default_spec(table, "wall_s", ["input_bytes", "quality"], ["app"],
                               "run_id", None)
    groups, meta = bundle.train(table, spec, FitOptions(), evaluate=False)
    bundle.save(tmp_path / "b", groups, meta)
    path = tmp_path / "b" / bundle.GROUPS_FILE
    text = gzip.decompress(path.read_bytes()).decode()
    for damaged in (path.read_bytes()[:100], b"not gzip",
                    gzip.compress(text.replace('"law"', '"wal"').encode()),
                    gzip.compress(text.replace('"roots":[', '"roots":[99999,').encode())):
        path.write_bytes(damaged)
        with pytest.raises(UserError, match=r"model\.groups\.json\.gz: not a"):
            bundle.load(tmp_path / "b")


def test_a_damaged_growth_past_the_training_sizes_is_one_line(tmp_path: Path) -> None:
    """`line_weight` and `tangent_floor` are read at every prediction past the training
    sizes: a bundle whose weight is not a number from 0 to 1, whose floor is not true or
    false, or whose line is not two numbers, is refused on load with the file's name."""
    table = synthetic_table(60)
    spec = bundle.default_spec(table, "wall_s", ["input_bytes", "quality"], ["app"],
                               "run_id", "input_bytes")
    groups, meta = bundle.train(table, spec, FitOptions(), evaluate=False)
    bundle.save(tmp_path / "b", groups, meta)
    path = tmp_path / "b" / bundle.GROUPS_FILE
    content = json.loads(gzip.decompress(path.read_bytes()))
    bundle.load(tmp_path / "b")  # as written: fine
    for key, value in (("line_weight", "x"), ("line_weight", 7.0), ("line", [1.0]),
                       ("tangent_floor", "yes"), ("tangent_floor", 1)):
        damaged = json.loads(json.dumps(content))
        damaged["groups"]["bwa"]["beyond"][key] = value
        path.write_bytes(gzip.compress(json.dumps(damaged).encode()))
        with pytest.raises(UserError, match=r"model\.groups\.json\.gz: not a model file"):
            bundle.load(tmp_path / "b")


def test_a_fitted_groups_keys_are_the_ones_state_names() -> None:
    """Every key a fit writes is named in `model.state` (one typed place)."""
    import pandas as pd

    from genscale.model.bundle import Bundle
    from genscale.model.state import Beyond, GroupState, Tail, Typical

    rng = np.random.default_rng(5)
    n = 80
    size = np.exp(rng.uniform(np.log(1e6), np.log(1e8), n))
    quality = rng.uniform(0, 1, n)
    slow = np.where(rng.uniform(0, 1, n) > 0.9, 3.0, 1.0)
    table = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "step": "align",
                          "input_bytes": size, "quality": quality,
                          "wall_s": 2e-6 * size * np.exp(0.5 * quality) * slow})
    bundle = Bundle.train(table, "wall_s", features=["input_bytes", "quality"],
                          evaluate=False)
    state = bundle.groups["align"]
    assert set(state) <= set(GroupState.__annotations__), set(state)
    assert set(state["typical"]) <= set(Typical.__annotations__)
    assert set(state["beyond"]) <= set(Beyond.__annotations__)
    assert set(state["tail"]) <= set(Tail.__annotations__)
