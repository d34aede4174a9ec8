"""Models: the model table's leakage guard, the estimator's extrapolation, bundles, CLI."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingRegressor

from genscale.errors import UserError
from genscale.model import bundle, estimator, evaluate
from genscale.model.dataset import WORKFLOW_STEP, model_table, report_source
from genscale.model.estimator import (
    FitOptions,
    binned,
    fit_group,
    fit_point,
    predict_group,
    predict_log,
)
from genscale.model.evaluate import cross_validate, extrapolate
from genscale.quality.table import run_features
from genscale.report.model_metrics import metrics_markdown
from genscale.store.corpus import export_corpus
from genscale.store.rundir import RunDirectory, atomic_write_json

from .conftest import GENSCALE

pytestmark = pytest.mark.slow  # trains bundles with cross-validation (110 s)


def synthetic_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Runtime = 2e-6 * size^1.2 * exp(0.6 * quality) * noise, for two apps; a tail of
    slow runs where `adapters` is high."""
    rng = np.random.default_rng(seed)
    rows = []
    for app, scale in (("bwa", 1.0), ("picard", 0.3)):
        size = np.exp(rng.uniform(np.log(1e6), np.log(5e7), n))
        quality = rng.uniform(0, 1, n)
        adapters = rng.uniform(0, 1, n)
        noise = np.exp(rng.normal(0, 0.05, n))
        slow = np.where(adapters > 0.85, 2.5, 1.0)
        wall = scale * 2e-6 * size**1.2 * np.exp(0.6 * quality) * slow * noise
        rows.append(pd.DataFrame({"app": app, "run_id": [f"{app}-{i}" for i in range(n)],
                                  "input_bytes": size, "quality": quality,
                                  "adapters": adapters, "reads": size / 250, "wall_s": wall}))
    return pd.concat(rows, ignore_index=True)


def test_extrapolates_to_five_times_larger_inputs() -> None:
    table = synthetic_table()
    frame = table[table["app"] == "bwa"].reset_index(drop=True)
    result = extrapolate(frame, "wall_s", ["input_bytes", "quality", "adapters", "reads"],
                         "input_bytes", FitOptions(), "run_id")
    assert result is not None
    assert result["test_min_size"] >= 5 * result["train_max_size"]
    # the law carries the model beyond the sizes seen; the straight line does not
    assert result["model"]["mdape"] < 12
    assert result["model"]["mdape"] < result["line"]["mdape"] / 2
    assert result["model"]["r2"] > result["line"]["r2"]
    # trees alone stay flat beyond the largest training input: they under-predict
    small = frame[frame["input_bytes"] <= result["train_max_size"]]
    large = frame[frame["input_bytes"] >= 5 * result["train_max_size"]]
    trees = HistGradientBoostingRegressor(random_state=1).fit(
        small[["input_bytes", "quality"]], small["wall_s"])
    assert (trees.predict(large[["input_bytes", "quality"]]) < large["wall_s"]).mean() > 0.9


def test_extrapolation_trains_up_to_a_chosen_size() -> None:
    """A cut given by hand replaces the rule's: the training rows end at it, the test rows
    start at 5x it, and a cut nothing lies 5x beyond gives no test."""
    frame = synthetic_table()
    frame = frame[frame["app"] == "bwa"].reset_index(drop=True)
    features = ["input_bytes", "quality", "adapters", "reads"]
    cut = 3e6
    result = extrapolate(frame, "wall_s", features, "input_bytes", FitOptions(), "run_id",
                         cut=cut)
    assert result is not None
    assert result["train_max_size"] <= cut <= result["test_min_size"] / 5
    assert result["n_train"] == int((frame["input_bytes"] <= cut).sum())
    assert result["model"]["n"] == int((frame["input_bytes"] >= 5 * cut).sum())
    assert extrapolate(frame, "wall_s", features, "input_bytes", FitOptions(), "run_id",
                       cut=2e7) is None


def test_machine_factor_keeps_the_law_straight_on_a_mixed_corpus() -> None:
    """Runtime = (2 + 2e-6 * size) x 1.6 on the slow machine, which ran mostly the
    larger inputs. Fitted without knowing the machine, the law's slope takes the machine's
    blame and overshoots 5x larger inputs; with the indicators it does not."""
    rng = np.random.default_rng(3)
    n = 300
    size = np.exp(rng.uniform(np.log(1e6), np.log(5e7), n))
    share = (np.log(size) - np.log(1e6)) / (np.log(5e7) - np.log(1e6))
    slow = (rng.uniform(0, 1, n) < 0.1 + 0.8 * share).astype(float)
    wall = (2.0 + 2e-6 * size) * np.where(slow == 1, 1.6, 1.0) * np.exp(rng.normal(0, 0.03, n))
    frame = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "input_bytes": size,
                          "machine.cpu_model=fast": 1 - slow, "machine.cpu_model=slow": slow,
                          "wall_s": wall})
    with_machine = extrapolate(frame, "wall_s", ["input_bytes", "machine.cpu_model=fast",
                                                 "machine.cpu_model=slow"],
                               "input_bytes", FitOptions(), "run_id")
    blind = extrapolate(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions(),
                        "run_id")
    assert with_machine is not None and blind is not None
    assert with_machine["model"]["mdape"] < 10
    assert with_machine["model"]["mdape"] < blind["model"]["mdape"] / 2


