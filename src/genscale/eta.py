"""How long a run has left, for the progress line of `genscale run`.

Where the packaged scaling model (`genscale.model.scaling`) knows the workflow and the
dataset says its sizes (pairs, read length, reference bases), each step's wall time on this
host's cores is predicted before the run starts; the estimate is then the predicted time of
what is left, scaled by how the finished tasks compared with their predictions and spread
over the parallelism the prediction expects. Otherwise (another workflow, a dataset of
unknown size), it is what has run so far: the mean time per finished task, times the tasks
left, over the tasks running at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from genscale.data.manifest import Dataset
from genscale.errors import UserError

CALIBRATION = (0.2, 5.0)  # how far finished tasks may scale the predictions of the rest


@dataclass
class Prediction:
    """Each step's predicted wall seconds, and the parallelism the prediction expects (the
    steps' summed wall time over the workflow's)."""

    wall_s: dict[str, float]
    parallelism: float


def predict_steps(workflow: str, dataset_dir: Path | None, cores: int,
                  max_threads: int | None) -> Prediction | None:
    """The packaged scaling model's prediction for `workflow` on the dataset, or None when
    the model has no such workflow or the dataset does not say its sizes."""
    if dataset_dir is None or not (dataset_dir / "manifest.json").is_file():
        return None
    try:
        dataset = Dataset.load(dataset_dir)
    except UserError:
        return None
    stats = dataset.info.get("stats") or {}
    read_length = stats.get("read_length") or dataset.params.get("read_length")
    if not (dataset.pairs and read_length and dataset.genome_bases):
        return None
    from genscale.model.projection import WORKFLOW_ROW, project_workflow

    try:
        table = project_workflow(workflow, pairs=dataset.pairs,
                                 read_length=float(read_length),
                                 reference_bases=dataset.genome_bases, cores=max(1, cores),
                                 threads=max_threads)
    except UserError:  # a workflow the model does not know
        return None
    walls = table.set_index("step")["wall_s"]
    whole = float(walls.get(WORKFLOW_ROW, 0.0))
    steps = {str(k): float(v) for k, v in walls.items() if k != WORKFLOW_ROW and v == v}
    total = sum(steps.values())
    return Prediction(steps, total / whole if whole > 0 else 1.0)


@dataclass
class Eta:
    """Follows a run's events (`update`) and says how long it has left (`remaining_s`)."""

    prediction: Prediction | None = None
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    _running: dict[str, tuple[str, float]] = field(default_factory=dict)
    # running sums over finished tasks, so that each progress line costs the same at the
    # 100,000th task as at the first (issue 22)
    _finished_count: int = 0
    _finished_wall_s: float = 0.0
    _predicted_wall_s: float = 0.0  # of the finished tasks whose step has a prediction
    _predicted_actual_s: float = 0.0  # what those tasks took
    _finished_steps: set[str] = field(default_factory=set)
    _most_running: int = 1

    def update(self, kind: str, task_id: str, step: str, values: dict[str, object],
               now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.done = int(values.get("done", self.done))  # type: ignore[call-overload]
        self.total = int(values.get("total", self.total))  # type: ignore[call-overload]
        if kind == "started":
            self._running[task_id] = (step, now)
            self._most_running = max(self._most_running, len(self._running))
            return
        if kind == "retrying":
            return
        began = self._running.pop(task_id, None)
        self._finished_steps.add(step)
        wall = values.get("wall_s")
        if began is not None and isinstance(wall, int | float):
            self._finished_count += 1
            self._finished_wall_s += float(wall)
            predicted = self.prediction.wall_s.get(step, 0.0) if self.prediction else 0.0
            if predicted > 0:
                self._predicted_wall_s += predicted
                self._predicted_actual_s += float(wall)

    def remaining_s(self, now: float | None = None) -> float | None:
        """Seconds left, or None while nothing tells yet."""
        now = time.monotonic() if now is None else now
        if self.total and self.done >= self.total:
            return 0.0
        if self.prediction is not None:
            return self._from_prediction(self.prediction, now)
        if not self._finished_count:
            return None
        per_task = self._finished_wall_s / self._finished_count
        return per_task * (self.total - self.done) / self._most_running

    def _from_prediction(self, prediction: Prediction, now: float) -> float:
        predicted = prediction.wall_s
        scale = 1.0
        if self._predicted_wall_s > 0:
            low, high = CALIBRATION
            scale = min(high, max(low, self._predicted_actual_s / self._predicted_wall_s))
        running = {step: now - began for step, began in self._running.values()}
        left = 0.0
        for step, seconds in predicted.items():
            if step in self._finished_steps:
                continue
            left += max(0.0, seconds * scale - running.get(step, 0.0))
        return left / max(1.0, prediction.parallelism)


def clock(seconds: float) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
