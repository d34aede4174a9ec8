"""What a workflow will cost on given inputs and nodes: `genscale project`.

Each step's demands come from its work laws (`model.scaling`) at the inputs asked for,
times a quality factor (the read quality's effect on the step's time, from a model of
corpus-v1's runs, which varied quality at one reference length: see
`scaling.quality_factors`).
Its wall time is its CPU time over the cores it keeps busy (`scaling.busy_cores`, at most
the node's). The whole workflow's wall time is the engine's dispatch rule replayed on
those wall times and the node's cores (`model.compose.schedule_s`), its peak memory the
most that steps running at once hold together in that replay, its CPU time and bytes
the sums over its steps.

Every p90 is the step's prediction times its held-out p90 factor; the workflow's p90s
replay or sum its steps' p90s, as if every step ran slow together (an upper estimate:
the steps of one input do tend to run slow together, through the input's quality).

A step's peak memory grows with the reference and threads but not with the reads beyond
the largest measured: the tools stream their reads in batches. Seen in production-v1: bwa
mem's resident memory at 2 threads rose 6x from 10,000 to 100,000 pairs at 1 Mb (27 to
179 MiB) but only by 100-150 MiB from 100,000 to 1,000,000 at every reference length,
where the index dominates (1.9 GiB at 1 Gb). Holding the reads' share at the largest
measured input under-estimates what growth is left.

A step's figures are marked `extrapolated` with the dimensions of the inputs that lie
outside what the corpus measured for it (pairs, read length, reference length, threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.model import scaling
from genscale.model.compose import StepShape, schedule_s
from genscale.model.scaling import Inputs, busy_cores, predict_demand

FIGURES = ("cpu_time_s", "wall_s", "peak_rss_bytes", "read_bytes", "write_bytes")
COLUMNS = ("step", "app", "threads", *[c for f in FIGURES for c in (f, f"{f}_p90")],
           "extrapolated")
WORKFLOW_ROW = "(workflow)"


@dataclass(frozen=True)
class Question:
    """What an operator asks: a workflow on these inputs, on nodes like this."""

    pairs: float
    read_length: float
    reference_bases: float
    cores: int
    threads: int | None = None  # each multi-threaded step's; None: the workflow's own
    memory_bytes: float | None = None  # a node's memory, to flag steps that exceed it
    quality_factors: Mapping[str, float] = field(default_factory=dict)  # by step; 1 absent


@dataclass
class StepPlan:
    """What projection needs of a planned step: its shape, and its heap where the command
    sets one (`-Xmx`): a JVM's resident memory stays near its heap whatever the input."""

    shape: StepShape
    app: str
    heap_bytes: float | None
    cached: bool = False  # an index step: built once per reference, then taken from cache


def step_plans(workflow_ref: str) -> list[StepPlan]:
    """The workflow's steps in plan order (`model.compose.plan_shape`, with heaps)."""
    from genscale.workflow.loader import load_workflow
    from genscale.workflow.shape import shape_plan, steps_waited_for

    plan = shape_plan(*load_workflow(workflow_ref))
    waits = steps_waited_for(plan)
    return [StepPlan(StepShape(t.step, waits[t.task_id], t.threads), t.app,
                     float(t.memory_bytes) if "-Xmx" in t.command else None, t.cache)
            for t in plan.tasks]


def _outside(ranges: Mapping[str, list[float]], values: Mapping[str, float]) -> list[str]:
    """The dimensions of `values` outside the measured `ranges` (1% slack for rounding)."""
    out = []
    for name, value in values.items():
        low, high = ranges[name]
        if value < low * 0.99 or value > high * 1.01:
            out.append(name)
    return out


def step_threads(plan: StepPlan, threads: int | None) -> int:
    """A step's threads when each multi-threaded step is given `threads` (None: its own)."""
    own = plan.shape.threads
    return threads if threads is not None and own > 1 else own


