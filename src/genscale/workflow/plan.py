"""Planning: a validated spec plus a dataset becomes a DAG of concrete, quoted commands.

Every check that can fail is made here, before anything runs: undefined variables, inputs
that nothing produces, two steps writing one file, cycles, missing executables. All problems
are collected and reported together, each with its file, line and field.
"""

from __future__ import annotations

import os
import shutil
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from genscale.data.manifest import Dataset
from genscale.errors import SpecError, UserError
from genscale.workflow.loader import SourceMap
from genscale.workflow.shellquote import check_template, render_quoted
from genscale.workflow.spec import Step, Workflow

_FORMATTER = string.Formatter()
SCALARS = ("threads", "memory_bytes", "memory_mb")


@dataclass
class PlannedTask:
    """One task, ready to run: its command is final and every value in it is quoted."""

    task_id: str
    step: str
    app: str
    command: str
    threads: int
    memory_bytes: int
    inputs: dict[str, Path]
    outputs: dict[str, Path]
    deps: list[str] = field(default_factory=list)
    cache: bool = False
    version_command: str | None = None
    image: str | None = None
    skip_reason: str | None = None
    # what a cache key must cover besides input contents: the step's template and values
    cache_basis: dict[str, object] = field(default_factory=dict)
    # in a workload of many workflows: which instance this task belongs to, and where it runs
    workflow_id: str | None = None
    workdir: Path | None = None


@dataclass
class Plan:
    workflow: Workflow
    source: SourceMap
    workdir: Path
    params: dict[str, str]
    dataset: Dataset | None
    tasks: list[PlannedTask]  # in dependency order

    @property
    def skipped(self) -> dict[str, str]:
        return {t.task_id: t.skip_reason for t in self.tasks if t.skip_reason}

    def task(self, task_id: str) -> PlannedTask:
        return next(t for t in self.tasks if t.task_id == task_id)


def template_fields(template: str) -> list[tuple[str, str | None, str | None]]:
    """(field name, conversion, format spec) of each `{...}` in `template`."""
    return [(name, conv, spec) for _, name, spec, conv in _FORMATTER.parse(template)
            if name is not None]


def render(template: str, values: Mapping[str, str], quote: bool) -> str:
    """Substitute `{name}` fields; with `quote`, each value is shell-quoted for the place it
    stands in (a word, or inside '...', "..." or $(...)), so that a space, a quote or a `;`
    in a value neither breaks the command nor injects one (see `shellquote`)."""
    if quote:
        return render_quoted(template, values)
    out = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        out.append(literal)
        if name is not None:
            value = values[name]
            out.append(value)
    return "".join(out)


def _check_fields(template: str, allowed: Mapping[str, str], where: str, source: SourceMap,
                  loc: tuple[str | int, ...], problems: list[str], shell: bool = False) -> bool:
    """Every field of `template` defined and plain; with `shell`, each also standing where
    its value can be quoted (see `shellquote`)."""
    try:
        fields = template_fields(template)
    except ValueError as exc:
        problems.append(source.problem(loc, f"bad template in {where}: {exc}"))
        return False
    ok = True
    for name, why in check_template(template) if shell else ():
        problems.append(source.problem(loc, f"{{{name}}} in {where}: no quoting can make its "
                                            f"value literal there: {why}"))
        ok = False
    for name, conv, spec in fields:
        if conv or spec:
            problems.append(source.problem(loc, f"{{{name}}}: conversions and format specs "
                                                "are not supported"))
            ok = False
        elif name == "":
            problems.append(source.problem(loc, "empty {} field; write {{ and }} for braces"))
            ok = False
        elif name not in allowed:
            problems.append(source.problem(loc, f"undefined variable {{{name}}} in {where}"))
            ok = False
    return ok


def _param_type_problem(default: object, value: str) -> str | None:
    """What is wrong with `value` for a parameter whose default is `default`: a number's
    override must be a number of its kind (its text goes into commands), else None."""
    for kind, name in ((int, "an integer"), (float, "a number")):
        if isinstance(default, kind) and not isinstance(default, bool):
            try:
                kind(value)
            except ValueError:
                return f"expected {name}, as its default {default!r} is, got {value!r}"
    return None


def _tool_missing(tool: str) -> bool:
    if os.sep in tool:
        return not Path(tool).exists()
    return shutil.which(tool) is None


