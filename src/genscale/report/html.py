"""The interactive reports: of one run, of several runs side by side, and of a simulation.

Each is one self-contained HTML file (`report.page`): a run's goes beside its tables as
`report.html`, a simulation's beside its `summary.json`, a comparison where asked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from genscale.errors import UserError
from genscale.report import figures
from genscale.report.compare import compare_runs, workflow_times
from genscale.report.page import Alert, Section, figure_section, number, tables_section, write_page
from genscale.report.qc import qc_tables
from genscale.report.summary import summary_table
from genscale.store.rundir import RunDirectory

SATURATED = 0.95  # a node at this share of its cores (or memory) or more is saturated
SATURATED_SHARE = 0.25  # said at the top when it was so for this share of the run or more
MAX_SCHEDULE_TASKS = 3000  # bars drawn of a simulation's schedule


def saturation(node: pd.DataFrame, cores: int, memory_bytes: float) -> list[Alert]:
    """What the top of a report says when the node was saturated: the share of the node's
    samples with CPU (or memory) at 95% of the host's or more, when a quarter or more."""
    alerts: list[Alert] = []
    if node.empty:
        return alerts
    checks = (("CPU", "cpu_cores", cores, f"{cores} cores"),
              ("memory", "memory_used_bytes", memory_bytes,
               f"{memory_bytes / 2**30:,.1f} GiB"))
    for name, column, limit, label in checks:
        if not limit or column not in node:
            continue
        share = float((pd.to_numeric(node[column], errors="coerce") >= SATURATED * limit)
                      .mean())
        if share >= SATURATED_SHARE:
            alerts.append(Alert(
                f"Node {name} was saturated (at 95% or more of its {label}) for "
                f"{share:.0%} of the run: tasks competed for it, and their wall times "
                f"include the wait."))
    return alerts


def _when(seconds: Any) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):
        return "?"


def _facts(info: dict[str, Any], tasks: pd.DataFrame) -> str:
    """One line of what the run was; a fact the run directory does not hold (an imported
    trace has no host or sampling interval) is left out rather than shown as None."""
    host = info.get("host") or {}
    parts = []
    workflow = (info.get("workflow") or {}).get("name")
    if workflow:
        parts.append(f"workflow {workflow}")
    parts += [f"{name} {info[key]}" for name, key in (("status", "status"),
                                                       ("executor", "executor"))
              if info.get(key)]
    if info.get("start_time"):
        parts.append(f"started {_when(info['start_time'])}")
        if info.get("end_time"):
            span = float(info["end_time"]) - float(info["start_time"])
            parts.append(f"{span:,.1f} s in all")
    parts.append(", ".join(f"{n} {s}" for s, n in tasks["status"].value_counts()
                           .sort_index().items()))
    if info.get("sample_interval_s"):
        parts.append(f"sampled every {info['sample_interval_s']} s")
    if host.get("hostname"):
        machine = ", ".join(x for x in (
            f"{host['cores']} cores" if host.get("cores") else "",
            f"{host['memory_bytes'] / 2**30:,.1f} GiB" if host.get("memory_bytes") else "",
            str(host.get("cpu_model") or "")) if x)
        parts.append(f"on {host['hostname']}" + (f" ({machine})" if machine else ""))
    generator = (info.get("dataset") or {}).get("generator") or {}
    if generator.get("pairs") and generator.get("genome_bases"):
        parts.append(f"{generator['pairs']:,} pairs of {generator.get('read_length')} bp on "
                     f"a {generator['genome_bases']:,} bp reference")
    return "; ".join(p for p in parts if p)


def not_succeeded(info: dict[str, Any], tasks: pd.DataFrame) -> pd.DataFrame:
    """The tasks that did not succeed, each with why: the skip reason run.json keeps, or
    the exit code and the last lines of the task's stderr."""
    failures = {f["task_id"]: f for f in info.get("failures") or []}
    skipped = info.get("skipped") or {}
    rows = []
    for row in tasks[tasks["status"] != "succeeded"].itertuples(index=False):
        task_id = str(row.task_id)
        failure = failures.get(task_id) or {}
        if task_id in skipped:
            why = str(skipped[task_id])
        elif failure:
            tail = " / ".join(failure.get("stderr_tail") or [])
            code = failure.get("exit_code")
            why = (f"exit {code}" if code is not None else "no exit status") + \
                (f": {tail}" if tail else "")
        elif row.status == "cancelled":
            why = "cancelled (interrupted run, or the disk filled): a resume runs it again"
        else:
            why = ""
        rows.append({"task": task_id, "app": row.app, "status": row.status, "why": why})
    return pd.DataFrame(rows, columns=["task", "app", "status", "why"])


