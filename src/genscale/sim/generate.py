"""`genscale synth trace`: a platform's workload, drawn from the measured work laws.

For N workflows: each workflow's type (by the mix's shares), its arrival (a Poisson
process over the span, or one whose rate follows the time of day), its read pairs
(lognormal), read length and read quality (by the mix's shares). Then every task's demands
come from the scaling model (`model.scaling`, `model.projection.step_demands`) at those
inputs, so input size drives runtime as the corpus measured it:

- CPU time, peak memory and bytes: the step's law, times the reads' quality factor (CPU),
  times a lognormal draw with the spread the law leaves on held-out runs (`log_sigma`:
  robust, so the few runs far off do not widen the body);
- the tail: size and quality are in the laws already; what is left (`scaling.
  residual_tail`, measured on the quality corpus: how often a run took more than the tail
  factor times the median of its size and preset, and by how much) makes a workflow a
  tail one with its preset's rate, its tasks then taking one of the measured factors
  more;
- wall time: CPU time over the cores the step keeps busy at its threads.

Index steps (the catalog's `cache: true`: bwa index, STAR's genome, faidx, the dictionary)
are left out: a platform builds each reference's indexes once, not per workflow.

Every draw comes from one generator seeded by `seed`, in a fixed order, so the same seed
and mix give the same tables. Workflows are made in chunks of `CHUNK`, so memory stays flat
in N apart from the tables themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.model import scaling
from genscale.model.projection import StepPlan, step_demands, step_plans, step_threads
from genscale.sim.mix import Mix

# tasks.parquet's columns, in order (the contract, then what the policies read)
TASK_COLUMNS = ("workflow_id", "task_id", "step", "app", "arrival_s", "parents", "threads",
                "memory_bytes", "cpu_time_s", "wall_s", "peak_rss_bytes", "read_bytes",
                "write_bytes", "predicted_s", "tail_probability")
CHUNK = 50_000
DAY_S = 86_400.0
Z90 = 1.2815515655446004  # the standard normal's 90th percentile


@dataclass
class Drawn:
    """One chunk of workflows and their tasks."""

    workflows: pd.DataFrame
    tasks: pd.DataFrame


def arrivals_s(mix: Mix, n: int, rng: np.random.Generator) -> np.ndarray:
    """N arrival times, sorted: uniform order statistics over the span (a Poisson process
    given its count); thinned to a rate that follows the day (peak at 14:00); bursts of
    `burst_size` evenly spread over the span; or a real trace's times replayed."""
    span = mix.span_days * DAY_S
    process = mix.arrivals.process
    if process == "poisson":
        return np.sort(rng.uniform(0.0, span, n))
    if process == "bursts":
        bursts = -(-n // mix.arrivals.burst_size)
        return (np.arange(n) // mix.arrivals.burst_size) * (span / bursts)
    if process == "replay":
        return _replayed(mix, n)
    r = mix.arrivals.peak_to_trough
    amplitude = (r - 1.0) / (r + 1.0)
    out = np.empty(0)
    while out.size < n:
        times = rng.uniform(0.0, span, 2 * (n - out.size) + 16)
        rate = 1.0 + amplitude * np.cos(2 * np.pi * (times / DAY_S - 14 / 24))
        out = np.concatenate([out, times[rng.uniform(0, 1 + amplitude, times.size) < rate]])
    return np.sort(out[:n])


def _replayed(mix: Mix, n: int) -> np.ndarray:
    """The replay file's times from its first, repeated after its last (with the mean gap)
    until there are N."""
    path = mix.arrivals.replay_csv
    column = mix.arrivals.replay_column
    try:
        table = pd.read_csv(path)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise UserError(f"{path}: no such replay file") from None
    if column not in table.columns:
        raise UserError(f"{path}: no column {column} (replay_column)")
    times = np.sort(pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float))
    if times.size == 0 or not np.isfinite(times).all():
        raise UserError(f"{path}: column {column} must hold numbers of seconds")
    times = times - times[0]
    period = times[-1] + (times[-1] / max(times.size - 1, 1) if times.size > 1 else 1.0)
    repeats = -(-n // times.size)
    return (np.tile(times, repeats) + np.repeat(np.arange(repeats) * period, times.size))[:n]


def _choice(rng: np.random.Generator, shares: dict[Any, float], n: int) -> np.ndarray:
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), n, p=weights / weights.sum())]