def test_each_group_takes_the_learner_that_predicts_its_held_out_folds_better() -> None:
    """50 runs whose time per read rises smoothly with the reads' errors and falls with
    what the trim drops: the ridge line. 240 runs with a step (slow above an adapter
    level): the trees."""
    rng = np.random.default_rng(5)
    n = 50
    size = np.exp(rng.uniform(np.log(1e6), np.log(1e7), n))
    errors, surviving = rng.uniform(0, 3, n), rng.uniform(0.2, 1.0, n)
    wall = 1e-5 * size * np.exp(0.7 * errors) * surviving * np.exp(rng.normal(0, 0.05, n))
    smooth = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "input_bytes": size,
                           "errors": errors, "surviving": surviving, "wall_s": wall})
    features = ["input_bytes", "errors", "surviving"]
    state = fit_group(smooth, "wall_s", features, "input_bytes", FitOptions(),
                      smooth["run_id"])
    assert state["learner"] == "ridge"
    result = cross_validate(smooth, "wall_s", features, "input_bytes", FitOptions(), "run_id")
    assert result is not None and result["model"]["r2"] > 0.95

    step = synthetic_table()
    step = step[step["app"] == "bwa"].reset_index(drop=True)
    state = fit_group(step, "wall_s", ["input_bytes", "quality", "adapters"], "input_bytes",
                      FitOptions(), step["run_id"])
    assert state["learner"] == "trees"


def test_a_rare_tail_that_a_feature_marks_is_learnt_from_two_runs() -> None:
    """Runs take 3x longer where one feature is 0 (as dnaseq's runs whose reads all get
    trimmed away, 6 of 200, of which a training fold may hold only two). Trained on 200
    runs with two such, the classifier calls the new ones tail and nothing else."""
    rng = np.random.default_rng(11)

    def runs(n: int, slow: int) -> pd.DataFrame:
        size = np.exp(rng.uniform(np.log(1e6), np.log(1e7), n))
        surviving = rng.uniform(20, 100, n)
        surviving[:slow] = 0.0
        wall = (5 + 1e-6 * size) * np.where(surviving == 0, 3.0, 1.0) * np.exp(
            rng.normal(0, 0.05, n))
        return pd.DataFrame({"run_id": [f"r{slow}-{i}" for i in range(n)],
                             "input_bytes": size, "surviving": surviving,
                             "noise": rng.uniform(0, 1, n), "wall_s": wall})

    train, new = runs(200, 2), runs(40, 4)
    features = ["input_bytes", "surviving", "noise"]
    state = fit_group(train, "wall_s", features, "input_bytes", FitOptions(), train["run_id"])
    assert state["tail"]["positives"] == 2 and state["tail"]["classifier"] is not None
    called = predict_group(state, new, features, "input_bytes")["tail"].to_numpy()
    assert called.tolist() == [1] * 4 + [0] * 36


def test_bundle_trains_reloads_and_predicts_the_same(tmp_path: Path) -> None:
    table = synthetic_table()
    spec = bundle.default_spec(table, "wall_s", ["input_bytes", "quality", "adapters"],
                               ["app"], "run_id", None)
    assert spec.size == "input_bytes"
    groups, meta = bundle.train(table, spec, FitOptions(tail_k=1.8))
    cv = meta["metrics"]["bwa"]["cross_validation"]
    assert cv["model"]["r2"] > 0.9 and cv["model"]["r2"] > cv["line"]["r2"]
    assert cv["tail"]["recall"] >= 0.7 and cv["tail"]["auc"] > 0.85
    assert 0.8 <= cv["coverage"]["p90"] <= 0.97
    bundle.save(tmp_path / "b", groups, meta, plain_pickle=True)
    again, meta_again = bundle.load(tmp_path / "b")
    first = bundle.predict(groups, meta, table)
    second = bundle.predict(again, meta_again, table)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert (first["predicted_wall_s_p99"] >= first["predicted_wall_s_p90"]).all()
    saved = json.loads((tmp_path / "b" / "model.json").read_text())
    assert saved["features"] == ["input_bytes", "quality", "adapters"]
    assert len(saved["training_sha256"]) == 64 and saved["versions"]["scikit-learn"]
    assert (tmp_path / "b" / "model.pkl").is_file()
    # the groups are plain data: gzipped JSON, no object of any library's class
    with gzip.open(tmp_path / "b" / "model.groups.json.gz", "rt") as groups_file:
        plain_groups = json.load(groups_file)["groups"]
    assert plain_groups["bwa"]["residual_model"]["kind"] == "trees"
    assert not (tmp_path / "b" / "model.skops").exists()


def test_groups_fitted_in_several_processes_give_the_same_bundle() -> None:
    table = synthetic_table(120)
    spec = bundle.default_spec(table, "wall_s", ["input_bytes", "quality", "adapters"],
                               ["app"], "run_id", None)
    one_groups, one_meta = bundle.train(table, spec, FitOptions())
    two_groups, two_meta = bundle.train(table, spec, FitOptions(), jobs=2)
    assert list(two_meta["metrics"]) == ["bwa", "picard"]
    assert json.dumps(two_meta["metrics"], sort_keys=True) == json.dumps(one_meta["metrics"],
                                                                          sort_keys=True)
    pd.testing.assert_frame_equal(bundle.predict(one_groups, one_meta, table),
                                  bundle.predict(two_groups, two_meta, table))


