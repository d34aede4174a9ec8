"""Settings dataclasses become click options: one documented field, one flag."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from genscale.errors import UserError
from genscale.executors import registry
from genscale.monitor.sampler import check_interval

F = TypeVar("F", bound=Callable[..., Any])


class IntervalSeconds(click.ParamType):
    """A sampling interval, checked as the monitor checks it (`check_interval`)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
            check_interval(seconds)
        except ValueError:
            self.fail(f"expected a number of seconds, got {value!r}", param, ctx)
        except UserError as exc:
            self.fail(str(exc).removeprefix("--interval: "), param, ctx)
        return seconds


INTERVAL = IntervalSeconds()


class Count(click.ParamType):
    """A positive count with an optional decimal suffix: 24M, 3.1G, 150, 2.5k."""

    name = "count"
    SUFFIXES: typing.ClassVar[dict[str, int]] = {"": 1, "K": 10**3, "M": 10**6,
                                                 "G": 10**9, "T": 10**12}

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            suffix = text[-1:].upper() if text[-1:].isalpha() else ""
            try:
                number = float(text[:len(text) - len(suffix)]) * self.SUFFIXES[suffix]
            except (ValueError, KeyError):
                self.fail(f"expected a count such as 24M or 3.1G, got {value!r}", param, ctx)
        if not 0 < number < 1e18:  # also NaN
            self.fail(f"expected a count above 0 such as 24M or 3.1G, got {value!r}", param,
                      ctx)
        return number


COUNT = Count()
PORT = click.IntRange(1, 65535)


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a field's annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _click_type(args[0])
    if origin is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)]), False
    if annotation is bool:
        return bool, True
    if annotation is Path:
        return click.Path(path_type=Path), False
    return annotation, False


def dataclass_options(cls: type, skip: tuple[str, ...] = (), prefix: str = ""
                      ) -> Callable[[F], F]:
    """Add one `--field-name` option per field of dataclass `cls`; a field's metadata gives
    its help and may name its flag (`flag`), e.g. `--interval` for `interval_s`. The
    command receives each value as `prefix` + the field's name: two dataclasses with a
    field of the same name (`poll_s` of SLURM and of Kubernetes) keep their own values."""
    hints = typing.get_type_hints(cls)

    def decorate(func: F) -> F:
        for f in reversed(dataclasses.fields(cls)):
            if f.name in skip:
                continue
            kind, is_flag = _click_type(hints[f.name])
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            default = f.default if f.default is not dataclasses.MISSING else None
            help_text = f.metadata.get("help", "")
            if is_flag:
                decl = f"{flag}/--no-{flag[2:]}"
                func = click.option(decl, prefix + f.name, default=default,
                                    show_default=True, help=help_text)(func)
            else:
                func = click.option(flag, prefix + f.name, type=kind, default=default,
                                    show_default=default is not None, help=help_text)(func)
        return func

    return decorate


def executor_options(func: F) -> F:
    """Every registered executor's own settings as flags (`dataclass_options` of its
    `settings_class`, values under its `flag_prefix`): --slurm-*, --k8s-*, a plugin's."""
    for cls in reversed(registry.executors()):
        if cls.settings_class is not None:
            func = dataclass_options(cls.settings_class, prefix=cls.flag_prefix)(func)
    return func


def build(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
