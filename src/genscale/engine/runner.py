"""`run_workflow`: the whole of `genscale run` as one call on plain data.

Load and plan (every spec problem is reported before a run directory exists), create the run
directory, record run.json, run the plan under the monitor, then write the Parquet twins,
the plots and the closing run.json.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from genscale import __version__
from genscale.data.manifest import Dataset
from genscale.engine.cache import StepCache
from genscale.engine.engine import (
    Engine,
    EngineOptions,
    EventHook,
    Outcome,
    Resumed,
    Schedule,
)
from genscale.engine.policies import Policy, make_policy
from genscale.engine.workload import (
    Predictor,
    WorkflowPredictions,
    WorkloadSpec,
    build_instances,
    input_size_heuristic,
    load_workload,
)
from genscale.errors import UserError
from genscale.executors import registry
from genscale.executors.base import Executor, ExecutorContext
from genscale.monitor.cgroups import kill_stale_cgroups
from genscale.monitor.host import host_facts, tool_versions
from genscale.monitor.prometheus import PrometheusExporter
from genscale.monitor.sampler import check_interval
from genscale.monitor.session import MonitorSession
from genscale.store.rundir import RunDirectory, disk_message, is_disk_error, repair_tail
from genscale.workflow.loader import SourceMap, load_workflow, resolve
from genscale.workflow.plan import Plan, focus, make_plan
from genscale.workflow.spec import Workflow, size_flag


@dataclass
class RunSettings:
    """How to run; each field is a flag of `genscale run` (`interval_s` is `--interval`).

        settings = genscale.RunSettings(runs_dir=Path("runs"), interval_s=0.5, cores=2,
                                        executor="slurm", retries=1)
    """

    interval_s: float = field(default=1.0, metadata={"help": "sampling interval (s)",
                                                     "flag": "--interval"})
    runs_dir: Path = field(default=Path("runs"), metadata={"help": "where run directories go"})
    executor: str = field(default="local", metadata={
        "help": "local, slurm, kubernetes, or an executor a plugin registers"})
    dry_run: bool = field(default=False, metadata={
        "help": "kubernetes: write and validate the Jobs under manifests/, submit nothing"})
    cores: int | None = field(default=None, metadata={"help": "core budget (default: all)"})
    max_threads: int | None = field(default=None, metadata={
        "help": "give no step more threads than this (default: each step's own)"})
    memory: str | None = field(default=None, metadata={
        "help": "memory budget such as 16G (default: all)"})
    run_id: str | None = field(default=None, metadata={"help": "name of the run directory"})
    use_cache: bool = field(default=True, metadata={"help": "reuse cached index steps",
                                                    "flag": "--cache"})
    retries: int = field(default=0, metadata={
        "help": "run a failed task again, up to this many more times"})
    cgroups: bool = field(default=True, metadata={
        "help": "a cgroup per task where the machine allows it"})
    prometheus_port: int | None = field(default=None, metadata={
        "help": "serve live metrics in Prometheus's format on this port"})
    prometheus_host: str = field(default="127.0.0.1", metadata={
        "help": "address for --prometheus-port (loopback unless you open it)"})
    only: str | None = field(default=None, metadata={
        "help": "benchmark this step alone: its inputs are made once and cached"})
    repeat: int = field(default=1, metadata={"help": "with --only: runs of the step"})
    executor_settings: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "each executor's own settings by its name (its settings_class; its own "
                "flags, such as --slurm-*): the defaults where absent"})

    def backend_settings(self) -> Any:
        """The chosen executor's settings: given, else its defaults (None if it has none)."""
        cls = registry.get(self.executor)
        given = self.executor_settings.get(self.executor)
        if given is not None or cls.settings_class is None:
            return given
        return cls.settings_class()


@dataclass
class RunResult:
    """What a run gave: its directory, the plan it ran, and how each task ended
    (`outcome.status` by task id, `outcome.failures`, `outcome.ok`).

        result = genscale.run_workflow("dnaseq", "datasets/small")
        assert result.outcome.ok, result.outcome.failures
    """

    run_dir: Path
    plan: Plan
    outcome: Outcome


