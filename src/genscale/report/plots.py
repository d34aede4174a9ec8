"""Per-application figures of a run: CPU cores, memory and I/O against elapsed seconds.

One panel per application, one line per task, like the prototype's Figure 2, so each
application's pattern (bwa's flat multi-core plateau, Picard's JVM start-up, FastQC's single
core) is visible at a glance. What the figures must not do (issue 21):

- hide a task shorter than the sampling interval: a task of one or two samples is drawn
  with markers;
- draw a ramp to zero at each exit: a task's closing sample, taken after its last process
  exited, holds its last CPU and bytes but no memory; memory is drawn without it;
- let one outlier flatten a panel: when the largest 1% of a panel's values (at least one)
  lie far above the rest, the y axis ends a little above the rest, and a value above it is
  drawn at the top, as a triangle, with the largest named in the corner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

GIB = 2**30
MIB = 2**20


def rate_mib_s(group: pd.DataFrame, column: str) -> pd.Series:
    """MiB/s from a cumulative byte counter, against the group's `elapsed_s`."""
    dt = group["elapsed_s"].diff()
    first_dt = group["elapsed_s"].iloc[0] if len(group) else 0.0
    dt.iloc[0] = first_dt if first_dt > 0 else math.nan
    return group[column].diff().fillna(group[column]).div(dt) / MIB


FIGURES: dict[str, tuple[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "cpu": ("CPU (cores)", lambda g: g["cpu_cores"]),
    "memory": ("resident memory (GiB)", lambda g: g["rss_bytes"] / GIB),
    "io_read": ("read() calls (MiB/s, page cache included)", lambda g: rate_mib_s(g, "read_chars")),
    "io_write": ("storage write (MiB/s)", lambda g: rate_mib_s(g, "write_bytes")),
}


OUTLIER_SHARE = 0.01  # at most this share of a panel's values (at least one) may be cut
HEADROOM = 1.15  # the y axis ends this far above the largest value kept
FAR = 3.0  # a value is cut only when this many times above the axis it would have


def task_series(group: pd.DataFrame, metric: str) -> tuple[pd.Series, pd.Series]:
    """(elapsed, value) of one task's samples for `metric`; memory without the closing
    samples of an exiting process (no process left, or one that holds no memory: a
    zombie waiting to be reaped)."""
    _, value = FIGURES[metric]
    if metric == "memory":
        if "procs" in group.columns:
            alive = group[group["procs"].fillna(1) > 0]
            group = alive if len(alive) else group
        held = group["rss_bytes"].fillna(0).to_numpy() > 0
        if held.any():
            group = group.iloc[: int(np.flatnonzero(held)[-1]) + 1]
    return group["elapsed_s"], value(group)


def y_limit(values: pd.Series) -> float | None:
    """Where a panel's y axis ends when a few values (the largest 1%, at least one) lie far
    above all the others (more than `FAR` times the largest of the rest): a little above
    the rest. None otherwise (matplotlib's own limit)."""
    finite = np.sort(values[pd.notna(values)].to_numpy(dtype=float))
    if finite.size < 2:
        return None
    cut = max(1, int(finite.size * OUTLIER_SHARE))
    top = float(finite[-cut - 1]) * HEADROOM
    return top if top > 0 and float(finite[-1]) > FAR * top else None


def plot_metric(samples: pd.DataFrame, metric: str, out: Path, title: str) -> Path:
    ylabel, _ = FIGURES[metric]
    apps = sorted(samples["app"].unique())
    cols = min(3, max(1, len(apps)))
    rows = math.ceil(len(apps) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, app in zip(axes.flat, apps, strict=False):
        drawn = []
        for task_id, group in samples[samples["app"] == app].groupby("task_id", sort=True):
            x, y = task_series(group.sort_values("elapsed_s"), metric)
            short = len(x) <= 2  # shorter than two sampling intervals: show its samples
            line, = ax.plot(x, y, label=str(task_id), linewidth=1.2,
                            marker="o" if short else None, markersize=4,
                            drawstyle="steps-pre" if metric == "cpu" and not short
                            else "default")
            drawn.append((x, y, line.get_color()))
        ax.set_title(app)
        ax.set_xlabel("elapsed (s)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        top = y_limit(pd.concat([y for _, y, _ in drawn])) if drawn else None
        if top is not None:
            ax.set_ylim(0, top)
            biggest = max(float(y.max()) for _, y, _ in drawn)
            for x, y, color in drawn:
                over = y > top
                ax.plot(x[over], [top * 0.98] * int(over.sum()), linestyle="none",
                        marker="^", color=color)
            ax.annotate(f"max {biggest:,.3g} (off scale)", xy=(0.02, 0.92),
                        xycoords="axes fraction", fontsize=7)
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