def test_a_feature_empty_in_one_group_does_not_break_its_tail(tmp_path: Path) -> None:
    """A column only one kind of run has (STAR's, say) is all NaN in the other groups: the
    tail classifier there is trained without it, and predicts."""
    table = synthetic_table()
    table["picard_only"] = np.where(table["app"] == "picard", table["quality"], np.nan)
    features = ["input_bytes", "quality", "adapters", "picard_only"]
    spec = bundle.default_spec(table, "wall_s", features, ["app"], "run_id", None)
    groups, meta = bundle.train(table, spec, FitOptions(tail_k=1.8))
    tail = groups["bwa"]["tail"]
    assert tail["classifier"] is not None and "picard_only" not in tail["features"]
    assert "picard_only" in groups["picard"]["tail"]["features"]
    predicted = bundle.predict(groups, meta, table)
    assert predicted["tail_probability"].notna().all()


def test_run_to_run_noise_of_repeated_inputs_bounds_r2() -> None:
    """Inputs run three times each, 10% apart run to run, on two machines 1.6x apart: the
    noise is the spread within an input on one machine, not the machines' difference."""
    rng = np.random.default_rng(5)
    inputs = 60
    mean_s = np.exp(rng.uniform(np.log(5), np.log(50), inputs))
    machine = np.where(np.arange(inputs) % 2 == 0, "amd", "intel")
    rows = pd.DataFrame({
        "dataset_id": np.repeat([f"d{i}" for i in range(inputs)], 3),
        "run_id": [f"d{i}-r{r}" for i in range(inputs) for r in (1, 2, 3)],
        "cpu_model": np.repeat(machine, 3),
        "size": np.repeat(mean_s, 3),
        "wall_s": np.repeat(mean_s * np.where(machine == "intel", 1.6, 1.0), 3)
        * np.exp(rng.normal(0, 0.1, 3 * inputs))})
    noise = evaluate.repeat_noise(rows, "wall_s", "dataset_id")
    assert noise is not None and (noise["inputs"], noise["runs"]) == (60, 180)
    assert 8 < noise["run_to_run_sd_percent"] < 12
    expected = 1 - noise["within_sd"] ** 2 / rows["wall_s"].var()
    assert noise["r2_ceiling"] == pytest.approx(expected) and 0.9 < expected < 1
    # without the machine the two machines' runs of an input would not differ: same here
    assert evaluate.repeat_noise(rows.drop(columns="cpu_model"), "wall_s", "dataset_id")[
        "run_to_run_sd_percent"] == pytest.approx(noise["run_to_run_sd_percent"])
    once = rows.drop_duplicates("dataset_id")
    assert evaluate.repeat_noise(once, "wall_s", "dataset_id") is None
    # runs of one input are one group of the folds by default
    spec = bundle.default_spec(rows, "wall_s", ["size"], None, None, None)
    assert spec.group == "dataset_id"
    _, meta = bundle.train(rows.assign(app="x"), bundle.default_spec(
        rows.assign(app="x"), "wall_s", ["size"], ["app"], None, None), FitOptions())
    assert meta["metrics"]["x"]["noise"]["r2_ceiling"] == pytest.approx(
        noise["r2_ceiling"])
    shown = metrics_markdown(meta).split("run-to-run noise")[1]  # `genscale model show`
    assert f"| x | 60 | 180 | {noise['run_to_run_sd_percent']:.1f} | " in shown


def test_a_ridge_line_holds_its_last_value_beyond_the_training_range() -> None:
    """A quality value far outside the training rows' (a hiccup in a measurement) does not
    carry the line, and the law it multiplies, past what was seen."""
    rng = np.random.default_rng(6)
    n = 80
    quality = rng.uniform(0, 1, n)
    frame = pd.DataFrame({"size": np.exp(rng.uniform(np.log(1e6), np.log(1e7), n)),
                          "quality": quality})
    frame["wall_s"] = frame["size"] / 1e6 * np.exp(2 * quality) * rng.lognormal(0, 0.02, n)
    state = fit_point(frame, "wall_s", ["size", "quality"], "size", 1, learner="ridge")
    edge = frame.iloc[[0, 0, 0]].assign(quality=[frame["quality"].max(), 5.0, 50.0])
    predicted = np.exp(predict_log(state, edge, "size"))
    assert predicted[1] == pytest.approx(predicted[0]) and predicted[2] == pytest.approx(
        predicted[0])


def test_bundle_with_an_untrusted_type_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    # skops trusts scikit-learn's own types by default; anything else must be on our list
    sio.dump({"groups": {"x": {"law": Fraction(1, 3)}}}, out / "model.skops")
    (out / "model.json").write_text("{}")
    with pytest.raises(UserError, match=r"does not trust: fractions\.Fraction"):
        bundle.load(out)


def one_run_corpus(run: RunDirectory, tmp_path: Path) -> Path:
    """A corpus of one real dnaseq run (the session's), as a campaign would close it."""
    campaign = tmp_path / "campaign"
    shutil.copytree(run.path, campaign / "runs" / run.path.name, symlinks=True)
    point = {"point_id": run.path.name, "workflow": "dnaseq", "kind": "dna",
             "genome_bases": 300_000, "pairs": 30_000, "preset": "clean", "seed": 3,
             "repeat": 1, "knobs": {}}
    atomic_write_json(campaign / "runs" / run.path.name / "features.json",
                      {"point": point, "features": run_features(run.path)})
    export_corpus(campaign, tmp_path / "corpus")
    return tmp_path / "corpus"


