"""A synthetic trace in the formats scheduler researchers read, written chunk by chunk.

- **Alibaba 2018** (`alibaba/batch_task.csv`, `alibaba/batch_instance.csv`): headerless,
  columns as cluster-trace-v2018's schema.txt orders them. A workflow is a job
  (`job_name`), each task a task of one instance; the DAG is in the task name (`M3_1_2`:
  task 3 waits for tasks 1 and 2, numbered in plan order). `plan_cpu` and `cpu_avg` are
  cores x 100; `plan_mem` and `mem_max` are percent of the node's memory (`Mix.node`).
  Times are whole seconds; `cpu_max`, `mem_avg` and `machine_id` are left empty (a
  synthetic trace knows neither a task's peak CPU, its mean memory nor its machine).
- **SWF** (`trace.swf`, the Parallel Workloads Archive's Standard Workload Format): one
  job per task, its 18 fields, -1 where unknown. Submit time is the workflow's arrival; a
  task's preceding job (field 17) is one of its parents (SWF keeps one), with a think time of
  0; used memory is KB per processor; the executable number names the step (listed in
  the header). MaxProcs and MaxMemory are the node's (`Mix.node`).

Start and end times are those of the workflow on unlimited cores (each task as soon as its
parents end): a trace is not a schedule; `genscale sim` makes one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SWF_HEADER = """\
; Version: 2.2
; Computer: a synthetic genomics platform (genscale synth trace)
; Note: one job per task; field 17 is one of its parents (SWF keeps one dependency)
; MaxProcs: {cores}
; MaxMemory: {memory}
"""


def _earliest(tasks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each task's start and end with unlimited cores (in plan order, parents first)."""
    start = tasks["arrival_s"].to_numpy(dtype=float).copy()
    wall = tasks["wall_s"].to_numpy(dtype=float)
    end = start + wall
    position = {(w, t): i for i, (w, t) in enumerate(zip(tasks["workflow_id"],
                                                          tasks["task_id"], strict=True))}
    for i, (w, parents) in enumerate(zip(tasks["workflow_id"], tasks["parents"],
                                         strict=True)):
        for parent in str(parents).split():
            j = position[(w, parent)]
            start[i] = max(start[i], end[j])
        end[i] = start[i] + wall[i]
    return start, end


def _numbers(tasks: pd.DataFrame) -> list[int]:
    """Each task's number within its workflow, from 1, in plan order."""
    return list(tasks.groupby("workflow_id", sort=False).cumcount().to_numpy() + 1)


class Writers:
    """Appends each chunk to the files of the formats asked for, under `directory`."""

    def __init__(self, directory: Path, formats: tuple[str, ...], node: Any,
                 steps: list[str]) -> None:
        self.directory, self.formats, self.node = directory, formats, node
        self.jobs = 0  # SWF job numbers run on across chunks
        self.apps = {s: i + 1 for i, s in enumerate(sorted(set(steps)))}
        if "alibaba" in formats:
            (directory / "alibaba").mkdir()
        if "swf" in formats:
            (directory / "trace.swf").write_text(
                SWF_HEADER.format(cores=node.cores, memory=int(node.memory_bytes // 1024))
                + "".join(f"; Note: executable {n} is step {s}\n"
                          for s, n in self.apps.items()))

    def write(self, tasks: pd.DataFrame) -> None:
        if "alibaba" in self.formats:
            self._alibaba(tasks)
        if "swf" in self.formats:
            self._swf(tasks)

    def _alibaba(self, tasks: pd.DataFrame) -> None:
        start, end = _earliest(tasks)
        number = _numbers(tasks)
        index = {(w, t): n for w, t, n in zip(tasks["workflow_id"], tasks["task_id"], number,
                                               strict=True)}
        names = []
        for w, n, parents in zip(tasks["workflow_id"], number, tasks["parents"], strict=True):
            deps = sorted(index[(w, p)] for p in str(parents).split())
            names.append("_".join([f"M{n}", *map(str, deps)]))
        memory = 100.0 * tasks["memory_bytes"].to_numpy(dtype=float) / self.node.memory_bytes
        peak = 100.0 * tasks["peak_rss_bytes"].to_numpy(dtype=float) / self.node.memory_bytes
        cpu_avg = 100.0 * tasks["cpu_time_s"].to_numpy(dtype=float) / np.maximum(
            tasks["wall_s"].to_numpy(dtype=float), 1e-9)
        jobs = tasks["workflow_id"].astype(str).to_numpy()
        begin, finish = np.floor(start).astype(np.int64), np.ceil(end).astype(np.int64)
        task = pd.DataFrame({
            "task_name": names, "instance_num": 1, "job_name": jobs, "task_type": "1",
            "status": "Terminated", "start_time": begin, "end_time": finish,
            "plan_cpu": 100.0 * tasks["threads"].to_numpy(dtype=float),
            "plan_mem": np.round(memory, 2)})
        instance = pd.DataFrame({
            "instance_name": [f"{j}_{n}_1" for j, n in zip(jobs, names, strict=True)],
            "task_name": names, "job_name": jobs, "task_type": "1", "status": "Terminated",
            "start_time": begin, "end_time": finish, "machine_id": "", "seq_no": 1,
            "total_seq_no": 1, "cpu_avg": np.round(cpu_avg, 2), "cpu_max": "",
            "mem_avg": "", "mem_max": np.round(peak, 2)})
        for name, frame in (("batch_task.csv", task), ("batch_instance.csv", instance)):
            frame.to_csv(self.directory / "alibaba" / name, mode="a", header=False,
                         index=False)

    def _swf(self, tasks: pd.DataFrame) -> None:
        count = len(tasks)
        job = np.arange(self.jobs + 1, self.jobs + count + 1)
        self.jobs += count
        of = {(w, t): j for w, t, j in zip(tasks["workflow_id"], tasks["task_id"], job,
                                           strict=True)}
        preceding = np.array([max((of[(w, p)] for p in str(parents).split()), default=-1)
                              for w, parents in zip(tasks["workflow_id"], tasks["parents"],
                                                    strict=True)], dtype=np.int64)
        threads = tasks["threads"].to_numpy(dtype=np.int64)
        wall = tasks["wall_s"].to_numpy(dtype=float)
        fields = np.column_stack([
            job, np.floor(tasks["arrival_s"].to_numpy(dtype=float)).astype(np.int64),
            np.full(count, -1), np.ceil(wall).astype(np.int64), threads,
            np.round(tasks["cpu_time_s"].to_numpy(dtype=float) / threads).astype(np.int64),
            (tasks["peak_rss_bytes"].to_numpy(dtype=float) / 1024 / threads).astype(np.int64),
            threads, np.full(count, -1),
            (tasks["memory_bytes"].to_numpy(dtype=float) / 1024 / threads).astype(np.int64),
            np.ones(count, dtype=np.int64), np.full(count, -1), np.full(count, -1),
            np.array([self.apps[s] for s in tasks["step"]], dtype=np.int64),
            np.full(count, -1), np.full(count, -1), preceding, np.where(preceding > 0, 0, -1)])
        with open(self.directory / "trace.swf", "a", encoding="utf-8") as out:
            np.savetxt(out, fields, fmt="%d")
