"""Numbers as QC tools write them, in any locale and version."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from genscale.quality.errors import ReportError

_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
MISSING = {"", "?", "NA", "N/A", "NaN", "nan", "-", "null", "None"}

Value = int | float | str | None


def number(text: str) -> Value:
    """'42' -> 42, '0.5' or '0,5' (decimal comma) -> 0.5, '99.84%' -> 99.84, '1,234,567'
    -> 1234567; missing markers and NaN however written (`-nan`) -> None; anything else
    stays text."""
    t = text.strip().rstrip("%").strip()
    if t in MISSING:
        return None
    if _THOUSANDS.match(t) and t.count(",") > 1:
        t = t.replace(",", "")
    elif _DECIMAL_COMMA.match(t):
        t = t.replace(",", ".")
    try:
        return int(t)
    except ValueError:
        pass
    try:
        value = float(t)
    except ValueError:
        return text.strip()
    # C and C++ tools print an undefined ratio as `-nan` (Falco, over no reads): missing
    return None if math.isnan(value) else value


def measured_row(path: Path, line_number: int, header: list[str], fields: list[str],
                 hint: str = "", missing_ok: bool = False) -> dict[str, Any]:
    """A table row of a name, then numbers of 0 or more (coverage and depth tables), as
    {column: value}; ReportError naming the line (and column) when it has another number of
    fields than `header` (`hint` said after it), or text or a negative in a number's place.
    `missing_ok`: a missing marker (`N/A`) is None."""
    if len(fields) != len(header):
        raise ReportError(path, f"line {line_number}: {len(fields)} fields where the header "
                                f"has {len(header)}{hint}")
    row: dict[str, Any] = {header[0]: fields[0]}
    for column, text in zip(header[1:], fields[1:], strict=True):
        value = number(text)
        if value is None and missing_ok:
            row[column] = None
        elif not isinstance(value, int | float) or value < 0:
            raise ReportError(path, f"line {line_number}: {column}: expected a number of 0 "
                                    f"or more, got {text!r}")
        else:
            row[column] = value
    return row