def test_model_table_guards_against_leakage(dnaseq_run: RunDirectory, tmp_path: Path) -> None:
    corpus = one_run_corpus(dnaseq_run, tmp_path)
    pre = model_table(corpus)
    assert not [c for c in pre.columns if report_source(c)]  # pre-run: no report at all
    assert pre["fastq_1.quality_mean"].notna().all()
    assert (pre["dataset_id"] == dnaseq_run.path.name).all()  # its point id has no -rN
    assert (pre.loc[pre["step"] == WORKFLOW_STEP, "wall_s"] > 0).all()
    post = model_table(corpus, post_step=True).set_index("step")
    dup = [c for c in post.columns if c.startswith("picard.DuplicationMetrics.")]
    trim = [c for c in post.columns if c.startswith("trimmomatic.")]
    assert dup and trim
    # a task never sees its own report, nor one written after it started
    assert post.loc["mark_duplicates", dup].isna().all()
    assert post.loc["bwa_mem", dup].isna().all()
    assert post.loc["wgs_metrics", dup].notna().all()  # MarkDuplicates ended before it
    assert post.loc["bwa_mem", trim].notna().all()
    assert post.loc["trim", trim].isna().all()
    assert post.loc[WORKFLOW_STEP, dup + trim].isna().all()


def test_cli_train_predict_evaluate_on_a_users_table(tmp_path: Path) -> None:
    table = synthetic_table(120)
    table.to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "bundle"
    train = subprocess.run([GENSCALE, "model", "train", "--table", str(tmp_path / "mine.csv"),
                            "--target", "wall_s", "--features", "input_bytes,quality",
                            "--by", "app", "--jobs", "2", "--out", str(out)],
                           capture_output=True, text=True)
    assert train.returncode == 0, train.stderr
    assert "bwa" in train.stderr and train.stdout.strip() == str(out)
    predicted = subprocess.run([GENSCALE, "model", "predict", str(out), "--table",
                                str(tmp_path / "mine.csv"), "--out",
                                str(tmp_path / "p.parquet")], capture_output=True, text=True)
    assert predicted.returncode == 0, predicted.stderr
    frame = pd.read_parquet(tmp_path / "p.parquet")
    assert {"predicted_wall_s", "predicted_wall_s_p50", "predicted_wall_s_p90",
            "predicted_wall_s_p99", "tail_probability", "predicted_tail"} <= set(frame.columns)
    assert len(frame) == len(table)
    assert (frame["extrapolated"] == "").all() and "warning" not in predicted.stderr
    # inputs 100x larger, beyond any trained on: warned of per feature, marked per row
    table.assign(input_bytes=table["input_bytes"] * 100).to_csv(tmp_path / "big.csv",
                                                                index=False)
    bigger = subprocess.run([GENSCALE, "model", "predict", str(out), "--table",
                             str(tmp_path / "big.csv"), "--out", str(tmp_path / "b.csv")],
                            capture_output=True, text=True)
    assert bigger.returncode == 0, bigger.stderr
    warnings = [line for line in bigger.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"genscale: warning: input_bytes: {len(table)} row(s) outside the training range")
    assert (pd.read_csv(tmp_path / "b.csv")["extrapolated"] == "input_bytes").all()
    evaluated = subprocess.run([GENSCALE, "model", "evaluate", str(out), "--table",
                                str(tmp_path / "mine.csv")], capture_output=True, text=True)
    metrics = json.loads(evaluated.stdout)
    # adapters, which make the tail, are left out: a fifth of the variance is beyond
    # reach (held out, trees reach R² 0.65 and the ridge line, which training takes, 0.71)
    assert metrics["bwa"]["model"]["r2"] > 0.65
    assert metrics["bwa"]["model"]["r2"] > metrics["bwa"]["line"]["r2"]
    assert {"model", "line", "median", "tail"} <= set(metrics["bwa"])
    # the held-out metrics of model.json as the README's tables
    shown = subprocess.run([GENSCALE, "model", "show", str(out), "--group", "bwa"],
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    saved = json.loads((out / "model.json").read_text())
    cv = saved["metrics"]["bwa"]["cross_validation"]
    row = next(line for line in shown.stdout.splitlines() if line.startswith("| bwa |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == str(cv["model"]["n"]) and cells[2] == f"{cv['model']['r2']:.3f}"
    fit = saved["fits"]["bwa"]
    assert cells[-1] == fit["learner"] and fit["learner"] in ("trees", "ridge")
    assert shown.stdout.count("| bwa |") == 3  # cross-validation, extrapolation, tail
    assert saved["options"]["extrapolation"] == "linear"
    for args, message in ((["--target", "runtime"], "--target runtime: no such column"),
                          (["--target", "wall_s", "--where", "nonsense >"], "--where"),
                          (["--target", "wall_s", "--extrapolation", "straight"],
                           "--extrapolation")):
        bad = subprocess.run([GENSCALE, "model", "train", "--table", str(tmp_path / "mine.csv"),
                              *args, "--out", str(tmp_path / "x")], capture_output=True,
                             text=True)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_train_and_predict_on_imported_nextflow_traces(tmp_path: Path) -> None:
    """A model trained on imported traces predicts the tasks of an imported trace."""
    data = Path(__file__).parent / "data"
    history = tmp_path / "history"
    subprocess.run([GENSCALE, "import", "nextflow-trace", str(data / "nextflow_trace_raw.txt"),
                    str(data / "nextflow_trace_human.csv"), "--out", str(history)],
                   check=True, capture_output=True)
    new = tmp_path / "new"
    subprocess.run([GENSCALE, "import", "nextflow-trace", str(data / "nextflow_trace_human.csv"),
                    "--out", str(new)], check=True, capture_output=True)
    out = tmp_path / "bundle"
    train = subprocess.run([GENSCALE, "model", "train", "--table", str(history / "tasks.csv"),
                            "--target", "wall_s", "--features", "read_chars,threads_requested",
                            "--by", "", "--group", "task_id", "--size", "read_chars",
                            "--no-evaluate", "--out", str(out)], capture_output=True, text=True)
    assert train.returncode == 0, train.stderr
    predicted = subprocess.run([GENSCALE, "model", "predict", str(out), "--table",
                                str(new / "tasks.csv"), "--out", str(tmp_path / "p.csv")],
                               capture_output=True, text=True)
    assert predicted.returncode == 0, predicted.stderr
    frame = pd.read_csv(tmp_path / "p.csv")
    assert frame["predicted_wall_s"].notna().all() and (frame["predicted_wall_s"] > 0).all()
    # the bwa task read 30 GB, MultiQC 10 MB: the law on read size orders them
    by_app = frame.set_index("app")["predicted_wall_s"]
    assert by_app["bwa"] > by_app["multiqc"]


def test_size_column_of_a_users_table_is_chosen_and_said() -> None:
    """0.10.0 fitted no size law, silently, on a table whose size is `TaskInputSize`."""
    from genscale.model.bundle import default_spec

    rng = np.random.default_rng(4)
    size = rng.uniform(1e6, 1e9, 200)
    table = pd.DataFrame({"process": "BWA", "TaskInputSize": size, "cpus": 8,
                          "noise": rng.normal(size=200),
                          "realtime": 3e-6 * size ** 0.95 * rng.lognormal(0, 0.1, 200)})
    spec = default_spec(table, "realtime", None, ["process"], None, None)
    assert spec.size == "TaskInputSize" and "name says size" in spec.size_reason
    # no column named as a size: the one whose log follows the target's, if clearly
    renamed = table.rename(columns={"TaskInputSize": "x1"})
    spec = default_spec(renamed, "realtime", None, ["process"], None, None)
    assert spec.size == "x1" and "follows" in spec.size_reason
    spec = default_spec(renamed.drop(columns="x1"), "realtime", None, ["process"], None, None)
    assert spec.size is None and "--size" in spec.size_reason
    spec = default_spec(table, "realtime", None, ["process"], None, "cpus")
    assert spec.size == "cpus" and "--size" in spec.size_reason


def test_the_tail_classifier_is_fitted_on_unweighted_bins(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """scikit-learn 1.6+ bins a weighted fit's features one weighted percentile at a time
    (the balanced tail classifier's weights): 16 of 25 s of a 1,000-row group, hours at a
    million rows. The classifier is fitted on bins made once, unweighted, instead."""
    from sklearn.ensemble._hist_gradient_boosting import binning

    calls = []
    original = binning._weighted_percentile
    monkeypatch.setattr(binning, "_weighted_percentile",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    table = synthetic_table(400)
    frame = table[table["app"] == "bwa"].reset_index(drop=True)
    features = ["input_bytes", "quality", "adapters"]
    state = fit_group(frame, "wall_s", features, "input_bytes", FitOptions(tail_k=1.8),
                      frame["run_id"])
    assert state["tail"]["classifier"] is not None and calls == []
    bins = state["tail"]["bins"]
    matrix = np.column_stack([np.log(frame["input_bytes"]), frame[state["tail"]["features"]]])
    codes = binned(bins, matrix)
    for j in range(matrix.shape[1]):  # order kept, at most 255 values, missing stays missing
        order = np.argsort(matrix[:, j])
        assert (np.diff(codes[order, j]) >= 0).all() and len(np.unique(codes[:, j])) <= 255
    assert np.isnan(binned(bins, np.full((1, matrix.shape[1]), np.nan))).all()


def test_a_size_that_counts_a_reference_gets_a_law_on_the_size_less_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """nf-core traces give a step's input size with its reference (680 MB) while its time
    follows the reads alone: a power law on such a size hits its bound (b = 3) and was
    40-55% off at 3-12x the largest training input. The law on the size less a fitted
    offset carries it. Judged on the law alone: no move towards the line past the
    training sizes (`LINE_WEIGHT` 0), which would rescue the power law in part."""
    monkeypatch.setattr(estimator, "LINE_WEIGHT", 0.0)
    rng = np.random.default_rng(3)
    n = 60
    reads = np.exp(rng.uniform(np.log(1e5), np.log(2e8), n))
    frame = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)],
                          "input_bytes": 680e6 + reads,
                          "wall_s": (20 + 2e-6 * reads) * np.exp(rng.normal(0, 0.05, n))})
    state = fit_group(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions(),
                      frame["run_id"])
    assert 670e6 < state["size_offset"] < 680e6 + reads.min()
    # trained on up to 20 MB of reads, tested on 55 MB to 200 MB of them (sizes 5% larger)
    result = extrapolate(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions(),
                         "run_id", factor=1.05, cut=700e6)
    assert result is not None and result["n_train"] >= 30
    assert result["model"]["mdape"] < 10
    monkeypatch.setattr(estimator, "FORMS", (False,))  # the power law alone
    alone = extrapolate(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions(),
                        "run_id", factor=1.05, cut=700e6)
    assert alone is not None and alone["model"]["mdape"] > 3 * result["model"]["mdape"]


def _few_rows(n: int, seed: int = 7) -> pd.DataFrame:
    """A step of a fixed cost and a cost per byte, its runs 1.5x apart by quality."""
    rng = np.random.default_rng(seed)
    size = np.exp(rng.uniform(np.log(5e6), np.log(5e8), n))
    quality = rng.uniform(0, 1, n)
    wall = (3 + 4e-8 * size) * np.exp(0.4 * quality) * np.exp(rng.normal(0, 0.03, n))
    return pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "input_bytes": size,
                         "quality": quality, "wall_s": wall})


