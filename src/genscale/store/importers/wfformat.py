"""WfCommons instances (WfFormat JSON) as tasks rows, in every schema version.

Where each version keeps a task's measurements (WfFormat's own migration notes):

- 1.0-1.2: `workflow.jobs`; 1.3: `workflow.tasks`. `runtime` in seconds, `cores`, `avgCPU`
  (percent of one core), `memory` and the byte counts `bytesRead`, `bytesWritten` in
  kilobytes (of 1,000 bytes), except under Pegasus, whose byte counts are bytes; a task
  names its parents by name.
- 1.4: `workflow.tasks`, `runtimeInSeconds`, `memoryInBytes`, `readBytes`, `writtenBytes`
  in bytes; still parents by name.
- 1.5, 1.6: `workflow.execution.tasks` (`runtimeInSeconds`, `executedAt`, `coreCount`,
  `avgCPU`, `readBytes`, `writtenBytes`, `memoryInBytes`, `machines`), the names in
  `workflow.specification.tasks`.

Each instance file is one workflow (`workflow_id` the file's stem); each task one row with
`step` its name without a trailing id (`bwa_mem_ID0000003` and `cpuhog_chain_00000001`
give `bwa_mem` and `cpuhog_chain`); a Nextflow process's scoped name
(`NFCORE_BACASS.BACASS.FASTQC` as WfCommons' Nextflow tracer writes it, or with colons)
gives the step and app that the Nextflow trace importer gives (`fastqc`). `cpu_time_s` =
avgCPU / 100 x runtime, `start_time` its `executedAt` where given (ISO 8601, or the
`MM-DD-YYTHH:MM:SSZ` that WfCommons' own instances hold), `host` its first machine (a name
in 1.5 and later, an object with `nodeName` before). The instance's byte counts are what the
task read and wrote through the file system as its tracer saw them; they go to `read_chars`
and `write_chars`, what was asked of storage.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.store.importers import Rows, read_text, source_stem
from genscale.store.importers.numbers import check_measure
from genscale.store.importers.traces import app_of

_TRAILING_ID = re.compile(r"(?:[_-]?ID\d+|[_-]\d+)$")
# a Nextflow process's scope, as WfCommons writes it (dots) or Nextflow does (colons)
_SCOPED = re.compile(r"^\w+(?:[.:]\w+)+$")
# executedAt as WfCommons' instances hold it besides ISO 8601 (WfInstances' helloworld)
_WFCOMMONS_TIME = "%m-%d-%yT%H:%M:%S%z"


def _number(path: Path, where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{path}: {where}: expected a number, got {value!r}")
    try:
        return check_measure(float(value), value)
    except (ValueError, OverflowError) as exc:
        raise UserError(f"{path}: {where}: {exc}") from None


def _timestamp(path: Path, where: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).replace("Z", "+00:00")
    for parse in (datetime.fromisoformat,
                  lambda t: datetime.strptime(t.replace("+00:00", "+0000"), _WFCOMMONS_TIME)):
        try:
            return parse(text).timestamp()
        except ValueError:
            continue
    raise UserError(f"{path}: {where}: expected an ISO 8601 time (or WfCommons' "
                    f"MM-DD-YYTHH:MM:SSZ), got {value!r}")


def _object(path: Path, where: str, value: Any) -> dict[str, Any]:
    """`value`, a JSON object (absent: empty); one line naming `where` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{path}: {where}: expected an object, got {type(value).__name__}")
    return value


def _objects(path: Path, where: str, value: Any) -> list[dict[str, Any]]:
    """`value`, a list of JSON objects (absent: empty); one line naming `where` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UserError(f"{path}: {where}: expected a list of objects")
    return value


def _host(task: dict[str, Any]) -> str:
    """The task's first machine: a name (1.5 on) or an object with `nodeName` (before)."""
    machines = task.get("machines") or ([task["machine"]] if task.get("machine") else [])
    first = machines[0] if isinstance(machines, list) and machines else None
    if isinstance(first, dict):
        return str(first.get("nodeName", ""))
    return str(first) if isinstance(first, str | int) else ""


def _parent_names(path: Path, where: str, value: Any) -> list[str]:
    """A task's parents as written (ids or names); absent: none."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        raise UserError(f"{path}: {where}: parents: expected a list of task ids or names")
    return [str(v) for v in value]


def step_and_app(name: str) -> tuple[str, str]:
    """A task's step (its name without a trailing id) and app (the step's first word); a
    Nextflow process's scoped name gives what `traces.app_of` gives for it."""
    step = _TRAILING_ID.sub("", name) or name
    if _SCOPED.match(step):
        app, step = app_of(step.replace(".", ":"))
        return step, app
    return step, step.split("_", 1)[0].lower()


