"""The interactive report's figures (Plotly), one function per figure, from a run's tables.

Each figure obeys what the static PNGs do (`report.plots`): a task shorter than two
samples is drawn with markers, memory is drawn without the closing sample of an exited
process, and one outlier cannot flatten a panel (`plots.y_limit`). Long series are thinned
to at most `MAX_POINTS` per task so that a report of a long run still opens quickly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from genscale.report.plots import GIB, MIB, rate_mib_s, task_series, y_limit

MAX_POINTS = 400  # per task and metric in the per-application panels
MAX_TASKS_PER_APP = 40  # lines per panel: the longest tasks of a workload's many
MAX_LABELLED_ROWS = 150  # timeline rows named on the axis
MAX_TIMELINE_BINS = 4000  # the stacked CPU and memory under the timeline
PALETTE = qualitative.Plotly + qualitative.D3


def app_colors(apps: list[str]) -> dict[str, str]:
    """One colour per application, the same in every figure of a page."""
    return {app: PALETTE[i % len(PALETTE)] for i, app in enumerate(sorted(apps))}


def _time(seconds: pd.Series | np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True)


def timeline(tasks: pd.DataFrame, samples: pd.DataFrame, node: pd.DataFrame,
             cores: int, colors: dict[str, str]) -> go.Figure:
    """Every task that ran as a bar from its start to its end, one row per task ordered by
    host and start time, coloured by application; under it, the cores and memory the
    applications held over the same clock (stacked), with the node's own measure and its
    core count."""
    ran = tasks[tasks["start_time"].notna() & tasks["end_time"].notna()].copy()
    ran = ran.sort_values(["host", "start_time"], na_position="last")
    ran["row"] = ran["host"].astype(str) + " · " + ran["task_id"].astype(str)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.5, 0.25, 0.25],
                        subplot_titles=("tasks", "CPU (cores)", "resident memory (GiB)"))
    order = list(dict.fromkeys(ran["row"]))
    for app, group in ran.groupby("app", sort=True):
        start = group["start_time"].astype(float)
        duration_ms = (group["end_time"].astype(float) - start) * 1000
        fig.add_trace(go.Bar(
            y=group["row"], x=duration_ms, base=_time(start), orientation="h",
            name=str(app), legendgroup=str(app), marker_color=colors[str(app)],
            customdata=np.column_stack([group["task_id"], group["status"],
                                        group["wall_s"].astype(float).round(2),
                                        pd.to_numeric(group["mean_cores"], errors="coerce")
                                        .round(2),
                                        (pd.to_numeric(group["peak_rss_bytes"],
                                                       errors="coerce") / MIB).round(1)]),
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>wall %{customdata[2]} s, "
                          "%{customdata[3]} cores, %{customdata[4]} MiB<extra>"
                          f"{app}</extra>"), row=1, col=1)
    labelled = len(order) <= MAX_LABELLED_ROWS  # beyond, names only on hover
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1],
                     tickmode="array" if labelled else "auto",
                     tickvals=order if labelled else None, showticklabels=labelled,
                     tickfont={"size": 10}, row=1, col=1)
    _stacked(fig, samples, colors, "cpu_cores", 1.0, row=2)
    _stacked(fig, samples, colors, "rss_bytes", 1 / GIB, row=3)
    if not node.empty:
        node_time = _time(node["timestamp"])
        fig.add_trace(go.Scatter(x=node_time, y=node["cpu_cores"], name="node CPU",
                                 line={"color": "black", "width": 1}, legendgroup="node"),
                      row=2, col=1)
        fig.add_trace(go.Scatter(x=node_time, y=node["memory_used_bytes"] / GIB,
                                 name="node memory used", legendgroup="node",
                                 line={"color": "black", "width": 1, "dash": "dot"}),
                      row=3, col=1)
    if cores:
        fig.add_hline(y=cores, line_dash="dash", line_color="grey", row=2, col=1,
                      annotation_text=f"{cores} cores", annotation_position="top left")
    fig.update_layout(height=260 + max(260, min(16 * len(order), 2400)), barmode="overlay",
                      hovermode="closest", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _stacked(fig: go.Figure, samples: pd.DataFrame, colors: dict[str, str], column: str,
             scale: float, row: int) -> None:
    """Per application, the sum over its tasks of `column` on a common time grid: each
    task's mean within a bin (a closing sample adds no second reading), summed."""
    if samples.empty or column not in samples:
        return
    frame = samples
    if column == "rss_bytes" and "procs" in frame:
        frame = frame[frame["procs"].fillna(1) > 0]  # an exited process holds no memory
    frame = frame[frame["timestamp"].notna() & frame[column].notna()]
    if frame.empty:
        return
    times = frame["timestamp"].astype(float)
    span = float(times.max() - times.min()) if len(times) else 0.0
    # the sampling interval: tasks sample at their own phases, so only a task's own
    # successive samples tell it
    gaps = frame.sort_values("timestamp").groupby("task_id")["timestamp"].diff().dropna()
    interval = float(gaps.median()) if len(gaps) else 1.0
    step = max(interval, span / MAX_TIMELINE_BINS, 1e-3)
    origin = float(times.min())
    binned = frame.assign(bin=np.floor((times - origin) / step).astype(int))
    per_task = binned.groupby(["app", "task_id", "bin"], sort=False)[column].mean()
    per_app = per_task.groupby(level=["app", "bin"]).sum().unstack("app").sort_index()
    per_app = per_app.reindex(range(int(per_app.index.max()) + 1)).fillna(0.0)
    when = _time(origin + (per_app.index.to_numpy() + 0.5) * step)
    for app in per_app.columns:
        fig.add_trace(go.Scatter(x=when, y=per_app[app] * scale, name=str(app),
                                 legendgroup=str(app), showlegend=False, stackgroup=f"s{row}",
                                 line={"width": 0.5, "color": colors[str(app)]},
                                 hovertemplate=f"{app}: %{{y:.2f}}<extra></extra>"),
                      row=row, col=1)


