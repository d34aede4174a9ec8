"""Pilot runs: the workflow itself on a few thousand of an input's read pairs, before the
real run, on the machine that will run it.

Summary features of the reads (quality, adapters, what the trim keeps) leave some of an
aligner's cost unexplained: two inputs alike in every such number can differ 2x in STAR's
time per read, and run after run the same input is slow again. A pilot measures that cost
directly, as Lotaru profiles tasks on down-sampled inputs: the workflow runs on a seeded
random subsample of `PILOT_PAIRS` pairs (`data.subsample`), monitored as any run, and
each step's wall time becomes a feature, `pilot.<step>.wall_s`, with `pilot.makespan_s`
and `pilot.pairs` (the pairs it ran on).

A pilot costs its workflow's fixed costs plus a few thousand pairs' worth: seconds to tens
of seconds, against hours for a production input. Everything it writes lives under a
scratch directory that is deleted afterwards.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from genscale.data.subsample import subsample
from genscale.engine.runner import RunSettings, run_workflow
from genscale.errors import UserError
from genscale.model.dataset import PILOT_PREFIX
from genscale.store.rundir import RunDirectory

PILOT_PAIRS = 3000
PILOT_SEED = 1


def pilot_features(workflow_ref: str, dataset_dir: Path, total_pairs: int,
                   pairs: int = PILOT_PAIRS, scratch: Path | None = None) -> dict[str, float]:
    """Run `workflow_ref` on about `pairs` of the `total_pairs` read pairs of the dataset
    at `dataset_dir` and return the pilot features (see the module's docstring). A step
    the pilot skipped (a tool not installed) has no feature; a step that failed makes the
    pilot fail, with a UserError naming the step; an interrupted pilot (SIGINT, SIGTERM)
    raises KeyboardInterrupt."""
    if total_pairs <= 0:
        raise UserError(f"{dataset_dir}: no read pairs to run a pilot on")
    with tempfile.TemporaryDirectory(prefix="genscale-pilot-", dir=scratch) as tmp:
        work = Path(tmp)
        fraction = min(1.0, pairs / total_pairs)
        sample = subsample(dataset_dir, fraction, work / "data", seed=PILOT_SEED)
        settings = RunSettings(runs_dir=work / "runs", run_id="pilot", use_cache=False)
        result = run_workflow(workflow_ref, sample.path, settings)
        if result.outcome.interrupted:
            # a pilot cut short would look like a fast one: stop, keeping nothing of it
            raise KeyboardInterrupt(f"{dataset_dir}: the pilot run was interrupted")
        if result.outcome.failures:
            failure = result.outcome.failures[0]
            tail = failure.stderr_tail[-1] if failure.stderr_tail else ""
            raise UserError(f"{dataset_dir}: the pilot run of {workflow_ref} failed at "
                            f"{failure.task_id} (exit {failure.exit_code}): {tail}")
        tasks = RunDirectory(result.run_dir).tasks()
        done = tasks[tasks["status"] == "succeeded"]
        features = {f"{PILOT_PREFIX}{step}.wall_s": float(wall)
                    for step, wall in zip(done["step"], done["wall_s"], strict=True)}
        span = float(done["end_time"].max() - done["start_time"].min()) if len(done) else 0.0
        features[f"{PILOT_PREFIX}makespan_s"] = span
        features[f"{PILOT_PREFIX}pairs"] = float(sample.pairs or 0)
    return {k: v for k, v in features.items() if math.isfinite(v)}
