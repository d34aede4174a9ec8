"""`genscale monitor -- CMD`: run any command under the monitor."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genscale.cli.options import INTERVAL, PORT
from genscale.monitor.wrapper import monitor_command


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.option("--interval", "interval_s", type=INTERVAL, default=1.0, show_default=True,
              help="sampling interval (s)")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="run directory to write (new or empty)")
@click.option("--task-id", help="task id in the tables (default: the command's name)")
@click.option("--app", help="application name (default: the command's name)")
@click.option("--cgroups/--no-cgroups", default=True, show_default=True,
              help="a cgroup for the command where the machine allows it")
@click.option("--prometheus-port", type=PORT, help="serve live metrics on this port")
@click.option("--prometheus-host", default="127.0.0.1", show_default=True,
              help="address for --prometheus-port (loopback unless you open it)")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def monitor(interval_s: float, out: Path, task_id: str | None, app: str | None,
            cgroups: bool, prometheus_port: int | None, prometheus_host: str,
            command: tuple[str, ...]) -> None:
    """Run COMMAND under the monitor; exits with COMMAND's status.

    \b
    Example:
      genscale monitor --out runs/gzip --interval 0.5 -- gzip -k reads.fq
    """
    code, _ = monitor_command(list(command), out, interval_s, task_id, app, cgroups,
                              prometheus_port, prometheus_host)
    sys.exit(code)