def test_past_its_largest_input_a_prediction_leans_towards_the_line() -> None:
    """nf-core steps of 10 to 34 runs, asked for inputs 2 to 100x their largest: the law
    alone lost to a straight line at most such extrapolations (docs/extrapolation.md).
    Past the largest training size a prediction moves towards the line by up to
    LINE_WEIGHT in logs; inside the training sizes nothing moves."""
    frame = _few_rows(15)
    state = fit_group(frame, "wall_s", ["input_bytes", "quality"], "input_bytes",
                      FitOptions(), frame["run_id"])
    beyond = state["beyond"]
    # at most LINE_WEIGHT, less where the line strays from the rows more than the model
    # does (`_line_trust`)
    assert 0.05 < beyond["line_weight"] <= estimator.LINE_WEIGHT
    unmoved = {**state, "beyond": {**beyond, "line_weight": 0.0}}
    rows = pd.DataFrame({"input_bytes": [5e7, 3e9, 6e9], "quality": 0.5})
    moved, before = predict_log(state, rows, "input_bytes"), predict_log(unmoved, rows,
                                                                         "input_bytes")
    assert moved[0] == pytest.approx(before[0])  # inside: as before
    a, b = beyond["line"]
    line = np.log(a + b * rows["input_bytes"].to_numpy()[1:])
    typical = before[1:] - estimator.learner_log(state, rows, "input_bytes")[1:] \
        + beyond["own_level"]
    assert moved[1:] == pytest.approx(before[1:] + beyond["line_weight"] * (line - typical))


