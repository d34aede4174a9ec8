"""Campaigns: a design of experiments run to completion, one monitored workflow per point.

A campaign spec crosses, per workflow, dataset sizes x quality presets x seeds (each seed a
different synthetic dataset, its knobs jittered around the preset so quality varies
continuously) x repeats. `reruns` run chosen datasets again, to measure how much the same
run varies from one time to the next (the noise no model of the input can explain). Every
point has a stable id, so the campaign can be stopped at any
time and run again: points whose run succeeded are skipped, an interrupted run is resumed
(`resume_workflow`), and the rest run in a fixed shuffled order, so that any prefix of the
campaign already spans the whole design.

Each finished point keeps its run directory's tables, run.json and `features.json` (the
FASTQ and QC-report features of `quality.table.run_features`); its work directory and
dataset are deleted unless the spec keeps them, so a campaign of hundreds of runs fits on a
laptop's disk. With `pilot: true`, each point's dataset gets a pilot run just before its
own run (`pilots/POINT.json`, kept), and the pilot's features join the point's.
"""

from __future__ import annotations

import fnmatch
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genscale.data.knobs import PRESETS, QualityKnobs
from genscale.engine.engine import EventHook
from genscale.engine.pilot import pilot_features
from genscale.engine.runner import RunSettings, resume_workflow, run_workflow
from genscale.engine.workload import synth_dataset
from genscale.errors import UserError
from genscale.quality.table import run_features
from genscale.store.corpus import dataset_of, point_id
from genscale.store.rundir import RunDirectory, atomic_write_json
from genscale.workflow.loader import load_model, read_spec_text

Preset = Literal["clean", "typical", "degraded", "pathological"]


class Cell(BaseModel):
    """One workflow and the axes crossed for it."""

    model_config = ConfigDict(extra="forbid")

    workflow: str
    kind: Literal["dna", "rna"]
    # reference length(s): one, or a list crossed with the other axes
    genome_bases: (Annotated[int, Field(ge=10_000)]
                   | Annotated[list[Annotated[int, Field(ge=10_000)]], Field(min_length=1)]
                   ) = 1_000_000
    read_lengths: Annotated[list[Annotated[int, Field(ge=30, le=250)]],
                            Field(min_length=1)] = [100]
    # each step's threads capped at each of these (`RunSettings.max_threads`); absent:
    # each step's own
    threads: Annotated[list[Annotated[int, Field(ge=1, le=4096)]] | None,
                       Field(min_length=1)] = None
    # uniform: corpus-v1's few repeat families; human: the human genome's repeat classes
    # (`data.genome`), with `reference_knobs` (such as segdup_fraction) over their defaults
    reference_model: Literal["uniform", "human"] = "uniform"
    reference_knobs: dict[str, float] = {}
    # one reference per length, shared by every dataset of the cell (and its indexes
    # built once, cached by content), instead of one per dataset
    shared_reference: bool = False
    pairs: Annotated[list[Annotated[int, Field(ge=1000)]], Field(min_length=1)]
    presets: Annotated[list[Preset], Field(min_length=1)] = ["clean"]
    seeds: Annotated[int, Field(ge=1)] = 1  # datasets per (size, preset)
    # the number of the first of them in the point ids (`-s4-`): a later cell of the same
    # workflow and sizes adds datasets under new ids instead of colliding with the first's
    first_seed: Annotated[int, Field(ge=1)] = 1
    repeats: Annotated[int, Field(ge=1)] = 1  # runs per dataset
    # each knob of a point is its preset's value times a factor in [1 - jitter, 1 + jitter]
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.0


class Rerun(BaseModel):
    """More runs of datasets the cells designed: the same reads, run again."""

    model_config = ConfigDict(extra="forbid")

    # dataset ids (a point id without its `-rN`, such as `dnaseq-dna10000-clean-s1`), or
    # shell patterns of them (`rnaseq-*-s4`); each must name at least one dataset
    datasets: Annotated[list[str], Field(min_length=1)]
    repeats: Annotated[int, Field(ge=2)]  # runs of each, counting the cell's own


class CampaignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
    cells: Annotated[list[Cell], Field(min_length=1)]
    reruns: list[Rerun] = []
    seed: int = 1
    interval_s: Annotated[float, Field(gt=0)] = 1.0
    keep_work: bool = False  # keep each run's work/ directory and its dataset
    # run a pilot (`engine.pilot`) of each point's dataset just before its run, on the same
    # machine in the same session, and keep its `pilot.*` features with the run's
    pilot: bool = False


@dataclass(frozen=True)
class Point:
    """One run of the design."""

    point_id: str
    workflow: str
    kind: str
    genome_bases: int
    pairs: int
    preset: str
    seed: int
    repeat: int
    knobs: dict[str, Any]
    read_length: int = 100
    # the reference's own knobs (`reference_model` and the repeat knobs), or {} for
    # corpus-v1's; with `shared_reference`, made once and shared (`reference_knobs`)
    reference: dict[str, Any] = field(default_factory=dict)
    shared_reference: bool = False
    max_threads: int | None = None  # RunSettings.max_threads

    @property
    def dataset_id(self) -> str:
        return dataset_of(self.point_id)

    def reference_knobs(self) -> dict[str, Any]:
        """The arguments of `SynthOptions` for the dataset that holds a shared reference:
        the reference's length and model, and a token read set."""
        return {"kind": self.kind, "genome_bases": self.genome_bases, "pairs": 1000,
                "seed": 1, **self.reference}

    def synth_knobs(self, reference_from: Path | None = None) -> dict[str, Any]:
        """The arguments of `SynthOptions` for this point's dataset (its reference taken
        from `reference_from` where the cell shares one)."""
        made = {} if reference_from is not None else self.reference
        extra: dict[str, Any] = {"reference_from": str(reference_from)} if reference_from \
            else {}
        if self.read_length != 100:
            extra["read_length"] = self.read_length
        return {"kind": self.kind, "genome_bases": self.genome_bases, "pairs": self.pairs,
                "seed": self.seed, "preset": self.preset, **made, **extra, **self.knobs}


def load_campaign(path: Path) -> CampaignSpec:
    if not path.is_file():
        raise UserError(f"{path}: no such campaign spec")
    spec, _ = load_model(str(path), read_spec_text(path), CampaignSpec,
                         "a campaign spec")
    return spec


def _jittered(preset: str, jitter: float, rng: random.Random) -> dict[str, Any]:
    """The knobs the preset sets, each times a factor in [1 - jitter, 1 + jitter]; drawn
    again (with the jitter halved each time) until they are valid together."""
    base, default = PRESETS[preset], QualityKnobs()
    for _ in range(20):
        knobs: dict[str, Any] = {}
        for f in fields(QualityKnobs):
            value = getattr(base, f.name)
            if jitter == 0 or value == getattr(default, f.name):  # only what the preset sets
                continue
            factor = rng.uniform(1 - jitter, 1 + jitter)
            if isinstance(value, int) and not isinstance(value, bool):
                knobs[f.name] = round(value * factor)
            else:
                knobs[f.name] = round(float(value) * factor, 6)
        try:
            replace(base, **knobs).check()
            return knobs
        except UserError:
            jitter /= 2
    return {}