def generate(mix: Mix, n: int, seed: int, model: dict[str, Any]) -> Iterator[Drawn]:
    """The workload in chunks (module docstring)."""
    if n < 1:
        raise UserError("--workflows: expected at least 1")
    rng = np.random.default_rng(seed)
    plans = {w.workflow: step_plans(w.workflow) for w in mix.workflows}
    fitted = {w.workflow: scaling.workflow_model(model, w.workflow) for w in mix.workflows}
    times = arrivals_s(mix, n, rng)
    shares = np.array([w.share for w in mix.workflows])
    for first in range(0, n, CHUNK):
        count = min(CHUNK, n - first)
        kinds = rng.choice(len(mix.workflows), count, p=shares / shares.sum())
        frames, task_frames = [], []
        for j, spec in enumerate(mix.workflows):
            rows = np.flatnonzero(kinds == j)
            if rows.size == 0:
                continue
            ids = np.array([f"wf{first + i:08d}" for i in rows])
            workflows, tasks = _draw(spec, rows.size, ids, times[first + rows], rng,
                                     plans[spec.workflow], fitted[spec.workflow], model)
            frames.append(workflows)
            task_frames.append(tasks)
        workflows = pd.concat(frames).sort_values("workflow_id", kind="stable")
        tasks = pd.concat(task_frames)
        order = pd.Categorical(tasks["workflow_id"], categories=workflows["workflow_id"])
        tasks = tasks.assign(_o=order.codes).sort_values(["_o", "_step"], kind="stable")
        yield Drawn(workflows.reset_index(drop=True),
                    tasks[list(TASK_COLUMNS)].reset_index(drop=True))


