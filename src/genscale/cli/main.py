"""Entry point: the command groups, and one-line errors for the user's mistakes."""

from __future__ import annotations

import sys

import click

from genscale import __version__
from genscale.cli import (
    campaign,
    data,
    export,
    importers,
    model,
    monitor,
    project,
    quality,
    report,
    run,
    sim,
    synth,
    workload,
)
from genscale.errors import SpecError, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genscale")
def cli() -> None:
    """Benchmark genomics workflows: every task's CPU, memory and I/O over time."""


cli.add_command(run.run)
cli.add_command(data.data)
cli.add_command(monitor.monitor)
cli.add_command(report.report)
cli.add_command(importers.import_)
cli.add_command(export.export)
cli.add_command(quality.quality)
cli.add_command(workload.workload)
cli.add_command(campaign.campaign)
cli.add_command(model.model)
cli.add_command(project.project)
cli.add_command(sim.sim)
cli.add_command(synth.synth)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(f"genscale: error: {problem}", err=True)
        sys.exit(2)
    except UserError as exc:
        click.echo(f"genscale: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("genscale: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # one line, like every other mistake: the command, what was wrong, where help is
        where = exc.ctx.command_path if exc.ctx is not None else "genscale"
        click.echo(f"genscale: error: {exc.format_message()} (see '{where} --help')",
                   err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"genscale: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