def run_report(run_dir: Path, model: Path | None = None,
               samples: pd.DataFrame | None = None) -> Path:
    """The interactive report of one run, `run_dir/report.html`. `model`: a bundle or a
    scaling model file, to show predicted against measured per step; `samples`: the run's,
    when the caller has read them."""
    run = RunDirectory(run_dir)
    info = run.read_run_info()
    tasks = run.tasks()
    samples = run.samples() if samples is None else samples
    node = run.node() if (run_dir / "node.csv").is_file() else pd.DataFrame()
    host = info.get("host") or {}
    cores = int(host.get("cores") or 0)
    memory = float(host.get("memory_bytes") or 0)
    colors = figures.app_colors([str(a) for a in tasks["app"].dropna().unique()])
    alerts: list[Alert] = []
    if info.get("status") in ("failed", "interrupted", "running"):
        alerts.append(Alert(f"The run is {info.get('status')}"
                            + (f": {info['error']}" if info.get("error") else ""), bad=True))
    alerts += saturation(node, cores, memory)
    sections: list[Section] = []
    if tasks["start_time"].notna().any():
        sections.append(figure_section(
            "Timeline", figures.timeline(tasks, samples, node, cores, colors),
            "Each task from its start to its end, by host and start time; under it, the cores "
            "and memory each application held (stacked) and the node's own measure."))
    sections.append(tables_section("Tasks", {"": summary_table(tasks)},
                                   "Storage read and written are the kernel's read_bytes and "
                                   "write_bytes; read() and write() MiB are bytes through "
                                   "those calls, page cache included."))
    skipped = not_succeeded(info, tasks)
    if not skipped.empty:
        sections.append(tables_section("Not succeeded", {"": skipped},
                                       "Every task that did not succeed, and why."))
    if not samples.empty:
        sections.append(figure_section(
            "Applications", figures.app_panels(samples, colors),
            "Per application, one line per task against its own elapsed seconds (at most "
            f"{figures.MAX_TASKS_PER_APP} per application, the longest). I/O: "
            "read() calls solid, storage writes dotted. A task of one or two samples is "
            "drawn with markers; a panel whose few largest values lie far above the rest "
            "ends above the rest, the largest named in its corner."))
    if not node.empty:
        sections.append(figure_section("Node", figures.node_figure(node, cores, memory)))
    qc = qc_tables(run_dir)
    sections.append(tables_section(
        "Quality control", qc, "" if qc else
        "No QC report is kept in this run directory (a campaign removes work/ once its "
        "features are recorded)."))
    if model is not None:
        from genscale.forecast import run_predictions

        predicted = run_predictions(run_dir, model)
        for target, table in predicted.groupby("target", sort=False):
            table = table.assign(ratio=table["predicted"] / table["measured"])
            sections.append(figure_section(
                f"Predicted {target}", figures.predicted_figure(table, str(target)),
                f"Measured against predicted by {model.name} (bar: prediction, whisker: "
                "its p90)."))
            sections.append(tables_section(f"Predicted {target}: table", {"": table}))
    return write_page(run_dir / "report.html", str(info.get("run_id")), _facts(info, tasks),
                      sections, alerts)


def comparison_report(run_dirs: list[Path], out: Path,
                      metrics: pd.DataFrame | None = None) -> Path:
    """Several runs side by side: their makespan, workflow times and utilisation.
    `metrics`: `compare_runs(run_dirs)`, when the caller has it already."""
    metrics = compare_runs(run_dirs) if metrics is None else metrics
    labels = metrics["run_id"].astype(str).tolist()
    times = {label: list(workflow_times(d).values())
             for label, d in zip(labels, run_dirs, strict=True)}
    sections = [tables_section("Runs", {"": metrics}),
                figure_section("Comparison", figures.comparison_figure(metrics, times),
                               "Workflow time: from a workflow's arrival to its last "
                               "task's end; utilisation: CPU used over makespan x cores.")]
    return write_page(out, f"{len(run_dirs)} runs compared", ", ".join(labels), sections)


SIMULATED = ("workflow_id", "task_id", "threads", "node", "start_s", "end_s")


def read_simulation(sim_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """A simulation's summary and tasks; a one-line UserError naming the file when either
    is not what `genscale sim` writes."""
    path = sim_dir / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a simulation's summary ({exc})") from None
    if not isinstance(summary, dict):
        raise UserError(f"{path}: not a simulation's summary (a JSON object expected)")
    path = sim_dir / "tasks.parquet"
    try:
        tasks = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in SIMULATED if c not in tasks.columns]
    if missing:
        raise UserError(f"{path}: not a simulation's tasks (no {', '.join(missing)})")
    return summary, tasks


def simulation_report(sim_dir: Path) -> Path:
    """A simulation's (`genscale sim --out DIR`) report, `DIR/report.html`."""
    summary, tasks = read_simulation(sim_dir)
    if "app" not in tasks:
        tasks = tasks.assign(app=tasks.get("step", "task"))
    colors = figures.app_colors([str(a) for a in tasks["app"].dropna().unique()])
    flat = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    for key, values in summary.items():
        if isinstance(values, dict):
            flat.update({f"{key} {k}": v for k, v in values.items()})
    table = pd.DataFrame({"figure": list(flat), "value": [_shown(v) for v in flat.values()]})
    sections = [tables_section("Summary", {"": table})]
    sections += [figure_section(title, fig) for title, fig in
                 figures.schedule_figures(tasks, summary, colors, MAX_SCHEDULE_TASKS)]
    facts = (f"policy {summary.get('policy')} on {summary.get('nodes')} nodes of "
             f"{summary.get('cores_per_node')} cores; {summary.get('workflows'):,} workflows, "
             f"{summary.get('tasks_simulated'):,} tasks")
    return write_page(sim_dir / "report.html", f"Simulation: {sim_dir.name}", facts, sections)


def _shown(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else number(float(value))
