"""Which inputs lie outside what a bundle was trained on.

model.json keeps each numeric feature's training range (`feature_ranges`: [min, max]). A
row with a value beyond it is an extrapolation: the law may still carry it (that is what
the size law is for), but the user should know, per feature and per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EXTRAPOLATED = "extrapolated"  # the output column: the row's features out of range


@dataclass(frozen=True)
class OutOfRange:
    """One feature's rows beyond its training range."""

    feature: str
    rows: int
    low: float
    high: float
    seen_min: float
    seen_max: float

    def message(self) -> str:
        return (f"{self.feature}: {self.rows} row(s) outside the training range "
                f"[{self.low:.6g}, {self.high:.6g}] (given {self.seen_min:.6g} to "
                f"{self.seen_max:.6g}); predictions there are extrapolated")


def outside_training(meta: dict[str, Any], table: pd.DataFrame
                     ) -> tuple[pd.Series, list[OutOfRange]]:
    """(per row: its out-of-range features joined by ';', '' where none; per feature: a
    summary), from model.json's `feature_ranges`. Missing values are not out of range."""
    flags = pd.Series("", index=table.index, dtype="object")
    found = []
    for feature, (low, high) in (meta.get("feature_ranges") or {}).items():
        if feature not in table.columns or low is None or high is None:
            continue
        values = pd.to_numeric(table[feature], errors="coerce").to_numpy(dtype=float)
        slack = 1e-9 * max(abs(low), abs(high), 1.0)
        out = (values < low - slack) | (values > high + slack)
        if not out.any():
            continue
        flags[out] = flags[out] + np.where(flags[out] == "", "", ";") + feature
        given = values[out]
        found.append(OutOfRange(feature, int(out.sum()), float(low), float(high),
                                float(given.min()), float(given.max())))
    return flags, found
