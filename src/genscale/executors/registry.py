"""Executors by name: the only way the engine and the CLI reach a concrete executor.

The built-in executors are imported when first asked for. Another package adds one with an
entry point in the group `genscale.executors` (name = "module:Class"), or from Python with
`register`; either way the class follows `genscale.executors.base.Executor`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from genscale.errors import UserError
from genscale.executors.base import Executor

ENTRY_POINT_GROUP = "genscale.executors"
_BUILTIN = {
    "local": "genscale.executors.local:LocalExecutor",
    "slurm": "genscale.executors.slurm:SlurmExecutor",
    "kubernetes": "genscale.executors.kubernetes:KubernetesExecutor",
}
_registered: dict[str, type[Executor] | str] = dict(_BUILTIN)
_plugins_read = False


def register(name: str, executor: type[Executor] | str) -> None:
    """Make `executor` (a class, or "module:Class" imported when first used) the one
    `--executor NAME` runs (docs/executors.md).

        genscale.register_executor("mycluster", "mypackage.mycluster:MyClusterExecutor")
    """
    _registered[name] = executor


def names() -> list[str]:
    """Every executor's name, the built-in ones first."""
    _read_plugins()
    return list(_registered)


def get(name: str) -> type[Executor]:
    """The executor class registered as `name`; UserError naming the choices if none."""
    _read_plugins()
    target = _registered.get(name)
    if target is None:
        raise UserError(f"--executor {name}: expected one of {', '.join(_registered)}")
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        if not (isinstance(target, type) and issubclass(target, Executor)):
            raise TypeError(f"executor {name!r}: {_registered[name]} is not an Executor")
        _registered[name] = target
    return target


def executors() -> list[type[Executor]]:
    """Every executor class (importing them all)."""
    return [get(name) for name in names()]


def _read_plugins() -> None:
    global _plugins_read
    if _plugins_read:
        return
    _plugins_read = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _registered.setdefault(entry.name, entry.value)
