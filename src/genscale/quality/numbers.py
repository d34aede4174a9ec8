"""Numbers as QC tools write them, in any locale and version."""

from __future__ import annotations

import re

_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
MISSING = {"", "?", "NA", "N/A", "NaN", "nan", "-", "null", "None"}

Value = int | float | str | None


def number(text: str) -> Value:
    """'42' -> 42, '0.5' or '0,5' (decimal comma) -> 0.5, '99.84%' -> 99.84, '1,234,567'
    -> 1234567; missing markers -> None; anything else stays text."""
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
        return float(t)
    except ValueError:
        return text.strip()
