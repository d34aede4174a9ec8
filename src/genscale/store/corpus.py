"""A campaign's closed points as one versioned dataset: the tables a model learns from.

`export_corpus(campaign_dir, out)` writes, through temporary names and renames:

- `tasks.csv`: every task row of every closed run, plus the point's design columns
  (`point_id`, `kind`, `preset`, `pairs`, `dataset_seed`, `genome_bases`, `knob.*`) and
  the run's `background_cores` (see `background_cores`);
- `workflows.csv`: one row per run: status, makespan, summed CPU, largest peak memory, the
  dataset's input bytes, and the design columns;
- `features.csv`: one row per run, the FASTQ features of its reads and every QC report its
  steps wrote (`quality.table.run_features`), keyed by `run_id`;
- `samples.parquet`: the sample series, downsampled to at most `max_samples_per_task` rows
  per task (the first and the last, which carries the totals, always kept);
- `corpus.json`: counts, the machine, the GenScale and tool versions, and a sha256 per file.

The datasheet (`DATASHEET.md`) is written by hand beside them; `corpus.json` holds the
numbers it quotes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale import __version__
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory, atomic_write_json, atomic_write_text


def closed_runs(campaign_dir: Path) -> list[Path]:
    """Run directories of the campaign whose point is closed (features.json written)."""
    runs = campaign_dir / "runs"
    if not runs.is_dir():
        raise UserError(f"{campaign_dir}: not a campaign directory (no runs/)")
    return sorted(p.parent for p in runs.glob("*/features.json"))


def _point_columns(point: dict[str, Any]) -> dict[str, Any]:
    row = {"point_id": point["point_id"], "kind": point["kind"], "preset": point["preset"],
           "pairs": point["pairs"],
           "dataset_seed": point["seed"], "genome_bases": point["genome_bases"],
           "repeat": point["repeat"]}
    row.update({f"knob.{k}": v for k, v in sorted(point["knobs"].items())})
    return row


def background_cores(run: RunDirectory, tasks: pd.DataFrame) -> float | None:
    """Mean cores the machine spent on anything but this run's tasks while it ran (its node
    series' busy CPU minus the tasks' CPU, over the run): about 0.02 on a quiet machine, the
    manager and sampler themselves; more when something else shared the machine."""
    if not run.node_csv.is_file():
        return None
    node = run.node()
    if node.empty or float(node["elapsed_s"].max()) <= 0:
        return None
    spans = node["elapsed_s"].diff().fillna(node["elapsed_s"])
    busy_s = float((node["cpu_cores"] * spans).sum())
    own_s = float(tasks.loc[tasks["status"] == "succeeded", "cpu_time_s"].sum())
    return round(max(busy_s - own_s, 0.0) / float(node["elapsed_s"].max()), 4)


def downsample(samples: pd.DataFrame, max_per_task: int) -> pd.DataFrame:
    """At most `max_per_task` rows per task, evenly spaced, first and last kept."""
    keep = []
    for _, group in samples.groupby(["run_id", "task_id", "attempt"], sort=False, dropna=False):
        if len(group) <= max_per_task:
            keep.append(group)
        else:
            index = np.unique(np.linspace(0, len(group) - 1, max_per_task).round().astype(int))
            keep.append(group.iloc[index])
    return pd.concat(keep, ignore_index=True) if keep else samples


def export_corpus(campaign_dir: Path, out: Path, max_samples_per_task: int = 30) -> str:
    """Write the corpus of `campaign_dir`'s closed points to `out`; a one-line summary."""
    run_dirs = closed_runs(campaign_dir)
    if not run_dirs:
        raise UserError(f"{campaign_dir}: no closed point yet (run the campaign first)")
    tasks, workflows, features, samples = [], [], [], []
    hosts, versions = set(), {}
    for run_dir in run_dirs:
        run = RunDirectory(run_dir)
        closed = json.loads((run_dir / "features.json").read_text())
        design = _point_columns(closed["point"])
        info = run.read_run_info()
        hosts.add(json.dumps(info.get("host", {}), sort_keys=True))
        versions.update(info.get("tool_versions", {}))
        frame = run.tasks()
        design["background_cores"] = background_cores(run, frame)
        tasks.append(frame.assign(**design))
        ran = frame[frame["status"].isin(["succeeded", "failed"])]
        workflows.append({
            "run_id": info["run_id"], "workflow": closed["point"]["workflow"],
            "status": info.get("status"), "tasks": len(ran),
            "makespan_s": round(float(ran["end_time"].max() - ran["start_time"].min()), 6),
            "cpu_time_s": round(float(ran["cpu_time_s"].sum()), 6),
            "peak_rss_bytes": int(ran["peak_rss_bytes"].max()),
            "input_bytes": closed["features"].get("input_bytes"),
            **design})
        features.append({"run_id": info["run_id"], **{k: v for k, v in
                                                        closed["features"].items()
                                                        if k != "run_id"}})
        samples.append(downsample(run.samples(), max_samples_per_task))
    out.mkdir(parents=True, exist_ok=True)
    task_frame = pd.concat(tasks, ignore_index=True)
    workflow_frame = pd.DataFrame(workflows)
    feature_frame = pd.DataFrame(features)
    atomic_write_text(out / "tasks.csv", task_frame.to_csv(index=False))
    atomic_write_text(out / "workflows.csv", workflow_frame.to_csv(index=False))
    atomic_write_text(out / "features.csv", feature_frame.to_csv(index=False))
    tmp = out / ".samples.parquet.tmp"
    pd.concat(samples, ignore_index=True).to_parquet(tmp, index=False)
    tmp.replace(out / "samples.parquet")
    counts = workflow_frame.groupby("workflow").size().to_dict()
    meta = {
        "genscale_version": __version__, "campaign": str(campaign_dir),
        "runs": len(run_dirs), "runs_by_workflow": {str(k): int(v) for k, v in counts.items()},
        "runs_succeeded": int((workflow_frame["status"] == "succeeded").sum()),
        "tasks": len(task_frame),
        "pairs": sorted(int(p) for p in workflow_frame["pairs"].unique()),
        "presets": sorted(str(p) for p in workflow_frame["preset"].unique()),
        "hosts": [json.loads(h) for h in sorted(hosts)], "tool_versions": versions,
        "max_samples_per_task": max_samples_per_task,
        "sha256": {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
                   for name in ("tasks.csv", "workflows.csv", "features.csv",
                                "samples.parquet")},
    }
    atomic_write_json(out / "corpus.json", meta)
    return (f"{len(run_dirs)} runs ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
            f"{len(task_frame)} tasks, written to {out}")
