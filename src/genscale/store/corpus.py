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

A corpus is also the campaign's durable state: the campaign directory is scratch space on
one machine, the corpus is committed. `done_points(corpus)` lists the points a later
campaign need not run again (succeeded, on a quiet machine), and `export_corpus(...,
base=corpus)` carries the base corpus's rows over for every point the campaign directory
does not hold, so a campaign can be finished, or its noisy points rerun, on another
machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genscale import __version__
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory, atomic_write_json, atomic_write_text


def point_id(dataset_id: str, repeat: int, max_threads: int | None = None) -> str:
    """A campaign point's id: its dataset's, the threads cap it ran under if any (`-t2`),
    and the run's number on it (`-r1`, `-r2`)."""
    threads = f"-t{max_threads}" if max_threads is not None else ""
    return f"{dataset_id}{threads}-r{repeat}"


def dataset_of(point_id: str) -> str:
    """The dataset a point ran (its id without the `-tN` and `-rN`): repeats of one dataset,
    under any threads, are never split between the training and the test rows of a model."""
    return re.sub(r"(-t\d+)?-r\d+$", "", point_id)


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
    # the axes later campaigns added (corpus-v1's points have neither)
    for name in ("read_length", "max_threads"):
        if point.get(name) is not None:
            row[name] = point[name]
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


CORPUS_TABLES = ("tasks.csv", "workflows.csv", "features.csv", "samples.parquet")
QUIET_BACKGROUND_CORES = 0.1  # above this, a run shared the machine with other work


@dataclass(frozen=True)
class Corpus:
    """The tables of an exported corpus, as read back."""

    tasks: pd.DataFrame
    workflows: pd.DataFrame
    features: pd.DataFrame
    samples: pd.DataFrame
    meta: dict[str, Any]


def _check_corpus(corpus_dir: Path) -> None:
    if not (corpus_dir / "corpus.json").is_file():
        raise UserError(f"{corpus_dir}: not a corpus (no corpus.json)")


def read_corpus(corpus_dir: Path) -> Corpus:
    """Read a corpus written by `export_corpus`."""
    _check_corpus(corpus_dir)
    return Corpus(tasks=pd.read_csv(corpus_dir / "tasks.csv", low_memory=False),
                  workflows=pd.read_csv(corpus_dir / "workflows.csv"),
                  features=pd.read_csv(corpus_dir / "features.csv", low_memory=False),
                  samples=pd.read_parquet(corpus_dir / "samples.parquet"),
                  meta=json.loads((corpus_dir / "corpus.json").read_text()))


def done_points(corpus_dir: Path, max_background_cores: float = QUIET_BACKGROUND_CORES
                ) -> set[str]:
    """Point ids the corpus holds as succeeded on a quiet machine (`background_cores`
    below `max_background_cores`): a campaign continued from this corpus skips them."""
    _check_corpus(corpus_dir)
    runs = pd.read_csv(corpus_dir / "workflows.csv")  # the one table this needs
    quiet = (runs["status"] == "succeeded") & (runs["background_cores"] < max_background_cores)
    return set(runs.loc[quiet, "point_id"].astype(str))


