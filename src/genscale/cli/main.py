"""Entry point: the command groups, and one-line errors for the user's mistakes."""

from __future__ import annotations

import importlib
import sys

import click

from genscale import __version__
from genscale.errors import SpecError, UserError

# each command's module, imported only when that command runs (or help lists them all):
# a command pays for its own imports, not for pandas, the engine and the Kubernetes
# client of the others (issue 22)
COMMANDS = {
    "run": "genscale.cli.run:run",
    "data": "genscale.cli.data:data",
    "monitor": "genscale.cli.monitor:monitor",
    "report": "genscale.cli.report:report",
    "import": "genscale.cli.importers:import_",
    "export": "genscale.cli.export:export",
    "quality": "genscale.cli.quality:quality",
    "workload": "genscale.cli.workload:workload",
    "campaign": "genscale.cli.campaign:campaign",
    "model": "genscale.cli.model:model",
    "project": "genscale.cli.project:project",
    "sim": "genscale.cli.sim:sim",
    "synth": "genscale.cli.synth:synth",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name, when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genscale")
def cli() -> None:
    """Benchmark genomics workflows: every task's CPU, memory and I/O over time."""


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
