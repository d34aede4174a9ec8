"""The one reading of a measured number that every importer shares.

A measurement is finite, not negative and small enough to be stored as a 64-bit integer
(bytes under 8 EiB, seconds under 290 billion years): anything else in a file is a
mistake in the file, and the importer says so with the file, line and column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from genscale.errors import UserError

LARGEST = float(2**62)


def measure(text: str) -> float:
    """The number in `text`; ValueError saying what was expected otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    return check_measure(value, text)


def check_measure(value: float, text: object = None) -> float:
    """`value` if it is a measurement, else ValueError naming what was given."""
    shown = repr(text) if text is not None else repr(value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {shown}")
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {shown}")
    if value > LARGEST:
        raise ValueError(f"expected a number below 2^62, got {shown}")
    return value


_BUILTIN_EXPECTED: dict[Callable[[str], Any], str] = {
    float: "a number", int: "a whole number"}


class FieldReader:
    """Typed access to one row of a trace, every bad value one error naming file, line and
    column; `missing`: the texts that mean no value."""

    def __init__(self, path: Path, line: int, values: dict[str, str],
                 missing: Collection[str]) -> None:
        self.path, self.line, self.values, self.missing = path, line, values, missing

    def get(self, column: str, convert: Callable[[str], Any], measured: bool = True) -> Any:
        """The column's value, None where missing; `measured` values must be finite and
        not negative (an exit status may be anything)."""
        text = self.values.get(column, "")
        if text in self.missing:
            return None
        try:
            value = convert(text)
        except (ValueError, OverflowError) as exc:
            # the builtins' own messages ("could not convert string to float: ...") repeat
            # the value; ours say what was expected
            expected = _BUILTIN_EXPECTED.get(convert) or str(exc)
            raise UserError(f"{self.path}:{self.line}: {column}: expected {expected}, "
                            f"got {text!r}") from None
        if measured and value is not None:
            try:
                check_measure(value, text)
            except ValueError as exc:
                raise UserError(f"{self.path}:{self.line}: {column}: {exc}") from None
        return value