def export_corpus(campaign_dir: Path, out: Path, max_samples_per_task: int = 30,
                  base: Path | None = None) -> str:
    """Write the corpus of `campaign_dir`'s closed points to `out`; a one-line summary.

    With `base` (a corpus exported earlier), every point of `base` that `campaign_dir`
    does not hold is carried over as it was; a point in both is taken from `campaign_dir`.
    `out` may be `base` itself: it is read whole before anything is written."""
    run_dirs = closed_runs(campaign_dir)
    if not run_dirs:
        raise UserError(f"{campaign_dir}: no closed point yet (run the campaign first)")
    previous = read_corpus(base) if base is not None else None
    tasks, workflows, features, samples = [], [], [], []
    hosts, versions = set(), {}
    for run_dir in run_dirs:
        run = RunDirectory(run_dir)
        closed = json.loads((run_dir / "features.json").read_text())
        design = _point_columns(closed["point"])
        info = run.read_run_info()
        # the corpus may span machines (a campaign finished elsewhere): say which ran what
        design["cpu_model"] = info.get("host", {}).get("cpu_model")
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
    task_frame = pd.concat(tasks, ignore_index=True)
    workflow_frame = pd.DataFrame(workflows)
    feature_frame = pd.DataFrame(features)
    sample_frame = pd.concat(samples, ignore_index=True)
    campaigns = [str(campaign_dir)]
    if previous is not None:
        new = set(workflow_frame["run_id"])
        _fill_cpu_model(previous)
        task_frame = _carry_over(previous.tasks, task_frame, new)
        workflow_frame = _carry_over(previous.workflows, workflow_frame, new)
        feature_frame = _carry_over(previous.features, feature_frame, new)
        sample_frame = _carry_over(previous.samples, sample_frame, new)
        hosts.update(json.dumps(h, sort_keys=True) for h in previous.meta.get("hosts", []))
        versions = {**previous.meta.get("tool_versions", {}), **versions}
        earlier = previous.meta.get("campaign", [])
        campaigns = list(dict.fromkeys(
            [*([earlier] if isinstance(earlier, str) else earlier), *campaigns]))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "tasks.csv", task_frame.to_csv(index=False))
    atomic_write_text(out / "workflows.csv", workflow_frame.to_csv(index=False))
    atomic_write_text(out / "features.csv", feature_frame.to_csv(index=False))
    tmp = out / ".samples.parquet.tmp"
    sample_frame.to_parquet(tmp, index=False)
    tmp.replace(out / "samples.parquet")
    counts = workflow_frame.groupby("workflow").size().to_dict()
    meta = {
        "genscale_version": __version__, "campaign": campaigns,
        "runs": len(workflow_frame),
        "runs_by_workflow": {str(k): int(v) for k, v in counts.items()},
        "runs_succeeded": int((workflow_frame["status"] == "succeeded").sum()),
        "tasks": len(task_frame),
        "pairs": sorted(int(p) for p in workflow_frame["pairs"].unique()),
        "presets": sorted(str(p) for p in workflow_frame["preset"].unique()),
        "hosts": [json.loads(h) for h in sorted(hosts)], "tool_versions": versions,
        "max_samples_per_task": max_samples_per_task,
        "sha256": file_hashes(out),
    }
    atomic_write_json(out / "corpus.json", meta)
    return (f"{len(workflow_frame)} runs ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
            f"{len(task_frame)} tasks, written to {out}")


def file_hashes(corpus_dir: Path) -> dict[str, str]:
    """The sha256 of each of the corpus's tables, as `corpus.json` records them."""
    return {name: hashlib.sha256((corpus_dir / name).read_bytes()).hexdigest()
            for name in CORPUS_TABLES}


def write_features(corpus_dir: Path, features: pd.DataFrame) -> None:
    """Replace the corpus's `features.csv` (to a temporary name first) and its sha256 in
    `corpus.json`, as a script that adds feature columns to a committed corpus must."""
    meta_path = corpus_dir / "corpus.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    atomic_write_text(corpus_dir / "features.csv", features.to_csv(index=False))
    meta["sha256"] = file_hashes(corpus_dir)
    atomic_write_json(meta_path, meta)


def _carry_over(base: pd.DataFrame, new: pd.DataFrame, new_runs: set[str]) -> pd.DataFrame:
    """`base`'s rows of runs not in `new_runs`, then `new`, ordered by run."""
    kept = base[~base["run_id"].astype(str).isin(new_runs)]
    merged = pd.concat([kept, new], ignore_index=True)
    return merged.sort_values("run_id", kind="stable", ignore_index=True)


def _fill_cpu_model(corpus: Corpus) -> None:
    """A corpus exported before `cpu_model` was a column ran on the one machine its
    corpus.json names: its rows get that machine's CPU model."""
    hosts = corpus.meta.get("hosts", [])
    if "cpu_model" in corpus.workflows.columns or len(hosts) != 1:
        return
    for frame in (corpus.tasks, corpus.workflows):
        frame["cpu_model"] = hosts[0].get("cpu_model")
