"""Everything that monitors a run, started and stopped together.

A session owns the sampler (task and node series, written to the run directory as they
are taken), the per-task cgroups when the machine allows them, and the Prometheus exporter
when a port is given. `genscale run` and `genscale monitor` both use one.
"""

from __future__ import annotations

import os
from types import TracebackType

from genscale.monitor.cgroups import CgroupLayout, TaskCgroup
from genscale.monitor.launch import launcher
from genscale.monitor.node import NodeProbe
from genscale.monitor.prometheus import PrometheusExporter, fan_out
from genscale.monitor.sampler import Clock, Sampler
from genscale.store.rundir import RunDirectory


class MonitorSession:
    def __init__(self, run: RunDirectory, run_id: str, interval_s: float,
                 cgroups: bool = True, exporter: PrometheusExporter | None = None) -> None:
        """`exporter` is made by the caller before the run directory, so that a port in
        use fails the command before anything is written."""
        self.exporter = exporter
        self._writers = (run.sample_writer(), run.node_writer())
        clock = Clock()
        self.sampler = Sampler(
            interval_s,
            fan_out(self._writers[0], exporter.observe_tasks if exporter else None),
            clock, NodeProbe(run_id, clock.mono0),
            fan_out(self._writers[1], exporter.observe_node if exporter else None))
        self.cgroups = (CgroupLayout.detect(f"genscale-{run_id}-{os.getpid()}")
                        if cgroups else None)

    @property
    def accounting(self) -> str:
        return self.cgroups.description if self.cgroups is not None else "process-tree"

    def task_cgroup(self, task_id: str) -> TaskCgroup | None:
        return self.cgroups.task(task_id) if self.cgroups is not None else None

    def summary(self) -> dict[str, object]:
        """The `monitor` section of run.json."""
        return {"accounting": self.accounting, "launcher": launcher().name,
                "sampler_cpu_s": round(self.sampler.busy_s, 6),
                "prometheus_port": self.exporter.port if self.exporter else None}

    def __enter__(self) -> MonitorSession:
        self.sampler.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.sampler.stop()
        for writer in self._writers:
            writer.close()
        if self.exporter is not None:
            self.exporter.close()
        if self.cgroups is not None:
            self.cgroups.remove()