def make_plan(workflow: Workflow, source: SourceMap, dataset: Dataset | None,
              workdir: Path, params: Mapping[str, str] | None = None,
              task_prefix: str = "", shape_only: bool = False) -> Plan:
    """Resolve `workflow` against `dataset` into tasks; raises SpecError with every problem.
    With `shape_only`, the plan is only its tasks' order, dependencies and resources: a
    missing dataset input or tool is not a problem and skips nothing (see `plan_shape`)."""
    problems: list[str] = []
    values: dict[str, str] = {f"params.{k}": str(v) for k, v in workflow.params.items()}
    if dataset is not None:
        values.update({f"params.{k}": str(v) for k, v in dataset.params.items()})
    for key, value in (params or {}).items():
        if f"params.{key}" not in values:
            problems.append(f"--param {key}: the workflow has no such parameter "
                            f"(it has: {', '.join(sorted(workflow.params)) or 'none'})")
        elif (why := _param_type_problem(workflow.params.get(key), str(value))) is not None:
            problems.append(f"--param {key}: {why}")
        values[f"params.{key}"] = str(value)
    # a dataset input that is missing only matters to the steps that read it: optional ones
    # are skipped, others make it an error
    absent: dict[Path, str] = {}
    for name in workflow.inputs:
        if dataset is not None and name in dataset.files:
            values[f"dataset.{name}"] = str(dataset.file(name))
        else:
            placeholder = Path(f"/nonexistent-dataset-input/{name}")
            absent[placeholder] = name
            values[f"dataset.{name}"] = str(placeholder)

    names = [s.name for s in workflow.steps]
    for i, step in enumerate(workflow.steps):
        if names.count(step.name) > 1 and names.index(step.name) != i:
            problems.append(source.problem(("steps", i, "name"), f"step name '{step.name}' "
                                                                 "is used twice"))

    tasks: list[PlannedTask] = []
    producer: dict[Path, str] = {}
    for i, step in enumerate(workflow.steps):
        task = _plan_step(i, step, values, source, workdir, task_prefix, problems)
        for out_name, path in task.outputs.items():
            if path in producer:
                problems.append(source.problem(("steps", i, "outputs", out_name),
                                               f"{path} is also written by step "
                                               f"{producer[path]}"))
            producer[path] = task.task_id
        tasks.append(task)

    by_id = {t.task_id: t for t in tasks}
    step_index = {s.name: i for i, s in enumerate(workflow.steps)}
    for task in tasks:
        i = step_index[task.step]
        for in_name, path in task.inputs.items():
            dep = producer.get(path) or next(
                (p for out, p in producer.items() if out in path.parents), None)
            if dep is not None:
                if dep == task.task_id:
                    problems.append(source.problem(("steps", i, "inputs", in_name),
                                                   "a step cannot read its own output"))
                elif dep not in task.deps:
                    task.deps.append(dep)
            elif path in absent or shape_only:
                continue
            elif not path.exists():
                problems.append(source.problem(("steps", i, "inputs", in_name),
                                               f"{path} is produced by no step and does not "
                                               "exist"))
    ordered = _topological(tasks, by_id, source, step_index, problems)
    reported: set[str] = set()
    # what a real run needs of the dataset and the machine; a shape needs none of it
    for task in () if shape_only else ordered:
        step = workflow.steps[step_index[task.step]]
        missing = [t for t in (render(x, values, quote=False) for x in step.tools)
                   if _tool_missing(t)]
        upstream = [d for d in task.deps if by_id[d].skip_reason]
        lacking = sorted({absent[p] for p in task.inputs.values() if p in absent})
        if lacking and step.optional:
            task.skip_reason = f"the dataset has no {', '.join(lacking)}"
        elif lacking:
            for name in set(lacking) - reported:
                reported.add(name)
                problems.append(source.problem(
                    ("inputs", name), "the workflow needs a dataset (--dataset DIR)"
                    if dataset is None else f"the dataset {dataset.path} has no file "
                                            f"'{name}' (step {task.step} reads it)"))
        elif missing and step.optional:
            task.skip_reason = f"{', '.join(missing)} not found on this machine"
        elif missing:
            problems.append(source.problem(("steps", step_index[task.step], "tools"),
                                           f"executable not found: {', '.join(missing)}"))
        elif upstream:
            task.skip_reason = f"depends on skipped {', '.join(upstream)}"
    if problems:
        raise SpecError(problems)
    plain_params = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("params.")}
    for task in ordered:
        task.workdir = workdir
    return Plan(workflow, source, workdir, plain_params, dataset, ordered)