def test_moving_towards_the_line_keeps_a_rows_quality_effect() -> None:
    """The line knows nothing of quality: a prediction moves by the line's distance from a
    typical row's, so two inputs of one size keep the ratio their quality gives them."""
    frame = _few_rows(40, seed=3)
    state = fit_group(frame, "wall_s", ["input_bytes", "quality"], "input_bytes",
                      FitOptions(), frame["run_id"])
    # the line strays from these rows by their quality, so training trusts it little;
    # the contract holds at any weight: here a large one
    assert state["beyond"]["line_weight"] < 0.1
    state = {**state, "beyond": {**state["beyond"], "line_weight": 0.4}}
    rows = pd.DataFrame({"input_bytes": [4e9, 4e9], "quality": [0.05, 0.95]})
    predicted = predict_log(state, rows, "input_bytes")
    unmoved = predict_log({**state, "beyond": {**state["beyond"], "line_weight": 0.0}},
                          rows, "input_bytes")
    assert np.abs(predicted - unmoved).min() > 1e-3  # it moved
    learned = estimator.learner_log(state, rows, "input_bytes")
    assert learned[1] - learned[0] > 0.1  # the learner sees the quality
    assert predicted[1] - predicted[0] == pytest.approx(learned[1] - learned[0])


def test_a_bundle_from_before_the_line_weight_predicts_as_it_did() -> None:
    """Bundles written before `line_weight` was kept hold none: past the training sizes
    they predict with their law (and its chosen growth) alone, as they did."""
    frame = _few_rows(15)
    state = fit_group(frame, "wall_s", ["input_bytes", "quality"], "input_bytes",
                      FitOptions(), frame["run_id"])
    old = {**state, "beyond": {k: v for k, v in state["beyond"].items()
                               if k not in ("line_weight", "own_level", "tangent_floor")}}
    old["beyond"]["growth"] = "law"
    rows = pd.DataFrame({"input_bytes": [3e9], "quality": [0.5]})
    expected = (estimator.law_log(old["law"], np.log(rows["input_bytes"].to_numpy()
                                                     - old["size_offset"]))
                + estimator.learner_log(old, rows, "input_bytes"))
    assert predict_log(old, rows, "input_bytes") == pytest.approx(expected)
    # and a group of fewer than 10 rows still has the line to move towards
    small = fit_group(_few_rows(8), "wall_s", ["input_bytes"], "input_bytes", FitOptions())
    assert small["beyond"] is not None and small["beyond"]["growth"] == "law"
    assert small["beyond"]["line_weight"] > 0


def _bending_frame() -> pd.DataFrame:
    """16 runs of 4 s plus a cost per byte that falls by half over their sizes, then holds."""
    rng = np.random.default_rng(5)
    size = np.geomspace(4e6, 5e8, 16)
    per_byte = 5e-8 * (1 + np.exp(-size / 1e8))
    return pd.DataFrame({"input_bytes": size,
                         "wall_s": (4 + per_byte * size) * np.exp(rng.normal(0, 0.02, 16))})