def step_demands(fitted: Mapping[str, Any], plan: StepPlan, pairs: np.ndarray,
                 read_length: np.ndarray, reference_bases: np.ndarray, threads: int,
                 cores: int, factor: np.ndarray | float = 1.0) -> dict[str, np.ndarray]:
    """A step's figures (`FIGURES` and their `_p90`) for inputs given as arrays (one value
    per workflow), with `heap_capped` where a JVM's memory was held to its heap. `factor`
    multiplies its CPU time (the reads' quality, `scaling.quality_factors`)."""
    n = len(pairs)
    inputs = Inputs(pairs, read_length, reference_bases, np.full(n, float(threads)))
    # memory held at the largest reads measured: the tools stream their reads in batches
    # (bwa: 10 Mb per thread; samtools sort: -m per thread; Java: its heap), so what grows
    # with the reads in small runs stops growing in large ones
    ranges = fitted["ranges"]
    streamed = Inputs(np.minimum(pairs, ranges["pairs"][1]),
                      np.minimum(read_length, ranges["read_length"][1]), reference_bases,
                      inputs.threads)
    out: dict[str, np.ndarray] = {}
    for name, demand in fitted["demands"].items():
        point = predict_demand(demand, streamed if name == "peak_rss_bytes" else inputs)
        if name == "cpu_time_s":
            point = point * factor
        out[name], out[f"{name}_p90"] = point, point * demand["p90_factor"]
    out["heap_capped"] = np.zeros(n, dtype=bool)
    if plan.heap_bytes is not None and "peak_rss_bytes" in out:
        cap = plan.heap_bytes + fitted.get("heap_overhead_bytes", 0.0)
        out["heap_capped"] = out["peak_rss_bytes_p90"] > cap
        out["peak_rss_bytes"] = np.minimum(out["peak_rss_bytes"], cap)
        out["peak_rss_bytes_p90"] = np.minimum(out["peak_rss_bytes_p90"], cap)
    if "cpu_time_s" in out:
        busy = busy_cores(fitted["parallelism"], threads, cores)
        out["wall_s"], out["wall_s_p90"] = out["cpu_time_s"] / busy, out["cpu_time_s_p90"] / busy
    return out


def project(model: Mapping[str, Any], plans: list[StepPlan], question: Question
            ) -> pd.DataFrame:
    """One row per step the model knows (plan order) and a last row for the workflow,
    with the columns of `COLUMNS`, plus `note` (why a figure is what it is)."""
    steps = model["steps"]
    known = [p for p in plans if p.shape.step in steps]
    if not known:
        raise UserError(f"the scaling model knows no step of this workflow (it has "
                        f"{', '.join(sorted(steps))})")
    known_names = {p.shape.step for p in known}
    rows = []
    shape = []
    for plan in known:
        fitted = steps[plan.shape.step]
        threads = step_threads(plan, question.threads)
        values = {"pairs": question.pairs, "read_length": question.read_length,
                  "reference_bases": question.reference_bases, "threads": float(threads)}
        figures = step_demands(fitted, plan, np.array([question.pairs]),
                               np.array([question.read_length]),
                               np.array([question.reference_bases]), threads, question.cores,
                               float(question.quality_factors.get(plan.shape.step, 1.0)))
        row: dict[str, Any] = {"step": plan.shape.step, "app": plan.app, "threads": threads}
        row.update({k: float(v[0]) for k, v in figures.items() if k != "heap_capped"})
        notes = ["memory held to its -Xmx heap"] if figures["heap_capped"][0] else []
        if plan.cached:
            notes.append("once per reference (cached after)")
        row["extrapolated"] = ",".join(_outside(fitted["ranges"], values))
        if question.memory_bytes is not None and row.get("peak_rss_bytes", 0) \
                > question.memory_bytes:
            notes.append("needs more memory than a node has")
        row["note"] = "; ".join(notes)
        rows.append(row)
        shape.append(StepShape(plan.shape.step,
                               tuple(d for d in plan.shape.deps if d in known_names), threads))
    frame = pd.DataFrame(rows)
    cached = {p.shape.step for p in known if p.cached}
    frame = pd.concat([frame, pd.DataFrame([_workflow_row(frame, shape, question, cached)])],
                      ignore_index=True)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame[[*COLUMNS, "note"]]


