"""Live metrics in Prometheus's exposition format while a run goes.

The exporter sees every sample the sampler takes (tasks and node) and serves the latest
values over HTTP, on loopback unless told otherwise. Task series carry the labels run_id,
task_id and app; a finished task keeps its last values and `genscale_task_running` drops
to 0, so a task shorter than the scrape interval still leaves its totals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from genscale.errors import UserError

Row = dict[str, object]
TASK_LABELS = ("run_id", "task_id", "app")

# metric name -> (sample column, help); cumulative columns keep their meaning
TASK_METRICS = {
    "genscale_task_cpu_cores": ("cpu_cores", "CPU used over the last interval, in cores"),
    "genscale_task_rss_bytes": ("rss_bytes", "resident memory of the task's process tree"),
    "genscale_task_pss_bytes": ("pss_bytes", "proportional set size of the tree"),
    "genscale_task_read_bytes": ("read_bytes", "bytes read from storage since the start"),
    "genscale_task_write_bytes": ("write_bytes", "bytes written to storage since the start"),
    "genscale_task_read_chars": ("read_chars", "bytes through read calls since the start"),
    "genscale_task_write_chars": ("write_chars", "bytes through write calls since the start"),
    "genscale_task_procs": ("procs", "processes alive in the tree"),
    "genscale_task_threads": ("threads", "threads alive in the tree"),
    "genscale_task_elapsed_seconds": ("elapsed_s", "seconds since the task started"),
}
NODE_METRICS = {
    "genscale_node_cpu_cores": ("cpu_cores", "busy CPU of the machine, in cores"),
    "genscale_node_cpu_iowait_cores": ("cpu_iowait_cores", "CPU idle waiting for I/O"),
    "genscale_node_memory_used_bytes": ("memory_used_bytes", "MemTotal - MemAvailable"),
    "genscale_node_memory_cache_bytes": ("memory_cache_bytes", "page cache and buffers"),
    "genscale_node_disk_read_bytes": ("disk_read_bytes", "read from disks since the start"),
    "genscale_node_disk_write_bytes": ("disk_write_bytes", "written to disks since the start"),
    "genscale_node_net_rx_bytes": ("net_rx_bytes", "received since the start"),
    "genscale_node_net_tx_bytes": ("net_tx_bytes", "sent since the start"),
}


class PrometheusExporter:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.registry = CollectorRegistry()
        self.task = {name: Gauge(name, text, TASK_LABELS, registry=self.registry)
                     for name, (_, text) in TASK_METRICS.items()}
        self.running = Gauge("genscale_task_running", "1 while the task runs, then 0",
                             TASK_LABELS, registry=self.registry)
        self.node = {name: Gauge(name, text, ("run_id",), registry=self.registry)
                     for name, (_, text) in NODE_METRICS.items()}
        try:
            self._server, self._thread = start_http_server(port, addr=host,
                                                           registry=self.registry)
        except OSError as exc:
            raise UserError(f"--prometheus-port {port}: cannot listen on {host}:{port} "
                            f"({exc.strerror})") from None
        self.port = self._server.server_port

    def observe_tasks(self, rows: list[Row]) -> None:
        for row in rows:
            labels = [str(row[k]) for k in TASK_LABELS]
            for name, (column, _) in TASK_METRICS.items():
                value = row.get(column)
                if isinstance(value, int | float):
                    self.task[name].labels(*labels).set(value)
            # the closing sample of a task has no processes left
            self.running.labels(*labels).set(1 if row.get("procs") else 0)

    def observe_node(self, rows: list[Row]) -> None:
        for row in rows:
            for name, (column, _) in NODE_METRICS.items():
                value = row.get(column)
                if isinstance(value, int | float):
                    self.node[name].labels(str(row["run_id"])).set(value)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def fan_out(*sinks: Callable[[list[Row]], Any] | None) -> Callable[[list[Row]], None]:
    """One sink that feeds several (the CSV first, so disk never waits on the rest)."""
    active = [s for s in sinks if s is not None]

    def sink(rows: list[Row]) -> None:
        for s in active:
            s(rows)

    return sink