def test_past_its_largest_input_a_bending_law_grows_at_least_as_its_tangent() -> None:
    """A step whose time per byte falls over the training sizes (a start-up amortised,
    then a warm-up: FastQC's law bent to b = 0.77 on nf-core runs) does not keep getting
    cheaper past them: the law's growth from the largest training size is floored at
    its tangent there, and a bundle written before the floor predicts as it did."""
    frame = _bending_frame()
    state = fit_group(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions())
    c0, c1, b = state["law"][:3]
    assert b < 0.95  # the law bends: each further byte would cost less
    assert state["beyond"]["tangent_floor"] is True
    # the contract, whatever the line: without moving towards it, the growth from the
    # edge is the tangent's
    plain_state = {**state, "beyond": {**state["beyond"], "line_weight": 0.0,
                                       "growth": "law"}}
    edge = state["beyond"]["size_max"]
    rows = pd.DataFrame({"input_bytes": [edge, 4e9]})
    at_edge, far = np.exp(predict_log(plain_state, rows, "input_bytes"))
    slope = b * c1 * edge ** (b - 1)
    assert far / at_edge == pytest.approx(1 + slope * (4e9 - edge) / (c0 + c1 * edge ** b))
    law_only = np.exp(estimator.law_log(state["law"], np.log(np.array([edge, 4e9]))))
    assert far / at_edge > 1.05 * law_only[1] / law_only[0]
    # at 8x the largest input the law alone is 39% short of the truth; with the floor
    # (and the move towards the line) under half as far
    truth = 4 + 5e-8 * 4e9
    law_short = truth - at_edge * law_only[1] / law_only[0]
    assert law_short > 0.3 * truth
    full = np.exp(predict_log(state, rows, "input_bytes"))[1]
    assert abs(truth - full) < 0.5 * law_short
    old = {**plain_state, "beyond": {k: v for k, v in plain_state["beyond"].items()
                                     if k != "tangent_floor"}}
    old_at_edge, old_far = np.exp(predict_log(old, rows, "input_bytes"))
    assert old_far / old_at_edge == pytest.approx(law_only[1] / law_only[0])


def test_extrapolation_law_lets_the_law_alone_carry_a_prediction_past_the_training_sizes(
        ) -> None:
    """`extrapolation="law"` (how `make models` trains the corpus, whose steps of seconds
    still get cheaper per read past their largest input): no floor at the tangent and no
    move towards the line, the law's own growth as 0.10.0 fitted it; the default,
    "linear", grows faster on the same bending runs. Any other value is refused."""
    frame = _bending_frame()
    law = fit_group(frame, "wall_s", ["input_bytes"], "input_bytes",
                    FitOptions(extrapolation="law"))
    linear = fit_group(frame, "wall_s", ["input_bytes"], "input_bytes", FitOptions())
    assert law["beyond"] is None and linear["beyond"] is not None
    assert law["law"] == pytest.approx(linear["law"])  # the same fit up to the edge
    edge = float(frame["input_bytes"].max())
    rows = pd.DataFrame({"input_bytes": [edge, 4e9]})
    at_edge, far = np.exp(predict_log(law, rows, "input_bytes"))
    law_only = np.exp(estimator.law_log(law["law"], np.log(rows["input_bytes"].to_numpy())))
    assert far / at_edge == pytest.approx(law_only[1] / law_only[0])
    linear_at_edge, linear_far = np.exp(predict_log(linear, rows, "input_bytes"))
    assert linear_at_edge == pytest.approx(at_edge)
    assert linear_far > 1.1 * far
    with pytest.raises(ValueError, match=r"FitOptions\.extrapolation: expected one of linear, "):
        FitOptions(extrapolation="straight")  # type: ignore[arg-type]