def design(spec: CampaignSpec) -> list[Point]:
    """Every point of the campaign, in the order they run (a seeded shuffle)."""
    rng = random.Random(spec.seed)
    points: list[Point] = []
    for cell in spec.cells:
        name = Path(cell.workflow).stem  # a catalog name, or a spec's file name
        lengths = cell.genome_bases if isinstance(cell.genome_bases, list) \
            else [cell.genome_bases]
        reference = ({"reference_model": "human", **cell.reference_knobs}
                     if cell.reference_model == "human" else {})
        axes = [(g, rl) for g in lengths for rl in cell.read_lengths]
        for genome_bases, read_length in axes:
            # the ids of cells without these axes stay as they were: a token for the
            # reference length only where it is crossed (a list), for the others only
            # where they differ from corpus-v1's
            tokens = "".join([
                f"-g{_short(genome_bases)}" if isinstance(cell.genome_bases, list) else "",
                "-h" if reference else "",
                f"-l{read_length}" if read_length != 100 else ""])
            for pairs in cell.pairs:
                for preset in cell.presets:
                    for s in range(cell.first_seed, cell.first_seed + cell.seeds):
                        seed = rng.randrange(1, 2**31)
                        knobs = _jittered(preset, cell.jitter, random.Random(seed))
                        # the same reads under each thread cap: threads alone differ
                        caps: list[int | None] = [*cell.threads] if cell.threads else [None]
                        for max_threads in caps:
                            for r in range(1, cell.repeats + 1):
                                pid = point_id(f"{name}{tokens}-{cell.kind}{pairs}-{preset}"
                                               f"-s{s}", r, max_threads)
                                points.append(Point(
                                    pid, cell.workflow, cell.kind, genome_bases, pairs,
                                    preset, seed, r, knobs, read_length, reference,
                                    cell.shared_reference, max_threads))
    points += _reruns(spec, points)
    seen: set[str] = set()
    for point in points:
        if point.point_id in seen:
            raise UserError(f"campaign {spec.name}: point {point.point_id} is designed twice; "
                            "give the later cell a 'first_seed' past the earlier one's seeds")
        seen.add(point.point_id)
    random.Random(spec.seed + 1).shuffle(points)
    return points


def _short(bases: int) -> str:
    """1000000 -> 1M, 3100000000 -> 3.1G: a reference length in a point id."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bases >= size:
            return f"{bases / size:g}{unit}"
    return str(bases)


def _reruns(spec: CampaignSpec, points: list[Point]) -> list[Point]:
    """The points `spec.reruns` add to the cells' `points`: repeats up to each rerun's
    count, of the same dataset (seed and knobs)."""
    first = {p.dataset_id: p for p in points if p.repeat == 1}
    designed = {p.point_id for p in points}  # a cell's own repeats are not added twice
    added: dict[str, Point] = {}
    for number, rerun in enumerate(spec.reruns, 1):
        for pattern in rerun.datasets:
            matched = fnmatch.filter(first, pattern)
            if not matched:
                raise UserError(f"campaign {spec.name}: reruns[{number}]: {pattern!r} names no "
                                "dataset of the cells (a dataset id is a point id without "
                                "its -rN, such as dnaseq-dna10000-clean-s1)")
            for dataset in matched:
                for r in range(2, rerun.repeats + 1):
                    pid = point_id(dataset, r, first[dataset].max_threads)
                    if pid not in designed:
                        added.setdefault(pid, replace(first[dataset], point_id=pid, repeat=r))
    return list(added.values())


@dataclass
class PointOutcome:
    point: Point
    status: str  # succeeded, failed, interrupted, or done (an earlier invocation's run)
    run_dir: Path
    wall_s: float


def point_status(run_dir: Path) -> str | None:
    """The status of a point's run directory; None when it has none."""
    if not (run_dir / "run.json").is_file():
        return None
    return str(RunDirectory(run_dir).read_run_info().get("status"))


