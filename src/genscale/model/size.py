"""Which column of a user's table is the input's size, for the scaling law.

The law (time = a * size^b * ...) is what carries a model to inputs larger than any it
was trained on; without a size it is flat, and a table from another engine rarely names
its size `read_bases`. The choice, in order: `--size`; one of our own size columns; a
numeric feature whose name says size (TaskInputSize, input_bytes, n_reads, ...), the one
whose log follows the target's most closely where several do; else the positive numeric
feature whose log follows the target's log most closely, if that is clear (|r| >= 0.5).
The reason is kept with the choice and said on stderr.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

OURS = ("read_bases", "dataset_input_bytes", "input_bytes")
# words of a column name that say "how much input": bytes, bases, reads, pairs, size
_SIZE_NAME = re.compile(r"(size|bytes|bases|reads|pairs|length_total)", re.IGNORECASE)
CLEAR_CORRELATION = 0.5


def _log_correlation(feature: pd.Series, target: pd.Series) -> float:
    x = pd.to_numeric(feature, errors="coerce")
    y = pd.to_numeric(target, errors="coerce")
    keep = (x > 0) & (y > 0)
    if keep.sum() < 3 or x[keep].nunique() < 2:
        return 0.0
    r = np.corrcoef(np.log(x[keep]), np.log(y[keep]))[0, 1]
    return float(r) if np.isfinite(r) else 0.0


def choose_size(table: pd.DataFrame, target: str, features: list[str]
                ) -> tuple[str | None, str]:
    """(the size column or None, why), among `features` (see the module's docstring)."""
    for column in OURS:
        if column in features:
            return column, f"{column}: GenScale's own size column"
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(table[c])]
    named = [c for c in numeric if _SIZE_NAME.search(c)]
    scored = {c: _log_correlation(table[c], table[target]) for c in (named or numeric)}
    if named:
        best = max(named, key=lambda c: scored[c])
        return best, (f"{best}: its name says size (log correlation with {target} "
                      f"{scored[best]:.2f})")
    if scored:
        best = max(scored, key=lambda c: scored[c])
        if scored[best] >= CLEAR_CORRELATION:
            return best, (f"{best}: no column is named as a size; its log follows "
                          f"{target}'s most closely (r {scored[best]:.2f})")
    return None, ("no size column: none is named as a size and none follows the target "
                  "clearly; the law is flat in size (give --size COLUMN)")