def _plan_step(i: int, step: Step, values: Mapping[str, str], source: SourceMap,
               workdir: Path, prefix: str, problems: list[str]) -> PlannedTask:
    ok = True
    paths: dict[str, dict[str, Path]] = {"inputs": {}, "outputs": {}}
    for kind in ("inputs", "outputs"):
        for name, template in getattr(step, kind).items():
            loc = ("steps", i, kind, name)
            allowed = {k: v for k, v in values.items()
                       if k.startswith("params.") or (kind == "inputs"
                                                      and k.startswith("dataset."))}
            if not _check_fields(template, allowed, f"{kind}.{name}", source, loc, problems):
                ok = False
                continue
            rel = render(template, values, quote=False)
            path = Path(os.path.normpath(workdir / rel))
            if kind == "outputs" and (Path(rel).is_absolute() or workdir not in path.parents):
                problems.append(source.problem(loc, f"output {rel!r} is outside the run's "
                                                    "work directory: give a relative path "
                                                    "without '..'"))
                ok = False
            paths[kind][name] = path
    command_values = dict(values)
    for kind, group in paths.items():
        for name, path in group.items():
            command_values[f"{kind}.{name}"] = _relative(path, workdir)
    command_values["threads"] = str(step.threads)
    command_values["memory_bytes"] = str(step.memory)
    command_values["memory_mb"] = str(step.memory // 2**20)
    ok &= _check_fields(step.command, command_values, "command", source,
                        ("steps", i, "command"), problems, shell=True)
    for j, tool in enumerate(step.tools):
        ok &= _check_fields(tool, values, "tools", source, ("steps", i, "tools", j), problems)
    if step.version:
        ok &= _check_fields(step.version, values, "version", source, ("steps", i, "version"),
                            problems, shell=True)
    if not ok:  # keep its paths, so its dependents are not reported as orphans too
        return PlannedTask(f"{prefix}{step.name}", step.name, step.app, "", step.threads,
                           step.memory, paths["inputs"], paths["outputs"])
    return PlannedTask(
        task_id=f"{prefix}{step.name}",
        step=step.name,
        app=step.app,
        command=render(step.command, command_values, quote=True),
        threads=step.threads,
        memory_bytes=step.memory,
        inputs=paths["inputs"],
        outputs=paths["outputs"],
        cache=step.cache,
        version_command=render(step.version, values, quote=True) if step.version else None,
        image=step.image,
        # the parameters the command uses, not every one the workflow and dataset have: an
        # index of the same reference is the same whatever the reads' length
        cache_basis={"command": step.command,
                     "values": {k: command_values[k]
                                for k in sorted({name for name, _, _ in
                                                 template_fields(step.command)})
                                if k.startswith("params.") and k in command_values},
                     "outputs": {k: _relative(p, workdir)
                                 for k, p in paths["outputs"].items()}},
    )


def _relative(path: Path, workdir: Path) -> str:
    """Paths inside the work directory are written relative to it (tasks run there)."""
    try:
        return str(path.relative_to(workdir))
    except ValueError:
        return str(path)


def _topological(tasks: list[PlannedTask], by_id: Mapping[str, PlannedTask],
                 source: SourceMap, step_index: Mapping[str, int],
                 problems: list[str]) -> list[PlannedTask]:
    """Tasks in dependency order, keeping the spec's order among independent ones."""
    done: set[str] = set()
    ordered: list[PlannedTask] = []
    remaining = list(tasks)
    while remaining:
        ready = [t for t in remaining if all(d in done for d in t.deps)]
        if not ready:
            cycle = " -> ".join(t.step for t in remaining)
            first = remaining[0]
            problems.append(source.problem(("steps", step_index[first.step]),
                                           f"dependency cycle among steps: {cycle}"))
            return ordered
        for t in ready:
            done.add(t.task_id)
            ordered.append(t)
        remaining = [t for t in remaining if t.task_id not in done]
    return ordered


def focus(plan: Plan, step: str, repeat: int) -> Plan:
    """The plan for benchmarking `step` alone: its upstream steps, cached by content so they
    run once across runs, then `repeat` runs of `step` one after another (task ids
    `STEP.r1` ... `STEP.rN`), never from the cache. With repeat 0, only the upstream steps:
    that materialises `step`'s inputs."""
    by_step = {t.step: t for t in plan.tasks}
    if step not in by_step:
        raise UserError(f"--only {step}: the workflow {plan.workflow.name} has no such step "
                        f"(steps: {', '.join(by_step)})")
    if repeat < 0:
        raise UserError(f"--repeat: expected 0 or more, got {repeat}")
    by_id = {t.task_id: t for t in plan.tasks}
    target = by_step[step]
    upstream: set[str] = set()
    stack = list(target.deps)
    while stack:
        task_id = stack.pop()
        if task_id not in upstream:
            upstream.add(task_id)
            stack.extend(by_id[task_id].deps)
    tasks = [replace(t, cache=True) for t in plan.tasks if t.task_id in upstream]
    previous: list[str] = []
    for i in range(1, repeat + 1):
        copy = replace(target, task_id=f"{target.task_id}.r{i}", cache=False,
                       deps=[*target.deps, *previous])
        tasks.append(copy)
        previous = [copy.task_id]
    return replace(plan, tasks=tasks)
