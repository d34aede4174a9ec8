"""What a run directory's workflows waited for: each workflow id's steps and the steps each
one waits for, planned again from the spec the run kept (or, for a workload, from its
mix's workflows), without a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from genscale.errors import UserError

if TYPE_CHECKING:
    from genscale.workflow.loader import SourceMap
    from genscale.workflow.plan import Plan
    from genscale.workflow.spec import Workflow


def shape_plan(workflow: Workflow, source: SourceMap) -> Plan:
    """`workflow` planned for its shape alone: no dataset, no tools, nothing read or
    written (its work directory is only a name)."""
    from genscale.workflow.plan import make_plan

    return make_plan(workflow, source, None, Path("/nonexistent-workdir"), shape_only=True)


def steps_waited_for(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Each task's id to the steps (names) it waits for."""
    steps = {t.task_id: t.step for t in plan.tasks}
    return {t.task_id: tuple(steps[d] for d in t.deps) for t in plan.tasks}


def step_parents(run_dir: Path, info: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Each workflow id's steps and the steps each waits for, from the spec the run kept
    (a workload's: each instance's workflow), planned without a dataset."""
    from genscale.workflow.loader import SourceMap, load_workflow
    from genscale.workflow.spec import Workflow

    def shape(workflow: Workflow, source: SourceMap) -> dict[str, list[str]]:
        plan = shape_plan(workflow, source)
        waits = steps_waited_for(plan)
        return {t.step: list(waits[t.task_id]) for t in plan.tasks}

    workload = info.get("workload")
    if workload:
        # each instance names its workflow; the workload's mix says where each one is
        base = Path(str(workload.get("source", "."))).parent
        by_name: dict[str, dict[str, list[str]]] = {}
        for entry in (workload.get("spec") or {}).get("mix", []):
            ref = str(entry["workflow"])
            candidate = base / ref
            workflow, source = load_workflow(str(candidate) if candidate.is_file() else ref)
            by_name.setdefault(workflow.name, shape(workflow, source))
        missing = {str(i["workflow"]) for i in workload["instances"].values()} - set(by_name)
        if missing:
            raise UserError(f"{run_dir}: the workload's mix no longer has "
                            f"{', '.join(sorted(missing))}")
        return {w: by_name[str(i["workflow"])] for w, i in workload["instances"].items()}
    spec = (info.get("workflow") or {}).get("spec")
    if not spec:
        if info.get("status") == "imported":
            raise UserError(f"{run_dir}: imported from {info.get('executor', 'a trace')}, "
                            "which records no dependencies between its tasks, so there is "
                            "no workflow to replay (WfFormat instances hold them: genscale "
                            "import wfformat)")
        raise UserError(f"{run_dir}: its run.json keeps no workflow spec to replay")
    return {"": shape(Workflow.model_validate(spec),
                      SourceMap(str(info["workflow"].get("source", "spec"))))}


def task_parents(workflow_ids: list[str], steps: list[str], task_ids: list[str],
                 shapes: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Each task's parents (task ids) among the given tasks: the tasks of its workflow whose
    steps its step waits for (`step_parents`; a single workflow's run keys its shape "")."""
    task_of = {(w, s): t for w, s, t in zip(workflow_ids, steps, task_ids, strict=True)}
    out = []
    for w, step in zip(workflow_ids, steps, strict=True):
        shape = shapes.get(w) or shapes.get("") or {}
        out.append([task_of[(w, d)] for d in shape.get(step, []) if (w, d) in task_of])
    return out


def run_task_parents(run_dir: Path, info: dict[str, Any], workflow_ids: list[str],
                     steps: list[str], task_ids: list[str]) -> list[list[str]]:
    """Each of the given tasks' parents among them: as an import recorded them task by
    task (run.json's `task_parents`: a WfFormat instance's), else from the steps each
    step waits for in the spec the run kept (`step_parents`)."""
    recorded = info.get("task_parents")
    if isinstance(recorded, dict):
        given = set(task_ids)
        return [[p for p in recorded.get(t) or [] if p in given] for t in task_ids]
    return task_parents(workflow_ids, steps, task_ids, step_parents(run_dir, info))


def reference_readers(workflow_ref: str) -> set[str]:
    """The steps of a workflow that read its reference: the dataset's `reference` itself,
    or what a cached step (an index: `cache: true`) made of it."""
    from genscale.workflow.loader import load_workflow

    workflow, source = load_workflow(workflow_ref)
    plan = shape_plan(workflow, source)
    derived = {path for t in plan.tasks if t.cache for path in t.outputs.values()}
    spec = {s.name: s for s in workflow.steps}
    readers = set()
    for task in plan.tasks:
        given = spec[task.step].inputs.values()
        if set(task.inputs.values()) & derived or any("dataset.reference" in str(v)
                                                      for v in given):
            readers.add(task.step)
    return readers
