"""Workloads: many workflow instances in one run, arriving over time, under a policy.

A workload spec names the mix (workflows with weights, each with a real dataset or the
knobs of a synthetic one), how many instances, how they arrive (all at once, a Poisson
rate, bursts, or a replay of a CSV of submit times), how many may be in flight, and the
scheduling policy. Every instance gets its own workflow_id (`NAME-0001`), its own work
directory, and task ids prefixed with it, all in one run directory.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.errors import UserError
from genscale.workflow.loader import catalog_names, load_model, load_workflow, read_spec_text
from genscale.workflow.plan import Plan, make_plan


class MixEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str
    weight: Annotated[float, Field(gt=0)] = 1.0
    dataset: str | None = None  # a dataset directory
    synth: dict[str, Any] | None = None  # or the knobs of `genscale data synth`
    params: dict[str, str] = {}


class Arrival(BaseModel):
    model_config = ConfigDict(extra="forbid")

    process: Literal["all", "poisson", "bursts", "replay"] = "all"
    rate_per_min: Annotated[float, Field(gt=0)] | None = None
    burst_size: Annotated[int, Field(ge=1)] | None = None
    burst_every_s: Annotated[float, Field(gt=0)] | None = None
    replay_csv: str | None = None
    replay_column: str = "submit_s"


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
    instances: Annotated[int, Field(ge=1)]
    mix: Annotated[list[MixEntry], Field(min_length=1)]
    arrival: Arrival = Arrival()
    concurrency: Annotated[int, Field(ge=1)] | None = None
    policy: str = "fifo"
    seed: int = 1


def load_workload(path: Path) -> WorkloadSpec:
    if not path.is_file():
        raise UserError(f"{path}: no such workload spec")
    spec, source = load_model(str(path), read_spec_text(path), WorkloadSpec,
                              "a workload spec")
    a = spec.arrival
    needs = {"poisson": ("rate_per_min",), "bursts": ("burst_size", "burst_every_s"),
             "replay": ("replay_csv",)}.get(a.process, ())
    for name in needs:
        if getattr(a, name) is None:
            raise UserError(source.problem(("arrival",), f"process {a.process} needs {name}"))
    for i, entry in enumerate(spec.mix):
        if (entry.dataset is None) == (entry.synth is None):
            raise UserError(source.problem(("mix", i), "give exactly one of dataset or synth"))
    return spec


def arrival_times(spec: WorkloadSpec, base: Path) -> list[float]:
    """Seconds after the start at which each instance arrives, in instance order."""
    a, n = spec.arrival, spec.instances
    rng = random.Random(spec.seed)
    if a.process == "all":
        return [0.0] * n
    if a.process == "poisson":
        rate_per_s = (a.rate_per_min or 1.0) / 60.0
        times, t = [], 0.0
        for _ in range(n):
            times.append(round(t, 3))
            t += rng.expovariate(rate_per_s)
        return times
    if a.process == "bursts":
        return [float((i // int(a.burst_size or 1)) * float(a.burst_every_s or 0.0))
                for i in range(n)]
    path = Path(str(a.replay_csv))
    path = path if path.is_absolute() else base / path
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise UserError(f"{path}: no such replay file") from None
    try:
        times = sorted(float(r[a.replay_column]) for r in rows)
    except (KeyError, ValueError):
        raise UserError(f"{path}: column {a.replay_column} of numbers expected") from None
    if len(times) < n:
        raise UserError(f"{path}: {len(times)} submit times for {n} instances")
    return [round(t - times[0], 3) for t in times[:n]]


def synth_dataset(knobs: dict[str, Any], cache: Path) -> Dataset:
    """A synthetic dataset made once per set of knobs, kept under `cache`."""
    try:
        options = SynthOptions(**knobs)
    except TypeError as exc:
        raise UserError(f"synth: {exc}") from None
    key = hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest()[:16]
    final = cache / key
    if (final / "manifest.json").is_file():
        return Dataset.load(final)
    tmp = cache / f".{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    synthesize(options, tmp)
    tmp.rename(final)
    return Dataset.load(final)


Predictor = Callable[[Dataset, str], float]


@dataclass(frozen=True)
class WorkflowPredictions:
    """What orders shortest-predicted-first: a whole-workflow time in seconds per (dataset,
    workflow name), and where it comes from (run.json's `workload.predictions`). The engine
    takes the function, not a model: `genscale.forecast.workflow_predictor` makes one
    from a bundle."""

    predict_s: Predictor
    source: str


def input_size_heuristic(dataset: Dataset, workflow: str) -> float:
    """Shortest-predicted-first without a model: runtime taken to grow with input bytes."""
    return dataset.input_bytes / 1e6


def build_instances(spec: WorkloadSpec, base: Path, workdir: Path, cache: Path,
                    predict_s: Predictor = input_size_heuristic
                    ) -> tuple[Plan, dict[str, dict[str, Any]]]:
    """One plan holding every instance's tasks, and each instance's facts, its predicted
    runtime from `predict_s` among them."""
    rng = random.Random(spec.seed + 1)
    arrivals = arrival_times(spec, base)
    weights = [e.weight for e in spec.mix]
    datasets: dict[int, Dataset] = {}
    predictions: dict[tuple[int, str], float] = {}
    instances: dict[str, dict[str, Any]] = {}
    tasks = []
    first_plan: Plan | None = None
    for i in range(spec.instances):
        k = rng.choices(range(len(spec.mix)), weights)[0]
        entry = spec.mix[k]
        if k not in datasets:
            datasets[k] = (synth_dataset(entry.synth, cache) if entry.synth is not None
                           else Dataset.load(base / str(entry.dataset)))
        wid = f"{spec.name}-{i + 1:04d}"
        # a catalog name, or a path relative to the workload spec
        ref = entry.workflow
        if ref not in catalog_names() and not Path(ref).is_absolute():
            ref = str(base / ref)
        workflow, source = load_workflow(ref)
        plan = make_plan(workflow, source, datasets[k], workdir / wid, entry.params,
                         task_prefix=f"{wid}.")
        for task in plan.tasks:
            task.workflow_id = wid
        tasks.extend(plan.tasks)
        first_plan = first_plan or plan
        instances[wid] = {"workflow": workflow.name, "dataset": str(datasets[k].path),
                          "arrival_s": arrivals[i],
                          "predicted_s": predictions.setdefault(
                              (k, workflow.name), predict_s(datasets[k], workflow.name))}
    assert first_plan is not None
    order = {wid: rank for rank, wid in enumerate(
        sorted(instances, key=lambda w: (instances[w]["arrival_s"], w)))}
    tasks.sort(key=lambda t: order[str(t.workflow_id)])  # stable: plan order kept within
    combined = Plan(first_plan.workflow, first_plan.source, workdir, first_plan.params,
                    first_plan.dataset, tasks)
    return combined, instances
