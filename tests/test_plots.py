"""The static figures tell the truth (issue 21): short tasks drawn, no ramp to zero at
exit, axes a single outlier cannot flatten."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd

from genscale.report.plots import plot_metric, task_series, y_limit


def samples() -> pd.DataFrame:
    rows = []
    for i in range(20):  # a long task, its closing sample after the exit
        rows.append({"app": "bwa", "task_id": "bwa_mem", "elapsed_s": float(i + 1),
                     "cpu_cores": 1.9, "rss_bytes": 2**30 if i < 19 else 0,
                     "procs": 1 if i < 19 else 0, "read_chars": 0, "write_bytes": 0})
    rows.append({"app": "bwa", "task_id": "bwa_index", "elapsed_s": 0.4, "cpu_cores": 1.0,
                 "rss_bytes": 2**28, "procs": 0, "read_chars": 0, "write_bytes": 0})
    for i in range(30):  # one sample claims 500,000 cores
        rows.append({"app": "picard", "task_id": "wgs", "elapsed_s": float(i + 1),
                     "cpu_cores": 500_000.0 if i == 7 else 1.1, "rss_bytes": 2**29,
                     "procs": 1, "read_chars": 0, "write_bytes": 0})
    return pd.DataFrame(rows)


def test_memory_has_no_ramp_to_zero_at_exit() -> None:
    frame = samples()
    task = frame[frame["task_id"] == "bwa_mem"]
    _, memory = task_series(task, "memory")
    assert len(memory) == 19 and (memory > 0).all()
    _, cpu = task_series(task, "cpu")  # the closing sample's CPU is real work: kept
    assert len(cpu) == 20
    # a task of one sample, taken at its exit, keeps that sample
    _, short = task_series(frame[frame["task_id"] == "bwa_index"], "memory")
    assert len(short) == 1


def test_one_outlier_does_not_set_the_axis() -> None:
    cpu = samples().query("app == 'picard'")["cpu_cores"]
    top = y_limit(cpu)
    assert top is not None and top < 10
    assert y_limit(pd.Series([1.0, 1.2, 0.9, 1.1])) is None  # nothing to clip


def test_the_figures_are_drawn(tmp_path: Path) -> None:
    for metric in ("cpu", "memory"):
        out = plot_metric(samples(), metric, tmp_path / f"{metric}.png", "test")
        image = matplotlib.image.imread(out)
        assert image.shape[0] > 100 and np.unique(image.reshape(-1, image.shape[-1]),
                                                  axis=0).shape[0] > 10
