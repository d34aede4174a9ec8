"""Recompute a synthetic corpus's pre-run features: this version's dataset features, or pilots.

A campaign deletes each point's dataset once its run is closed, so a FASTQ feature added
after the campaign has no values in the committed `features.csv`. The datasets are
deterministic in their knobs and seed: this script makes each point's dataset again
(`engine.workload.synth_dataset`), computes `quality.table.dataset_features`, checks that
every feature the corpus already holds comes out identical (the proof that it is the same
dataset), and writes `features.csv` with the new columns added, to a temporary name first,
and its new sha256 into `corpus.json`.

    python scripts/corpus_refeature.py CAMPAIGN_SPEC CORPUS_DIR WORK_DIR [--jobs N]
        [--datasets-only] [--pilot WORKFLOW]

Resumable: each point's features go to WORK_DIR/features/POINT.json as they are computed,
and a dataset already made is reused. `--datasets-only` makes the datasets and stops.

`--pilot WORKFLOW` instead runs `engine.pilot` once per dataset of that workflow (one at a
time, whatever `--jobs`: a pilot's times are measurements) into WORK_DIR/pilots/DATASET.json,
and writes its `pilot.*` columns on every run of the dataset in `features.csv`. The pilots
run on this machine, now: not on the machine, nor in the session, of the corpus's runs.
A run whose campaign ran its pilot (a spec with `pilot: true`) keeps that pilot.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from genscale.engine.campaign import Point, design, load_campaign
from genscale.engine.pilot import PILOT_PREFIX, pilot_features
from genscale.engine.workload import synth_dataset
from genscale.quality.table import dataset_features
from genscale.store.corpus import dataset_of, write_features
from genscale.store.rundir import atomic_write_json


def _one(point: Point, work: Path, datasets_only: bool) -> str:
    out = work / "features" / f"{point.point_id}.json"
    if out.is_file():
        return f"{point.point_id}: done earlier"
    dataset = synth_dataset(point.synth_knobs(), work / "datasets")
    if datasets_only:
        return f"{point.point_id}: dataset {dataset.path.name}"
    row = {"sample": dataset.path.name, **dataset_features(dataset)}
    atomic_write_json(out, row)
    return f"{point.point_id}: features"


def _pilot(point: Point, work: Path) -> str:
    out = work / "pilots" / f"{point.dataset_id}.json"
    if out.is_file():
        return f"{point.dataset_id}: piloted earlier"
    dataset = synth_dataset(point.synth_knobs(), work / "datasets")
    features = pilot_features(point.workflow, dataset.path, dataset.pairs or point.pairs,
                              scratch=work)
    atomic_write_json(out, features)
    return f"{point.dataset_id}: pilot {features[PILOT_PREFIX + 'makespan_s']:.1f} s"


def _ordered(features: pd.DataFrame) -> pd.DataFrame:
    """The key columns first, then the features by name, as the corpus keeps them."""
    keys = ["run_id", "workflow", "workflow_id", "sample"]
    return features[keys + sorted(c for c in features.columns if c not in keys)]


def merge_pilots(corpus: Path, work: Path) -> int:
    """features.csv with the pilot columns of every run whose dataset has a pilot (those
    columns replaced, not checked: they are measurements); the number of such runs."""
    features = pd.read_csv(corpus / "features.csv")
    rows = {}
    for run_id in features["run_id"]:
        path = work / "pilots" / f"{dataset_of(run_id)}.json"
        if path.is_file():
            rows[run_id] = json.loads(path.read_text())
    fresh = pd.DataFrame.from_dict(rows, orient="index")
    for column in fresh.columns:
        if column not in features.columns:
            features[column] = float("nan")
        features[column] = features["run_id"].map(fresh[column]).fillna(features[column])
    write_features(corpus, _ordered(features))
    return len(rows)


def _same(old: Any, new: Any) -> bool:
    if pd.isna(old) and (new is None or (isinstance(new, float) and math.isnan(new))):
        return True
    try:
        return math.isclose(float(old), float(new), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return str(old) == str(new)


def merge(corpus: Path, work: Path) -> list[str]:
    """features.csv with the recomputed dataset features; the added columns' names."""
    features = pd.read_csv(corpus / "features.csv")
    rows = {}
    for run_id in features["run_id"]:
        path = work / "features" / f"{run_id}.json"
        if not path.is_file():
            sys.exit(f"{path}: missing; run this script again without --datasets-only")
        rows[run_id] = json.loads(path.read_text())
    fresh = pd.DataFrame.from_dict(rows, orient="index")
    for column in fresh.columns:
        if column not in features.columns:
            continue
        for run_id, old in zip(features["run_id"], features[column], strict=True):
            if not _same(old, fresh.at[run_id, column]):
                sys.exit(f"{run_id}: {column} was {old}, recomputed "
                         f"{fresh.at[run_id, column]}: not the same dataset")
    added = [c for c in fresh.columns if c not in features.columns]
    merged = features.join(fresh[added], on="run_id")
    write_features(corpus, _ordered(merged))
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--datasets-only", action="store_true")
    parser.add_argument("--pilot", metavar="WORKFLOW",
                        help="run a pilot of each dataset of this workflow instead")
    args = parser.parse_args()
    corpus_features = pd.read_csv(args.corpus / "features.csv")
    wanted = set(corpus_features["run_id"])
    points = [p for p in design(load_campaign(args.spec)) if p.point_id in wanted]
    if len(points) != len(wanted):
        sys.exit(f"{args.spec}: holds {len(points)} of the corpus's {len(wanted)} runs")
    if args.pilot:
        # a point whose campaign ran its pilot (`pilot: true`) keeps that one: it ran just
        # before the point's run, in the same session
        column = corpus_features.get(f"{PILOT_PREFIX}makespan_s")
        piloted = set() if column is None else set(corpus_features["run_id"][column.notna()])
        firsts = [p for p in points if p.workflow == args.pilot and p.repeat == 1
                  and (p.point_id not in piloted
                       or (args.work / "pilots" / f"{p.dataset_id}.json").is_file())]
        (args.work / "pilots").mkdir(parents=True, exist_ok=True)
        try:
            for i, point in enumerate(firsts, 1):
                print(f"[{i}/{len(firsts)}] {_pilot(point, args.work)}", flush=True)
        except KeyboardInterrupt:
            sys.exit("interrupted: run the same command again to resume")
        print(f"pilot columns written for {merge_pilots(args.corpus, args.work)} runs")
        return
    (args.work / "features").mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        jobs = [pool.submit(_one, p, args.work, args.datasets_only) for p in points]
        for i, job in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {job.result()}", flush=True)
    if not args.datasets_only:
        print("added:", ", ".join(merge(args.corpus, args.work)))


if __name__ == "__main__":
    main()