def new_run_id(workflow: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{workflow}-{stamp}-{secrets.token_hex(2)}"


def prepare(workflow_ref: str, dataset_dir: Path | None, settings: RunSettings,
            params: Mapping[str, str] | None = None) -> tuple[Plan, Path, str]:
    """Plan a run without touching the disk: (plan, run directory to be, run id)."""
    check_settings(settings)
    backend = registry.get(settings.executor)
    if settings.dry_run and not backend.dry_run_supported:
        able = [n for n in registry.names() if registry.get(n).dry_run_supported]
        raise UserError(f"--dry-run goes with --executor {' or '.join(able)}")
    workflow, source = load_workflow(workflow_ref)
    # the capped spec is what run.json keeps, so a resume runs the same threads
    workflow = workflow.with_max_threads(settings.max_threads)
    if dataset_dir is None and workflow.inputs:
        raise UserError(f"{workflow.name} needs --dataset DIR (it reads "
                        f"{', '.join(workflow.inputs)}); make one with 'genscale data synth'")
    dataset = Dataset.load(dataset_dir) if dataset_dir is not None else None
    run_id = settings.run_id or new_run_id(workflow.name)
    run_dir = (settings.runs_dir / run_id).resolve()
    if run_dir.exists():
        raise UserError(f"{run_dir}: a run directory of that name exists already")
    check_runs_dir(settings.runs_dir)
    plan = make_plan(workflow, source, dataset, run_dir / "work", params)
    backend.check_plan(plan, run_dir, run_id, settings.backend_settings(), settings.dry_run)
    if settings.only is not None:
        if not settings.use_cache:
            raise UserError("--only needs the cache: its upstream steps are cached")
        plan = focus(plan, settings.only, settings.repeat)
    elif settings.repeat != 1:
        raise UserError("--repeat goes with --only STEP")
    return plan, run_dir, run_id


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_settings(settings: RunSettings) -> None:
    """Every flag within its range, or one UserError naming the flag and what it takes."""
    check_interval(settings.interval_s)
    registry.get(settings.executor)  # an unknown name: one line with the choices
    if settings.cores is not None and not 1 <= settings.cores <= 1_000_000:
        raise UserError(f"--cores: expected a whole number of cores of at least 1, "
                        f"got {settings.cores}")
    if settings.max_threads is not None and not 1 <= settings.max_threads <= 4096:
        raise UserError(f"--max-threads: expected a whole number from 1 to 4096, "
                        f"got {settings.max_threads}")
    if settings.memory is not None:
        memory_budget(settings.memory)
    if settings.retries < 0:
        raise UserError(f"--retries: expected 0 or more, got {settings.retries}")
    if settings.repeat < 0:  # 0: only make the step's inputs (materialise)
        raise UserError(f"--repeat: expected 0 or more, got {settings.repeat}")
    if settings.prometheus_port is not None and not 1 <= settings.prometheus_port <= 65535:
        raise UserError(f"--prometheus-port: expected a port from 1 to 65535, "
                        f"got {settings.prometheus_port}")
    if settings.run_id is not None and not _RUN_ID.fullmatch(settings.run_id):
        raise UserError(f"--run-id {settings.run_id!r}: expected a plain name (letters, "
                        "digits, '.', '_', '-'; no '/' or leading '.'), which stays inside "
                        "the runs directory")


def memory_budget(text: str) -> int:
    """Bytes of a `--memory` value such as 16G; UserError for anything else or <= 0."""
    return size_flag(text, "--memory")


def check_runs_dir(runs_dir: Path) -> None:
    """`runs_dir` is (or can be made) a directory we may write in."""
    existing = next((p for p in (runs_dir, *runs_dir.resolve().parents) if p.exists()),
                    Path("/"))
    if not existing.is_dir():
        raise UserError(f"--runs-dir {runs_dir}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--runs-dir {runs_dir}: {existing} is not writable")


def _open_run(plan: Plan, run_dir: Path, run_id: str, settings: RunSettings,
              facts: dict[str, object]) -> tuple[RunDirectory, dict[str, str],
                                                 PrometheusExporter | None, dict[str, object]]:
    """Tool versions, the exporter (before anything is written, so a port in use fails
    first), the new run directory and its run.json: the facts every run records, plus
    `facts`."""
    versions = tool_versions({t.step: t.version_command for t in plan.tasks
                              if t.version_command and not t.skip_reason})
    exporter = (PrometheusExporter(settings.prometheus_port, settings.prometheus_host)
                if settings.prometheus_port is not None else None)
    info: dict[str, object] = {
        "run_id": run_id, "genscale_version": __version__, "status": "running",
        "host": host_facts(),
        "tool_versions": {t.app: versions[t.step] for t in plan.tasks if t.step in versions},
        **facts,
        "executor": settings.executor, "sample_interval_s": settings.interval_s,
        "settings": settings_json(settings), "start_time": time.time(), "end_time": None,
    }
    try:
        run = RunDirectory.create(run_dir)
        run.reserve()
        plan.workdir.mkdir()
        run.write_run_info(info)
    except BaseException as exc:  # a full or read-only disk: no half-made run directory
        shutil.rmtree(run_dir, ignore_errors=True)
        if exporter is not None:
            exporter.close()
        if is_disk_error(exc):
            raise UserError(f"{disk_message(exc, run_dir)}: cannot start the run there"
                            ) from None
        raise
    return run, versions, exporter, info


def run_settings(values: dict[str, Any]) -> RunSettings:
    """RunSettings from the flags of `genscale run`: RunSettings' by their names, each
    executor's own settings under its `flag_prefix` (SLURM's and Kubernetes' both have a
    `poll_s` and a `monitor_memory_mib`)."""
    backends = {}
    for cls in registry.executors():
        if cls.settings_class is None:
            continue
        names = {f.name for f in fields(cls.settings_class)}
        prefix = cls.flag_prefix
        backends[cls.name] = cls.settings_class(**{
            k[len(prefix):]: v for k, v in values.items()
            if k.startswith(prefix) and k[len(prefix):] in names})
    return RunSettings(**{k: v for k, v in values.items() if k in _RUN_FIELDS},
                       executor_settings=backends)


_RUN_FIELDS = {f.name for f in fields(RunSettings)} - {"executor_settings"}


def settings_json(settings: RunSettings) -> dict[str, object]:
    """run.json's `settings`: RunSettings' fields, and each executor's settings under its
    name (`slurm`, `kubernetes`: the defaults where none were given)."""
    out: dict[str, object] = {
        f.name: str(v) if isinstance(v, Path) else v
        for f in fields(settings) if f.name != "executor_settings"
        for v in [getattr(settings, f.name)]}
    for cls in registry.executors():
        if cls.settings_class is not None:
            given = settings.executor_settings.get(cls.name)
            out[cls.name] = asdict(given if given is not None else cls.settings_class())
    return out


def stored_settings(stored: dict[str, Any], runs_dir: Path) -> RunSettings:
    """RunSettings from run.json's `settings` (`settings_json`), in `runs_dir`."""
    stored = dict(stored)
    backends = {}
    for cls in registry.executors():
        if cls.settings_class is not None:
            backends[cls.name] = cls.settings_class(**stored.pop(cls.name, None) or {})
    # the run directory is RUNS_DIR/RUN_ID wherever it was started from (the stored
    # runs_dir may be relative to another working directory)
    stored["runs_dir"] = runs_dir
    return RunSettings(**{k: v for k, v in stored.items() if k in _RUN_FIELDS},
                       executor_settings=backends)


def run_workflow(workflow_ref: str, dataset_dir: Path | None = None,
                 settings: RunSettings | None = None, params: Mapping[str, str] | None = None,
                 on_event: EventHook | None = None) -> RunResult:
    settings = settings or RunSettings()
    plan, run_dir, run_id = prepare(workflow_ref, dataset_dir, settings, params)
    _, spec_text = resolve(workflow_ref)
    run, versions, exporter, info = _open_run(plan, run_dir, run_id, settings, {
        "workflow": {"name": plan.workflow.name, "source": plan.source.file,
                     "sha256": hashlib.sha256(spec_text.encode()).hexdigest(),
                     "spec": plan.workflow.model_dump(mode="json"), "params": plan.params},
        "dataset": plan.dataset.to_json() if plan.dataset else None,
        "skipped": plan.skipped})
    if settings.dry_run:
        written = registry.get(settings.executor).write_dry_run(
            plan, run.path, run_id, settings.backend_settings(), settings.interval_s,
            f"{plan.workflow.name}-0")
        info.update(status="dry-run", end_time=time.time(),
                    manifests=[str(p.relative_to(run.path)) for p in written])
        run.write_run_info(info)
        return RunResult(run.path, plan, Outcome())
    return _execute(plan, run, info, settings, versions, exporter, on_event)


def _execute(plan: Plan, run: RunDirectory, info: dict[str, object], settings: RunSettings,
             versions: dict[str, str], exporter: PrometheusExporter | None,
             on_event: EventHook | None, resumed: Resumed | None = None,
             schedule: Schedule | None = None) -> RunResult:
    """Run `plan` in `run` (new, or `resumed`) and close the run directory. `schedule`:
    a workload's many workflows (policy, arrivals, ...)."""
    run_id = str(info["run_id"])
    identity = {"run_id": run_id, "workflow_id": f"{plan.workflow.name}-0",
                "workflow": plan.workflow.name}
    session = MonitorSession(run, run_id, settings.interval_s, settings.cgroups, exporter)
    try:
        executor = make_executor(settings, run, run_id, session, plan)
    except BaseException as exc:  # e.g. an API that does not answer: no run stays "running"
        info.update(status="failed", end_time=time.time(), error=str(exc).split("\n")[0])
        run.write_run_info(info)
        if exporter is not None:
            exporter.close()
        raise
    cache = StepCache(settings.runs_dir.resolve() / ".cache") if settings.use_cache else None
    options = EngineOptions(settings.interval_s, cache, versions, on_event, settings.retries)
    engine = Engine(plan, run, executor, identity, options, resumed, schedule)
    try:
        with session:
            try:
                outcome = engine.execute()
            finally:
                executor.shutdown()
    finally:
        disk_error = run.disk_error
        if disk_error is not None:
            run.release_reserve()  # room to write what closes the run
            _cancel_disk_failures(run, engine)
        skipped = dict(info.get("skipped") or {})  # type: ignore[call-overload]
        # a resumed run keeps the attempts its earlier parts retried
        retried: dict[str, list[Any]] = dict(info.get("retried") or {})  # type: ignore[call-overload]
        for task_id, more in engine.outcome.retried.items():
            retried[task_id] = [*retried.get(task_id, []), *more]
        # the status is the table's: a resumed run keeps the failures of its first part
        failed_rows = any(r.get("status") == "failed" for r in run.task_rows())
        info.update(
            end_time=time.time(),
            status=("interrupted" if engine.outcome.interrupted or disk_error is not None
                    else "failed" if engine.outcome.failures or failed_rows
                    else "succeeded"),
            skipped={**skipped, **engine.outcome.skip_reasons},
            failures=[asdict(f) for f in engine.outcome.failures],
            retried=retried,
            monitor=session.summary(),
        )
        if disk_error is not None:
            info["error"] = disk_message(disk_error, run.path)
        if isinstance(info.get("workload"), dict):
            # seconds since the run's first start, also after a resume
            offset = engine.started_at - float(info["start_time"])  # type: ignore[arg-type]
            for wid, admitted in engine.admitted_at.items():
                instance = info["workload"]["instances"][wid]  # type: ignore[index]
                instance.setdefault("admitted_s", round(admitted + offset, 3))
        run.finish_tasks([t.task_id for t in plan.tasks])
        run.write_run_info(info)
        if disk_error is None:
            run.write_parquet()
        run.release_reserve()  # a closed run needs no room kept; a resume sets it again
    if disk_error is not None:
        raise UserError(f"{disk_message(disk_error, run.path)}: the run stopped; every row "
                        f"written is kept; free some space, then: genscale run --resume "
                        f"{run.path}")
    return RunResult(run.path, plan, outcome)


def _cancel_disk_failures(run: RunDirectory, engine: Engine) -> None:
    """In a run whose disk filled, a failure cannot be told from the disk's (tools say so
    in their own words, Picard deep in a Java stack): failed tasks, and the tasks skipped
    because of them, are recorded `cancelled`, so a resume runs them again. A failure of
    the task's own fails again there."""
    engine.outcome.failures.clear()
    for row in run.task_rows():
        task_id = str(row["task_id"])
        reason = engine.outcome.skip_reasons.get(task_id, "")
        if row["status"] == "failed" or (row["status"] == "skipped"
                                         and reason.startswith("upstream")):
            run.record_task({**row, "status": "cancelled"})
            engine.outcome.status[task_id] = "cancelled"
            engine.outcome.skip_reasons.pop(task_id, None)


def make_executor(settings: RunSettings, run: RunDirectory, run_id: str,
                  session: MonitorSession, plan: Plan) -> Executor:
    """The chosen executor (`genscale.executors.registry`) of this run."""
    context = ExecutorContext(
        run=run, run_id=run_id, workflow_id=f"{plan.workflow.name}-0", plan=plan,
        session=session, interval_s=settings.interval_s, cores=settings.cores,
        memory_bytes=memory_budget(settings.memory) if settings.memory else None,
        cgroups=settings.cgroups)
    return registry.get(settings.executor).create(context, settings.backend_settings())


def resume_workflow(run_dir: Path, on_event: EventHook | None = None) -> RunResult:
    """Finish a run whose manager died (SIGKILL, a lost machine): stop what it left running,
    keep every row and sample it wrote, and run only the tasks that have no row."""
    # absolute: the tasks run in the work directory, and their log paths must still hold
    run = RunDirectory(run_dir.resolve())
    if not run.run_json.is_file():
        raise UserError(f"{run_dir}: not a run directory (no run.json)")
    info = run.read_run_info()
    workload = info.get("workload")
    if info.get("executor") not in registry.names() or info.get("status") == "dry-run" or (
            "spec" not in (info.get("workflow") or {}) and not workload) or not isinstance(
            info.get("settings"), dict):
        raise UserError(f"{run_dir}: not a workflow or workload run that can be resumed")
    settings = stored_settings(info["settings"], run.path.parent)
    schedule = None
    if workload:
        plan, schedule = _workload_plan(run, info, settings)
    else:
        workflow = Workflow.model_validate(info["workflow"]["spec"])
        source = SourceMap(str(info["workflow"]["source"]))
        dataset_info = info.get("dataset")
        dataset = Dataset.load(Path(dataset_info["path"])) if dataset_info else None
        plan = make_plan(workflow, source, dataset, run.work, info["workflow"].get("params"))
        if settings.only is not None:
            plan = focus(plan, settings.only, settings.repeat)
    run.reserve()  # a run stopped by a full disk resumes only once there is room
    stopped = stop_leftovers(run, str(info["run_id"]), settings)
    for table in (run.samples_csv, run.node_csv):
        repair_tail(table)
    rows = run.load_tasks()
    done = {t: str(r["status"]) for t, r in rows.items()
            if r["status"] in ("succeeded", "skipped", "failed")}
    # a task cancelled by an interrupt runs again; its attempt's row is kept beside the
    # retried attempts, and its logs beside theirs
    retried = info.setdefault("retried", {})
    for task_id, row in rows.items():
        if task_id not in done:
            attempt = int(float(str(row.get("attempt") or 1)))
            run.keep_attempt_logs(task_id, attempt)
            retried.setdefault(task_id, []).append(
                {"attempt": attempt, "exit_code": None, "lost": False,
                 "status": row.get("status"), "row": row})
    attempts = _attempts_used(run)
    resumes = list(info.get("resumed", []))
    resumes.append({"time": time.time(), "previous_status": info.get("status"),
                    "previous_error": info.pop("error", None),
                    "tasks_done": len(done), "leftover_processes_stopped": stopped})
    info.update(status="running", resumed=resumes, end_time=None)
    run.write_run_info(info)
    exporter = (PrometheusExporter(settings.prometheus_port, settings.prometheus_host)
                if settings.prometheus_port is not None else None)
    versions = {t.step: str(v) for t in plan.tasks
                for app, v in info.get("tool_versions", {}).items() if app == t.app}
    return _execute(plan, run, info, settings, versions, exporter, on_event,
                    Resumed(done, attempts), schedule)


def _workload_plan(run: RunDirectory, info: dict[str, Any], settings: RunSettings
                   ) -> tuple[Plan, Schedule]:
    """A workload's plan rebuilt as it was (same spec and seed, the same cached datasets),
    and the engine's arguments with the arrival clock carried on: an instance that arrived
    before the manager died is let in at once, the others when their time comes, counted
    from the first start."""
    workload = info["workload"]
    spec = WorkloadSpec.model_validate(workload["spec"])
    plan, instances = build_instances(spec, Path(workload["source"]).parent, run.work,
                                      settings.runs_dir.resolve() / ".datasets")
    stored = workload["instances"]
    if sorted(instances) != sorted(stored):
        raise UserError(f"{run.path}: the workload no longer plans the same instances")
    behind_s = time.time() - float(info["start_time"])
    return plan, _schedule(make_policy(str(workload["policy"])), spec.concurrency, stored,
                           behind_s)


def _schedule(policy: Policy, concurrency: int | None, instances: dict[str, Any],
              behind_s: float = 0.0) -> Schedule:
    """The engine's schedule of a workload's `instances` (run.json's `workload.instances`),
    its arrivals `behind_s` seconds on (a resume lets in at once what had arrived)."""
    return Schedule(
        policy=policy, concurrency=concurrency,
        arrivals_s={w: max(0.0, float(i["arrival_s"]) - behind_s)
                    for w, i in instances.items()},
        workflows={w: i["workflow"] for w, i in instances.items()},
        predicted_s={w: i["predicted_s"] for w, i in instances.items()})


def stop_leftovers(run: RunDirectory, run_id: str, settings: RunSettings) -> int:
    """Kill what a dead manager left running: what its executor left
    (`Executor.stop_leftovers`: the recorded process groups, SLURM jobs or Kubernetes
    Jobs), and whatever is in its task cgroups on this machine."""
    stopped = registry.get(settings.executor).stop_leftovers(run, run_id,
                                                             settings.backend_settings())
    return stopped + kill_stale_cgroups(f"genscale-{run_id}-")


def _attempts_used(run: RunDirectory) -> dict[str, int]:
    """The highest attempt of each task that left a trace: samples in the run's table, or
    a pod directory (`pods/TASK.aN`) of a SLURM job or Kubernetes Job that a dead manager
    never folded in. A resumed task runs as the next attempt, in a Job and pod of its own."""
    used: dict[str, int] = {}
    for pod in (run.path / "pods").glob("*.a*"):
        match = re.fullmatch(r"(.+)\.a(\d+)(?:\.\d+)?", pod.name)
        if match and pod.is_dir():
            used[match[1]] = max(used.get(match[1], 0), int(match[2]))
    if not run.samples_csv.is_file() or run.samples_csv.stat().st_size == 0:
        return used
    try:
        frame = pd.read_csv(run.samples_csv, usecols=["task_id", "attempt"])
    except ValueError:  # a run directory from before attempts were recorded
        frame = pd.read_csv(run.samples_csv, usecols=["task_id"]).assign(attempt=1)
    frame["attempt"] = frame["attempt"].fillna(1)
    for task_id, attempt in frame.groupby("task_id")["attempt"].max().items():
        used[str(task_id)] = max(used.get(str(task_id), 0), int(attempt))
    return used


def run_workload(spec_path: Path, settings: RunSettings | None = None,
                 policy: str | None = None, on_event: EventHook | None = None,
                 predictions: WorkflowPredictions | None = None) -> RunResult:
    """Every instance of a workload spec, in one run directory (see engine/workload.py), as
    `genscale workload run` does; `policy` overrides the spec's. `predictions`: what
    orders shortest-predicted-first (default: the input-size heuristic).

        result = genscale.run_workload(Path("workloads/mixed.yaml"), policy="fair-share")
        genscale.RunDirectory(result.run_dir).tasks().groupby("workflow_id")["wall_s"].sum()
    """
    settings = settings or RunSettings()
    if settings.dry_run:
        raise UserError("--dry-run goes with genscale run, not with workloads")
    spec = load_workload(spec_path)
    chosen = make_policy(policy or spec.policy)
    run_id = settings.run_id or new_run_id(f"{spec.name}-{chosen.name}")
    run_dir = (settings.runs_dir / run_id).resolve()
    if run_dir.exists():
        raise UserError(f"{run_dir}: a run directory of that name exists already")
    predict_s: Predictor = predictions.predict_s if predictions else input_size_heuristic
    plan, instances = build_instances(spec, spec_path.parent, run_dir / "work",
                                      settings.runs_dir.resolve() / ".datasets", predict_s)
    run, versions, exporter, info = _open_run(plan, run_dir, run_id, settings, {
        "workflow": {"name": f"workload:{spec.name}"},
        "workload": {"spec": spec.model_dump(mode="json"), "source": str(spec_path),
                     "policy": chosen.name, "instances": instances,
                     "predictions": predictions.source if predictions
                     else "input-size heuristic"}})
    return _execute(plan, run, info, settings, versions, exporter, on_event,
                    schedule=_schedule(chosen, spec.concurrency, instances))