def _tasks(path: Path, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(version, the task records with one set of key names: the 1.5 execution names)."""
    version = str(data.get("schemaVersion", ""))
    workflow = data.get("workflow")
    if not isinstance(workflow, dict):
        raise UserError(f"{path}: not a WfFormat instance (no workflow object)")
    if "execution" in workflow or "specification" in workflow:
        specification = _object(path, "workflow.specification", workflow.get("specification"))
        execution = _object(path, "workflow.execution", workflow.get("execution"))
        # ids are names (text); anything else is kept as its text, never a dict key
        specified = _objects(path, "workflow.specification.tasks", specification.get("tasks"))
        names = {str(t.get("id")): t.get("name") for t in specified}
        waits = {str(t.get("id")): t.get("parents") for t in specified}
        records = []
        for task in _objects(path, "workflow.execution.tasks", execution.get("tasks")):
            records.append({**task, "name": names.get(str(task.get("id"))) or task.get("id"),
                            "parents": waits.get(str(task.get("id")))})
        return version or "1.5", records
    key = "tasks" if "tasks" in workflow else "jobs"
    if not isinstance(workflow.get(key), list):
        raise UserError(f"{path}: not a WfFormat instance (no workflow tasks or jobs)")
    old = _objects(path, f"workflow.{key}", workflow[key])
    system = _object(path, "runtimeSystem", data.get("runtimeSystem") or data.get("wms"))
    kilo = 1.0 if "pegasus" in str(system.get("name", "")).lower() else 1000.0
    records = []
    for task in old:
        record = dict(task)
        if "runtimeInSeconds" not in record and "runtime" in record:
            record["runtimeInSeconds"] = record["runtime"]
        if "memoryInBytes" not in record and isinstance(record.get("memory"), int | float):
            record["memoryInBytes"] = record["memory"] * 1000
        for old_key, new_key in (("bytesRead", "readBytes"), ("bytesWritten", "writtenBytes")):
            if new_key not in record and isinstance(record.get(old_key), int | float):
                record[new_key] = record[old_key] * kilo
        if "coreCount" not in record and "cores" in record:
            record["coreCount"] = record["cores"]
        record.setdefault("id", record.get("name"))
        records.append(record)
    return version, records


def wfformat_rows(path: Path, run_id: str) -> list[Rows]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a WfFormat instance (not a JSON object)")
    version, records = _tasks(path, data)
    workflow_id = source_stem(path)
    # parents are named by id (1.5 on) or by name (before): either gives our task id
    task_id_of: dict[str, str] = {}
    for n, task in enumerate(records, start=1):
        ours = f"{workflow_id}.{task.get('id') or n}"
        for key in (task.get("name"), task.get("id")):
            if isinstance(key, str | int) and not isinstance(key, bool):
                task_id_of.setdefault(str(key), ours)
    out: list[Rows] = []
    for n, task in enumerate(records, start=1):
        where = f"task {task.get('id') or n}"
        wall = _number(path, f"{where}: runtimeInSeconds", task.get("runtimeInSeconds"))
        if wall is None:
            raise UserError(f"{path}: {where}: no runtime (runtimeInSeconds, or runtime "
                            "before WfFormat 1.4)")
        cpu_percent = _number(path, f"{where}: avgCPU", task.get("avgCPU"))
        cpu = cpu_percent / 100 * wall if cpu_percent is not None else None
        start = _timestamp(path, f"{where}: executedAt", task.get("executedAt"))
        name = str(task.get("name") or task.get("id") or n)
        step, app = step_and_app(name)
        host = _host(task)
        cores = _number(path, f"{where}: coreCount", task.get("coreCount"))
        memory = _number(path, f"{where}: memoryInBytes", task.get("memoryInBytes"))
        read = _number(path, f"{where}: readBytes", task.get("readBytes"))
        written = _number(path, f"{where}: writtenBytes", task.get("writtenBytes"))
        row: dict[str, object] = {
            "run_id": run_id, "workflow_id": workflow_id,
            "workflow": str(data.get("name") or "wfformat-import"),
            "task_id": f"{workflow_id}.{task.get('id') or n}", "step": step,
            "app": app, "host": host, "executor": "wfformat-import",
            "status": "succeeded", "exit_code": "",
            "start_time": "" if start is None else start,
            "end_time": "" if start is None else start + wall, "wall_s": wall,
            "cpu_time_s": "" if cpu is None else cpu,
            "mean_cores": "" if cpu is None or not wall else round(cpu / wall, 4),
            "peak_rss_bytes": "" if memory is None else round(memory),
            "read_chars": "" if read is None else round(read),
            "write_chars": "" if written is None else round(written),
            "threads_requested": "" if cores is None else max(1, round(cores)),
            "attempt": 1,
            # a parent that has no record of its own (not executed) is passed over
            "parents": [task_id_of[str(p)] for p in _parent_names(path, where,
                                                                   task.get("parents"))
                        if str(p) in task_id_of],
        }
        out.append((row, []))
    if not out:
        raise UserError(f"{path}: the instance (WfFormat {version or '?'}) has no task")
    return out