def _workflow_row(all_steps: pd.DataFrame, shape: list[StepShape], question: Question,
                  cached: set[str]) -> dict[str, Any]:
    """The workflow's figures, its index steps (`cached`) left out: a platform builds a
    reference's indexes once, and its workflows find them ready."""
    row: dict[str, Any] = {"step": WORKFLOW_ROW, "app": WORKFLOW_ROW,
                           "threads": question.cores}
    steps = all_steps.assign(**{c: all_steps[c].where(~all_steps["step"].isin(cached), 0.0)
                                for c in all_steps.columns
                                if c.endswith(("_s", "_bytes", "_p90"))})
    for name in ("cpu_time_s", "read_bytes", "write_bytes"):
        for column in (name, f"{name}_p90"):
            row[column] = float(steps[column].sum(min_count=1)) if column in steps else np.nan
    for suffix in ("", "_p90"):
        walls = dict(zip(steps["step"], steps[f"wall_s{suffix}"].fillna(0.0), strict=True))
        spans = schedule_s(shape, walls, question.cores)
        row[f"wall_s{suffix}"] = max(end for _, end in spans.values())
        peaks = dict(zip(steps["step"], steps[f"peak_rss_bytes{suffix}"].fillna(0.0),
                         strict=True))
        row[f"peak_rss_bytes{suffix}"] = _concurrent_peak(spans, peaks)
    row["extrapolated"] = ",".join(sorted({d for v in steps["extrapolated"] if v
                                           for d in v.split(",")}))
    row["note"] = ("wall: the steps replayed on the node's cores; peak memory: the most "
                   "steps running at once hold; index steps left out (built once)")
    return row


def _concurrent_peak(spans: Mapping[str, tuple[float, float]],
                     peaks: Mapping[str, float]) -> float:
    """The most memory steps running at once hold together, each at its peak throughout."""
    events = sorted([(start, 1, step) for step, (start, _) in spans.items()]
                    + [(end, 0, step) for step, (_, end) in spans.items()])
    held = most = 0.0
    for _, starting, step in events:  # an end before a start at the same instant
        held += peaks[step] if starting else -peaks[step]
        most = max(most, held)
    return most



def project_workflow(workflow: str, pairs: float, read_length: float, reference_bases: float,
                     cores: int = 2, threads: int | None = None, preset: str | None = None,
                     memory_bytes: float | None = None, model: Any = None,
                     quality_factors: Mapping[str, float] | None = None) -> pd.DataFrame:
    """What `genscale project` prints, as a table: one row per step and a last one for the
    workflow (`COLUMNS`, and `note`). `model`: a scaling model file's path or its loaded
    dict (default: the packaged one); `preset`: the reads' quality as corpus-v1's presets
    (default typical); `quality_factors` by step instead, such as a dataset's.

        table = genscale.project_workflow("dnaseq", pairs=24e6, read_length=100,
                                          reference_bases=3.1e9, threads=8, cores=96)
        table.set_index("step").loc["(workflow)", "wall_s"]
    """
    from pathlib import Path

    if model is None or isinstance(model, str | Path):
        model = scaling.load(Path(model) if model is not None else scaling.PACKAGED)
    fitted = scaling.workflow_model(model, workflow)
    factors = dict(quality_factors or {})
    if preset is not None and quality_factors is None:
        chosen = (model.get("presets", {}).get(workflow) or {}).get(preset)
        if chosen is None:
            raise UserError(f"the scaling model has no quality factors for {workflow} with "
                            f"preset {preset}")
        factors = dict(chosen)
    question = Question(pairs=float(pairs), read_length=float(read_length),
                        reference_bases=float(reference_bases), cores=int(cores),
                        threads=threads, memory_bytes=memory_bytes, quality_factors=factors)
    return project(fitted, step_plans(workflow), question)