PANELS: tuple[tuple[str, str], ...] = (
    ("cpu", "CPU (cores)"), ("memory", "resident memory (GiB)"), ("io", "I/O (MiB/s)"))


def app_panels(samples: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """One row per application, CPU, memory and I/O against each task's elapsed seconds,
    one line per task, as the prototype drew them (of an application with more than
    `MAX_TASKS_PER_APP` tasks, its longest ones). I/O is bytes through read calls
    (`read_chars`, page cache included: solid) and written to storage (`write_bytes`:
    dotted)."""
    apps = sorted(samples["app"].unique())
    longest = samples.groupby(["app", "task_id"])["elapsed_s"].max()
    keep = {task for app in apps for task in
            longest.loc[app].nlargest(MAX_TASKS_PER_APP).index}
    samples = samples[samples["task_id"].isin(keep)]
    fig = make_subplots(rows=len(apps), cols=3, horizontal_spacing=0.06,
                        vertical_spacing=min(0.08, 0.3 / max(1, len(apps))),
                        subplot_titles=[f"{app}: {label}" for app in apps
                                        for _, label in PANELS])
    for r, app in enumerate(apps, start=1):
        groups = list(samples[samples["app"] == app].groupby("task_id", sort=True))
        for c, (metric, _) in enumerate(PANELS, start=1):
            drawn: list[pd.Series] = []
            for i, (task_id, group) in enumerate(groups):
                group = _thin(group.sort_values("elapsed_s"))
                color = PALETTE[i % len(PALETTE)]
                series = ([("read_chars", "solid"), ("write_bytes", "dot")] if metric == "io"
                          else [(metric, "solid")])
                for name, dash in series:
                    if metric == "io":
                        x, y = group["elapsed_s"], rate_mib_s(group, name)
                    else:
                        x, y = task_series(group, metric)
                    short = len(x) <= 2
                    label = f"{task_id} {'read()' if name == 'read_chars' else 'written'}" \
                        if metric == "io" else str(task_id)
                    fig.add_trace(go.Scatter(
                        x=x, y=y, mode="lines+markers" if short else "lines",
                        line={"color": color, "width": 1.2, "dash": dash,
                              "shape": "hv" if metric == "cpu" and not short else "linear"},
                        name=label, showlegend=False,
                        hovertemplate=f"{label}: %{{y:.3g}} at %{{x:.1f}} s<extra></extra>"),
                        row=r, col=c)
                    drawn.append(y)
            top = y_limit(pd.concat(drawn)) if drawn else None
            if top is not None:
                biggest = max(float(v.max()) for v in drawn)
                fig.update_yaxes(range=[0, top], row=r, col=c)
                fig.add_annotation(text=f"max {biggest:,.3g} (off scale)", showarrow=False,
                                   xref="x domain" if (r, c) == (1, 1) else
                                   f"x{(r - 1) * 3 + c} domain",
                                   yref="y domain" if (r, c) == (1, 1) else
                                   f"y{(r - 1) * 3 + c} domain", x=0.02, y=0.95,
                                   font={"size": 10})
            else:
                fig.update_yaxes(rangemode="tozero", row=r, col=c)
            fig.update_xaxes(title_text="elapsed (s)" if r == len(apps) else None,
                             row=r, col=c)
    fig.update_layout(height=230 * len(apps) + 60, showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _thin(group: pd.DataFrame) -> pd.DataFrame:
    """At most `MAX_POINTS` rows, evenly spaced, the first and the last kept."""
    if len(group) <= MAX_POINTS:
        return group
    keep = np.unique(np.linspace(0, len(group) - 1, MAX_POINTS).round().astype(int))
    return group.iloc[keep]


def node_figure(node: pd.DataFrame, cores: int, memory_bytes: float) -> go.Figure:
    """The node's CPU (and I/O wait), memory (used, page cache) and disk throughput over
    the run, with its core count and memory as limits."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("node CPU (cores)", "node memory (GiB)",
                                        "disk (MiB/s)"))
    when = _time(node["timestamp"])
    fig.add_trace(go.Scatter(x=when, y=node["cpu_cores"], name="CPU busy"), row=1, col=1)
    if "cpu_iowait_cores" in node:
        fig.add_trace(go.Scatter(x=when, y=node["cpu_iowait_cores"], name="I/O wait"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=when, y=node["memory_used_bytes"] / GIB, name="used"),
                  row=2, col=1)
    if "memory_cache_bytes" in node:
        fig.add_trace(go.Scatter(x=when, y=node["memory_cache_bytes"] / GIB,
                                 name="page cache", line={"dash": "dot"}), row=2, col=1)
    elapsed = node["timestamp"].astype(float) - float(node["timestamp"].iloc[0])
    frame = node.assign(elapsed_s=elapsed)
    for column, label in (("disk_read_bytes", "disk read"),
                          ("disk_write_bytes", "disk written")):
        if column in node:
            fig.add_trace(go.Scatter(x=when, y=rate_mib_s(frame, column), name=label),
                          row=3, col=1)
    if cores:
        fig.add_hline(y=cores, line_dash="dash", line_color="grey", row=1, col=1)
    if memory_bytes:
        fig.add_hline(y=memory_bytes / GIB, line_dash="dash", line_color="grey", row=2, col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def predicted_figure(table: pd.DataFrame, target: str) -> go.Figure:
    """Measured against predicted `target` per step (log scale), the p90 as an error bar."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=table["step"], y=table["measured"], name="measured"))
    upper = (table["p90"] - table["predicted"]).clip(lower=0)
    fig.add_trace(go.Bar(x=table["step"], y=table["predicted"], name="predicted",
                         error_y={"type": "data", "array": upper, "symmetric": False,
                                  "arrayminus": np.zeros(len(table))}))
    fig.update_layout(barmode="group", yaxis_type="log", yaxis_title=target, height=420,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def comparison_figure(metrics: pd.DataFrame, workflow_times: dict[str, list[float]]
                      ) -> go.Figure:
    """Several runs side by side: makespan, each workflow's time (a box per run) and
    utilisation."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("makespan (s)", "workflow time (s)",
                                                        "utilisation"))
    labels = metrics["run_id"].astype(str)
    fig.add_trace(go.Bar(x=labels, y=metrics["makespan_s"], name="makespan"), row=1, col=1)
    for run_id, times in workflow_times.items():
        fig.add_trace(go.Box(y=times, name=run_id, boxpoints="outliers"), row=1, col=2)
    fig.add_trace(go.Bar(x=labels, y=metrics["utilisation"], name="utilisation"),
                  row=1, col=3)
    fig.update_layout(height=440, showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def schedule_figures(tasks: pd.DataFrame, summary: dict[str, Any], colors: dict[str, str],
                     max_tasks: int) -> list[tuple[str, go.Figure]]:
    """A simulation's schedule: the busy cores over time against the cluster's, workflow
    turnaround as a distribution (its tail visible on a log axis) and, for the first
    `max_tasks` tasks by start, their bars per node."""
    figures = []
    capacity = int(summary.get("nodes", 1)) * int(summary.get("cores_per_node", 1))
    threads = np.minimum(tasks["threads"].to_numpy(dtype=float),
                         float(summary.get("cores_per_node", np.inf)))
    when = np.concatenate([tasks["start_s"].to_numpy(float), tasks["end_s"].to_numpy(float)])
    delta = np.concatenate([threads, -threads])
    order = np.argsort(when, kind="stable")
    busy = np.cumsum(delta[order])
    times = when[order]
    if len(times) > 20000:  # what a screen can show: an even subset of the steps
        keep = np.unique(np.linspace(0, len(times) - 1, 20000).round().astype(int))
        times, busy = times[keep], busy[keep]
    span = float(tasks["end_s"].max() - tasks["start_s"].min()) if len(tasks) else 0.0
    scale, unit = (3600.0, "hours") if span > 2 * 3600 else (1.0, "seconds")
    fig = go.Figure(go.Scatter(x=times / scale, y=busy, line={"shape": "hv"}, name="busy"))
    fig.add_hline(y=capacity, line_dash="dash", line_color="grey",
                  annotation_text=f"{capacity} cores")
    fig.update_layout(xaxis_title=unit, yaxis_title="cores held", height=360,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figures.append(("Cores held over time", fig))
    ends = tasks.groupby("workflow_id")["end_s"].max()
    arrivals = tasks.groupby("workflow_id")["arrival_s"].min() if "arrival_s" in tasks \
        else tasks.groupby("workflow_id")["ready_s"].min()
    turnaround = (ends - arrivals).to_numpy()
    hist = go.Figure(go.Histogram(x=turnaround / scale, nbinsx=80))
    hist.update_layout(xaxis_title=f"workflow turnaround ({unit})", yaxis_type="log",
                       yaxis_title="workflows", height=360,
                       margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figures.append(("Workflow turnaround", hist))
    first = tasks.nsmallest(max_tasks, "start_s")
    bars = go.Figure()
    for app, group in first.groupby("app", sort=True):
        bars.add_trace(go.Bar(y=group["node"].astype(str).radd("node "),
                              x=(group["end_s"] - group["start_s"]) / scale,
                              base=group["start_s"] / scale, orientation="h", name=str(app),
                              marker_color=colors.get(str(app)),
                              customdata=group[["workflow_id", "task_id"]].to_numpy(),
                              hovertemplate="%{customdata[0]} %{customdata[1]}<extra></extra>"))
    bars.update_layout(barmode="overlay", xaxis_title=unit, height=480,
                       margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figures.append((f"Schedule of the first {len(first):,} tasks by node", bars))
    return figures