def run_campaign(spec_path: Path, out: Path, on_point: Callable[[PointOutcome], None] | None
                 = None, on_event: EventHook | None = None, limit: int | None = None,
                 skip: Collection[str] = ()) -> list[PointOutcome]:
    """Run every point not yet done (at most `limit` of them); return what happened.

    `skip` holds point ids done elsewhere (such as the quiet points of a corpus exported
    earlier, `store.corpus.done_points`): they are not run here."""
    spec = load_campaign(spec_path)
    points = design(spec)
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    datasets = out / ".datasets"
    runs.mkdir(exist_ok=True)
    atomic_write_json(out / "campaign.json", {
        "spec": spec.model_dump(mode="json"), "source": str(spec_path),
        "points": [asdict(p) for p in points]})
    todo = _todo([p for p in points if p.point_id not in skip], runs, limit)
    # a dataset is deleted after the last of its points that is still to run
    uses = Counter(_dataset_key(p) for p in todo)
    outcomes = []
    for point in todo:
        start = time.monotonic()
        run_dir = runs / point.point_id
        previous = point_status(run_dir)
        if previous in ("succeeded", "failed"):  # finished, but stopped before its closing
            result_status = previous
        else:
            if previous is not None:  # interrupted earlier: resume it, its samples kept
                result = resume_workflow(run_dir, on_event=on_event)
            else:
                shared = (synth_dataset(point.reference_knobs(), datasets).path
                          if point.shared_reference else None)
                dataset = synth_dataset(point.synth_knobs(shared), datasets)
                if spec.pilot:
                    _pilot(point, dataset.path, dataset.pairs or point.pairs, out)
                # a shared reference's indexes are built once (the step cache, by
                # content) and measured in the run that built them; else every run builds
                # its own
                settings = RunSettings(runs_dir=runs, interval_s=spec.interval_s,
                                       run_id=point.point_id,
                                       use_cache=point.shared_reference,
                                       max_threads=point.max_threads)
                result = run_workflow(point.workflow, dataset.path, settings,
                                      on_event=on_event)
            result_status = ("interrupted" if result.outcome.interrupted
                             else "failed" if result.outcome.failures else "succeeded")
        if result_status != "interrupted":
            uses[_dataset_key(point)] -= 1
            _close_point(run_dir, point, spec.keep_work or uses[_dataset_key(point)] > 0,
                         _pilot_path(out, point))
        outcome = PointOutcome(point, result_status, run_dir, time.monotonic() - start)
        outcomes.append(outcome)
        if on_point is not None:
            on_point(outcome)
        if result_status == "interrupted":
            break
    return outcomes


def _dataset_key(point: Point) -> str:
    return json.dumps(point.synth_knobs(), sort_keys=True)


def _todo(points: list[Point], runs: Path, limit: int | None) -> list[Point]:
    """The points without a closed run (run.json finished and features.json written)."""
    todo = [p for p in points if not (runs / p.point_id / "features.json").is_file()]
    return todo if limit is None else todo[:limit]


def _pilot_path(out: Path, point: Point) -> Path:
    return out / "pilots" / f"{point.point_id}.json"


def _pilot(point: Point, dataset_dir: Path, total_pairs: int, out: Path) -> None:
    """Run the point's pilot, unless it ran already (its run was then interrupted before
    it started): its times must come from just before the run."""
    path = _pilot_path(out, point)
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        atomic_write_json(path, pilot_features(point.workflow, dataset_dir, total_pairs,
                                               scratch=out))


def _close_point(run_dir: Path, point: Point, keep_data: bool, pilot: Path) -> None:
    """Record the point and its features beside the run (with its pilot's, if it had
    one), then free the disk it used (unless `keep_data`)."""
    features = run_features(run_dir)
    if pilot.is_file():
        features.update(json.loads(pilot.read_text(encoding="utf-8")))
    info = RunDirectory(run_dir).read_run_info()
    if not keep_data:
        shutil.rmtree(run_dir / "work", ignore_errors=True)
        dataset = (info.get("dataset") or {}).get("path")
        if dataset and Path(dataset).is_dir():
            shutil.rmtree(dataset, ignore_errors=True)
    # written last: its presence marks the point as done
    atomic_write_json(run_dir / "features.json", {"point": asdict(point), "features": features})