def _draw(spec: Any, count: int, ids: np.ndarray, arrival: np.ndarray,
          rng: np.random.Generator, plans: list[StepPlan], fitted: dict[str, Any],
          model: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    pairs = spec.pairs.median * np.exp(spec.pairs.sigma * rng.standard_normal(count))
    pairs = np.maximum(np.round(pairs), 1.0)
    read_length = _choice(rng, {float(k): v for k, v in spec.read_lengths.items()},
                          count).astype(float)
    preset = _choice(rng, dict(spec.quality), count).astype(str)
    reference = np.full(count, float(spec.reference_bases))
    return draw_workflows(spec.workflow, spec.threads, ids, arrival, pairs, read_length,
                          reference, preset, rng, plans, fitted, model)


def draw_workflows(workflow: str, threads_asked: int | None, ids: np.ndarray,
                   arrival: np.ndarray, pairs: np.ndarray, read_length: np.ndarray,
                   reference: np.ndarray, preset: np.ndarray, rng: np.random.Generator,
                   plans: list[StepPlan], fitted: dict[str, Any], model: dict[str, Any]
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workflows and tasks of one workflow type at given inputs (arrays, one value
    per workflow): the tail, then each task's demands (module docstring)."""
    count = len(ids)
    tails = (model.get("tail") or {}).get(workflow, {})
    probability = np.array([tails.get(p, {}).get("rate", 0.0) for p in preset])
    tail = rng.uniform(0, 1, count) < probability
    pooled = sorted(f for t in tails.values() for f in t.get("factors", []))
    tail_factor = np.ones(count)
    for i in np.flatnonzero(tail):
        seen = tails.get(preset[i], {}).get("factors") or pooled
        tail_factor[i] = seen[int(rng.integers(len(seen)))] if seen else 1.0
    factors = (model.get("presets") or {}).get(workflow, {})
    # an index is built once per reference and cached: a platform's workflows take it ready
    known = [p for p in plans if p.shape.step in fitted["steps"] and not p.cached]
    names = {p.shape.step for p in known}
    task_frames = []
    for position, plan in enumerate(known):
        step = plan.shape.step
        threads = step_threads(plan, threads_asked)
        quality = np.array([factors.get(p, {}).get(step, 1.0) for p in preset])
        state = fitted["steps"][step]
        figures = step_demands(state, plan, pairs, read_length, reference, threads, threads,
                               quality)
        frame: dict[str, Any] = {"workflow_id": ids, "task_id": np.full(count, step), "step": step,
                 "app": plan.app, "arrival_s": arrival,
                 "parents": [" ".join(d for d in plan.shape.deps if d in names)] * count,
                 "threads": threads,
                 "memory_bytes": np.full(count, float(plan.heap_bytes or 0.0)), "_step": position}
        for name in ("cpu_time_s", "peak_rss_bytes", "read_bytes", "write_bytes"):
            if name not in figures:
                frame[name] = np.nan
                continue
            demand = state["demands"][name]
            spread = demand.get("log_sigma", np.log(demand["p90_factor"]) / Z90)
            drawn = figures[name] * np.exp(spread * rng.standard_normal(count))
            frame[name] = drawn * (tail_factor if name == "cpu_time_s" else 1.0)
        busy = figures["cpu_time_s"] / np.maximum(figures["wall_s"], 1e-12)
        frame["wall_s"] = frame["cpu_time_s"] / busy
        # what a scheduler would be asked for: the peak it was seen to need, at least
        frame["memory_bytes"] = np.maximum(frame["memory_bytes"], frame["peak_rss_bytes"])
        frame["predicted_s"] = figures["wall_s"]
        frame["tail_probability"] = probability
        task_frames.append(pd.DataFrame(frame))
    tasks = pd.concat(task_frames, ignore_index=True)
    # what a predictor would say of the whole workflow before it runs: its steps' typical
    # wall times, one after the other (the policies rank workflows by it)
    tasks["predicted_s"] = tasks.groupby("workflow_id")["predicted_s"].transform("sum")
    workflows = pd.DataFrame({
        "workflow_id": ids, "workflow": workflow, "arrival_s": arrival,
        "pairs": pairs, "read_length": read_length, "reference_bases": reference,
        "preset": preset, "tail": tail, "tail_factor": tail_factor,
        "tail_probability": probability})
    return workflows, tasks


def series(chunk: Drawn, shapes: dict[str, Any], points: int) -> pd.DataFrame:
    """`points` samples of each task's CPU and memory over its run: its step's measured
    shape (`model.shapes`), scaled to the task's drawn CPU time and peak memory (so the
    CPU samples average its mean cores, and the memory peaks at its peak). A step without
    a measured shape holds its mean cores and peak flat."""
    from genscale.model.shapes import resample

    kinds = dict(zip(chunk.workflows["workflow_id"], chunk.workflows["workflow"], strict=True))
    tasks = chunk.tasks
    workflow = tasks["workflow_id"].map(kinds).to_numpy()
    frames = []
    at = (np.arange(points) + 0.5) / points
    position = np.arange(len(tasks))
    for (kind, step), rows in tasks.groupby([workflow, tasks["step"].to_numpy()], sort=False):
        shape = (shapes.get(str(kind)) or {}).get(str(step))
        cpu_shape, rss_shape = (resample(shape, points) if shape
                                else (np.ones(points), np.ones(points)))
        wall = rows["wall_s"].to_numpy(dtype=float)
        mean = rows["cpu_time_s"].to_numpy(dtype=float) / np.maximum(wall, 1e-12)
        frames.append(pd.DataFrame({
            "_o": np.repeat(position[rows.index.to_numpy()], points),
            "workflow_id": np.repeat(rows["workflow_id"].to_numpy(), points),
            "task_id": np.repeat(rows["task_id"].to_numpy(), points),
            "t_s": np.outer(wall, at).ravel(),
            "cpu_cores": np.outer(mean, cpu_shape).ravel(),
            "rss_bytes": np.outer(rows["peak_rss_bytes"].to_numpy(dtype=float),
                                  rss_shape).ravel()}))
    # in the tasks' order (workflows, then plan order), each task's samples in time
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["_o", "t_s"], kind="stable").drop(columns=["_o"]) \
        .reset_index(drop=True)
