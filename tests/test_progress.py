"""What `genscale run` prints while it runs: N of M, elapsed and an ETA, a final total, a
summary that fits 80 columns; `--quiet` and non-terminal output plain."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pandas as pd
from rich.console import Console

from genscale.cli.display import by_app_view, summary_view
from genscale.eta import Eta, Prediction, clock, predict_steps
from genscale.workflow.loader import load_workflow

from .conftest import GENSCALE, write

SPEC = """\
name: three
steps:
  - name: a_step_with_a_long_name_indeed
    app: sh
    outputs: {o: a.txt}
    command: sleep 0.3 && echo a > {outputs.o}
  - name: b
    app: sh
    inputs: {i: a.txt}
    outputs: {o: b.txt}
    command: sleep 0.3 && cat {inputs.i} > {outputs.o}
  - name: c
    app: sh
    inputs: {i: b.txt}
    outputs: {o: c.txt}
    command: cat {inputs.i} > {outputs.o}
"""


def rendered(table: object, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def catalog_tasks(wall_s: float) -> pd.DataFrame:
    """A row per step of the dnaseq and rnaseq catalogs, with wide numbers."""
    steps = [s for name in ("dnaseq", "rnaseq") for s in load_workflow(name)[0].steps]
    return pd.DataFrame({
        "task_id": [s.name for s in steps], "app": [s.app for s in steps],
        "status": ["succeeded"] * (len(steps) - 1) + ["cancelled"],
        "wall_s": wall_s, "cpu_time_s": wall_s * 1.99, "mean_cores": 1.99,
        "peak_rss_bytes": 25 * 2**30,
        "read_bytes": 3 * 2**40, "write_bytes": 2**40, "read_chars": 2**40,
        "write_chars": 2**40, "start_time": range(len(steps))})


def test_the_summary_fits_80_columns_without_cutting_a_name() -> None:
    for wall in (0.04, 86_399.5):
        tasks = catalog_tasks(wall)
        lines = rendered(summary_view(tasks, "dnaseq-20261203T101500Z-ab12", 80), 80)
        assert max(len(line) for line in lines) <= 80
        assert not any("…" in line for line in lines)
        body = "\n".join(lines)
        for task_id in tasks["task_id"]:
            assert re.search(rf"^\s*{task_id}\s", body, re.MULTILINE), task_id
        assert "cancelled" in body and "succeeded" in body
    wide = rendered(summary_view(catalog_tasks(5.0), "run", 120), 120)
    assert max(len(line) for line in wide) <= 120 and "read()" in "\n".join(wide)
    many = pd.concat([catalog_tasks(5.0)] * 3, ignore_index=True)
    lines = rendered(by_app_view(many, "workload", 80), 80)
    assert max(len(line) for line in lines) <= 80 and not any("…" in x for x in lines)


def test_eta_from_a_prediction_is_scaled_by_what_finished() -> None:
    eta = Eta(Prediction({"a": 10.0, "b": 20.0, "c": 30.0}, parallelism=1.0), started=0.0)
    assert eta.remaining_s(now=0.0) == 60.0
    eta.update("started", "a", "a", {"done": 0, "total": 3}, now=0.0)
    assert eta.remaining_s(now=4.0) == 56.0  # a has run 4 s of its 10
    # a took twice its prediction: the rest is expected to as well
    eta.update("succeeded", "a", "a", {"done": 1, "total": 3, "wall_s": 20.0}, now=20.0)
    assert eta.remaining_s(now=20.0) == 100.0
    eta.update("skipped", "b", "b", {"done": 2, "total": 3}, now=20.0)
    assert eta.remaining_s(now=20.0) == 60.0
    eta.update("started", "c", "c", {"done": 2, "total": 3}, now=20.0)
    eta.update("succeeded", "c", "c", {"done": 3, "total": 3, "wall_s": 1.0}, now=21.0)
    assert eta.remaining_s(now=21.0) == 0.0


def test_eta_from_what_has_run_without_a_prediction() -> None:
    eta = Eta(started=0.0)
    eta.update("started", "x", "x", {"done": 0, "total": 5}, now=0.0)
    eta.update("started", "y", "y", {"done": 0, "total": 5}, now=0.0)
    assert eta.remaining_s(now=1.0) is None  # nothing finished: nothing to go on
    eta.update("succeeded", "x", "x", {"done": 1, "total": 5, "wall_s": 4.0}, now=4.0)
    assert eta.remaining_s(now=4.0) == 4.0 * 4 / 2  # 4 left, two at a time
    assert clock(3725) == "1:02:05" and clock(65) == "1:05"


def test_the_packaged_model_predicts_a_synthetic_datasets_steps(dna_dataset) -> None:
    prediction = predict_steps("dnaseq", dna_dataset.path, cores=2, max_threads=None)
    assert prediction is not None and prediction.parallelism >= 1
    assert {"bwa_mem", "mark_duplicates", "wgs_metrics"} <= set(prediction.wall_s)
    assert all(v > 0 for v in prediction.wall_s.values())
    assert predict_steps("no-such-workflow", dna_dataset.path, 2, None) is None
    assert predict_steps("dnaseq", None, 2, None) is None


def test_run_prints_n_of_m_elapsed_and_a_total(tmp_path: Path, env_no_color) -> None:
    spec = write(tmp_path / "three.yaml", SPEC)
    proc = subprocess.run([GENSCALE, "run", str(spec), "--runs-dir", str(tmp_path / "runs"),
                           "--interval", "0.1", "--no-plots"], capture_output=True,
                          text=True, env=env_no_color, timeout=120)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "\x1b[" not in err  # not a terminal: plain
    assert re.search(r"\[0/3\] started\s+a_step_with_a_long_name_indeed", err)
    assert re.search(r"\[1/3\] succeeded a_step_with_a_long_name_indeed .*\(0:\d\d elapsed",
                     err)
    assert re.search(r"\[3/3\] succeeded c .*\(0:\d\d in all\)", err)
    assert re.search(r"3 succeeded in 0:\d\d; run directory:", err)
    run_dir = Path(proc.stdout.strip())
    assert (run_dir / "run.json").is_file()
    quiet = subprocess.run([GENSCALE, "run", str(spec), "--runs-dir", str(tmp_path / "runs"),
                            "--interval", "0.1", "--no-plots", "--quiet"],
                           capture_output=True, text=True, env=env_no_color, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and Path(quiet.stdout.strip()).is_dir()


def test_a_failing_eta_model_never_stops_a_run(monkeypatch, capsys, dna_dataset) -> None:
    import genscale.cli.run as run_cli

    def broken(*_: object) -> None:
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(run_cli, "predict_steps", broken)
    assert run_cli._prediction("dnaseq", dna_dataset.path, {"executor": "local"}) is None
    err = capsys.readouterr().err
    assert err.startswith("genscale: warning: no ETA") and "model file unreadable" in err
    assert run_cli._prediction("dnaseq", dna_dataset.path, {"executor": "slurm"}) is None