def _nfcore_benchmark(reports: list[Path], *flags: str) -> list[list[str]]:
    """The cells of each row `benchmarks/extrapolation_nfcore.py` prints for `reports`."""
    script = Path(__file__).parents[1] / "benchmarks" / "extrapolation_nfcore.py"
    out = subprocess.run([sys.executable, str(script), *map(str, reports), *flags],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|")[1:-1] for line in out.splitlines()[2:]]


def test_the_nfcore_benchmark_trains_a_workflows_task_apart_from_anothers(
        tmp_path: Path) -> None:
    """Lotaru's reports name FASTQC in four workflows: `benchmarks/extrapolation_nfcore.py`
    trains each workflow's apart (they ran on different inputs) and prints every cut for
    all steps and for each workflow, with the bootstrap interval."""
    rng = np.random.default_rng(2)
    rows = []
    for workflow, per_sequence in (("atacseq", 2e-3), ("chipseq", 9e-3)):
        for label, n in [("train-1", n) for n in np.geomspace(5e4, 4e6, 12)] + [
                ("test", 3e7), ("test", 5e7)]:
            rows.append({"Label": label, "Workflow": workflow, "Task": "FASTQC",
                         "NumberSequences": int(n), "TaskInputSize": int(n * 150),
                         "Realtime": (3000 + per_sequence * n) * rng.lognormal(0, 0.03)})
    report = tmp_path / "execution_report_local.csv"
    pd.DataFrame(rows).to_csv(report, index=False)
    table = _nfcore_benchmark([report], "--cuts", "1e6", "inf")
    assert [(c[0].strip(), c[1].strip(), c[2].strip()) for c in table] == [
        ("1,000,000 sequences", "all", "2"), ("1,000,000 sequences", "atacseq", "1"),
        ("1,000,000 sequences", "chipseq", "1"), ("all", "all", "2"),
        ("all", "atacseq", "1"), ("all", "chipseq", "1")]
    # trained apart, both steps' fixed cost and per-sequence time are learnt: under 15%
    # at 7-50x their largest input (the line's errors: 2-11%); merged, the model's median
    # error was 92-100%
    assert all(float(c[4]) < 15 for c in table)
    # the hindsight column: on one step, the nearer of the two medians
    assert all(float(c[7]) == min(float(c[4]), float(c[5])) for c in table if c[2].strip() == "1")


def test_the_nfcore_benchmark_trains_each_machines_steps_apart(tmp_path: Path) -> None:
    """Reports of two machines (Lotaru's `Machine` column): the same step is trained once
    per machine, shown as MACHINE:WORKFLOW (pooled, as before, one machine twice as fast
    as the other put the model's median error at 32%)."""
    rng = np.random.default_rng(3)
    reports = []
    for machine, speed in (("n1", 1.0), ("c2", 2.0)):
        rows = [{"Label": label, "Machine": machine, "Workflow": "bacass", "Task": "SKEWER",
                 "NumberSequences": int(n), "TaskInputSize": int(n * 200),
                 "Realtime": (2000 + 0.3 * n) / speed * rng.lognormal(0, 0.03)}
                for label, n in [("train-1", n) for n in np.geomspace(1e4, 4e6, 12)]
                + [("test", 8e6), ("test", 1e7)]]
        reports.append(tmp_path / f"execution_report_{machine}.csv")
        pd.DataFrame(rows).to_csv(reports[-1], index=False)
    table = _nfcore_benchmark(reports, "--cuts", "inf")
    assert [(c[1].strip(), c[2].strip(), c[3].strip()) for c in table] == [
        ("all", "2", "4"), ("c2:bacass", "1", "2"), ("n1:bacass", "1", "2")]
    assert all(float(c[4]) < 10 for c in table)


def test_the_nfcore_benchmark_measures_the_scatter_of_the_training_runs(
        tmp_path: Path) -> None:
    """`--scatter`: on runs exactly on a line the line's error is 0 in sample and at the
    other series' run; a second series 10% slower puts the second number at ~10% (the
    one series' line at the other's run) and the first above 0."""
    def report(slowdown: float) -> Path:
        rows = [{"Label": label, "Workflow": "bacass", "Task": "SKEWER",
                 "NumberSequences": int(n), "TaskInputSize": int(n * 200),
                 "Realtime": (2000 + 0.3 * n) * (slowdown if label == "train-2" else 1)}
                for label, sizes in (("train-1", np.geomspace(1e4, 4e6, 9)),
                                     ("train-2", np.geomspace(1.2e4, 3e6, 9)))
                for n in sizes] + [{"Label": "test", "Workflow": "bacass", "Task": "SKEWER",
                                     "NumberSequences": 8_000_000,
                                     "TaskInputSize": 1_600_000_000, "Realtime": 2.4e6}]
        path = tmp_path / f"execution_report_{slowdown}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        return path

    def scatter(path: Path) -> list[float]:
        script = Path(__file__).parents[1] / "benchmarks" / "extrapolation_nfcore.py"
        out = subprocess.run([sys.executable, str(script), str(path), "--scatter"],
                             capture_output=True, text=True, check=True).stdout
        return [float(v) for v in re.findall(r"([\d.]+)%", out)]

    assert scatter(report(1.0)) == [0.0, 0.0]
    in_sample, between = scatter(report(1.1))
    assert in_sample > 0 and 9.0 < between < 10.0  # 1.1 x the line's: 9.1% of the run


def test_a_spreadsheets_table_reads_as_the_csv(tmp_path: Path) -> None:
    """A table saved by a spreadsheet under a decimal-comma locale (`;` between fields,
    `,` in numbers, a byte-order mark, CRLF) or as tab-separated text named .csv reads as
    the plain CSV; the first was one column named `step;input_bytes;wall_s`."""
    plain = pd.DataFrame({"step": ["bwa", "sort"], "input_bytes": [1000, 2000],
                          "wall_s": [1.5, 20.25]})
    csv = tmp_path / "plain.csv"
    plain.to_csv(csv, index=False)
    european = tmp_path / "european.csv"
    european.write_bytes(b"\xef\xbb\xbf" + csv.read_text().replace(",", ";").replace(
        ".", ",").replace("\n", "\r\n").encode())
    tabs = tmp_path / "tabs.csv"
    tabs.write_text(csv.read_text().replace(",", "\t"))
    for path in (csv, european, tabs):
        pd.testing.assert_frame_equal(bundle.read_table(path), plain)


def test_a_feature_whose_name_holds_a_comma_can_be_named() -> None:
    """`--features` is comma-separated, and STAR's features hold commas (`star.Mismatch rate
    per base, %`): a run of parts that names a column is one column (0.10.x split it and
    answered that `star.Mismatch rate per base` is no column)."""
    from genscale.cli.model import _columns

    columns = ["input_bytes", "star.Mismatch rate per base, %", "star.Mapping speed, Million "
               "of reads per hour", "a", "a,b"]
    assert _columns("input_bytes,star.Mismatch rate per base, %", columns) == [
        "input_bytes", "star.Mismatch rate per base, %"]
    assert _columns("star.Mapping speed, Million of reads per hour, input_bytes", columns) == [
        "star.Mapping speed, Million of reads per hour", "input_bytes"]
    assert _columns("a,b", columns) == ["a,b"]  # the longest name that is a column
    assert _columns("x, y", columns) == ["x", "y"]  # no such columns: as written, checked later
    assert _columns("", columns) == [] and _columns(None, columns) is None
