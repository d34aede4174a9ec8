"""The one reading of a measured number that every importer shares.

A measurement is finite, not negative and small enough to be stored as a 64-bit integer
(bytes under 8 EiB, seconds under 290 billion years): anything else in a file is a
mistake in the file, and the importer says so with the file, line and column.
"""

from __future__ import annotations

import math

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
