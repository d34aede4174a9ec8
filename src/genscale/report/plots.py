"""Per-application figures of a run: CPU cores, memory and I/O against elapsed seconds.

One panel per application, one line per task, like the prototype's Figure 2, so each
application's pattern (bwa's flat multi-core plateau, Picard's JVM start-up, FastQC's single
core) is visible at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import pandas as pd

GIB = 2**30
MIB = 2**20


def _rate(group: pd.DataFrame, column: str) -> pd.Series:
    """MiB/s from a cumulative byte counter."""
    dt = group["elapsed_s"].diff()
    first_dt = group["elapsed_s"].iloc[0] if len(group) else 0.0
    dt.iloc[0] = first_dt if first_dt > 0 else math.nan
    return group[column].diff().fillna(group[column]).div(dt) / MIB


FIGURES: dict[str, tuple[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "cpu": ("CPU (cores)", lambda g: g["cpu_cores"]),
    "memory": ("resident memory (GiB)", lambda g: g["rss_bytes"] / GIB),
    "io_read": ("storage read (MiB/s)", lambda g: _rate(g, "read_chars")),
    "io_write": ("storage write (MiB/s)", lambda g: _rate(g, "write_bytes")),
}


def plot_metric(samples: pd.DataFrame, metric: str, out: Path, title: str) -> Path:
    ylabel, value = FIGURES[metric]
    apps = sorted(samples["app"].unique())
    cols = min(3, max(1, len(apps)))
    rows = math.ceil(len(apps) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, app in zip(axes.flat, apps, strict=False):
        for task_id, group in samples[samples["app"] == app].groupby("task_id", sort=True):
            group = group.sort_values("elapsed_s")
            ax.plot(group["elapsed_s"], value(group), label=str(task_id), linewidth=1.2,
                    drawstyle="steps-pre" if metric == "cpu" else "default")
        ax.set_title(app)
        ax.set_xlabel("elapsed (s)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper right")
    for ax in list(axes.flat)[len(apps):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def plot_run(run_dir: Path, samples: pd.DataFrame, run_id: str) -> list[Path]:
    """Draw every figure into `run_dir/plots/`; returns their paths."""
    folder = run_dir / "plots"
    folder.mkdir(exist_ok=True)
    if samples.empty:
        return []
    names = {"cpu": "CPU utilisation", "memory": "memory", "io_read": "read throughput",
             "io_write": "write throughput"}
    return [plot_metric(samples, m, folder / f"{m}.png", f"{run_id}: {label} per application")
            for m, label in names.items()]
