"""The keys of a fitted group, in one place: what `model.groups.json.gz` holds per group.

Plain data (numbers, lists, strings, dicts; tree ensembles as the arrays of `model.trees`),
so a bundle is read without running code. These TypedDicts name each key and what it is;
the estimator builds them, `model.bundle` checks them on load, and a test holds every key a
fit writes to this list.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class LawPilot(TypedDict):
    """The law scaled by a pilot run's time: y ~ law(size) * (pilot / e^center)."""

    column: str  # the pilot column, e.g. pilot.bwa_mem.wall_s
    center: float  # the training rows' mean log pilot value
    range: list[float]  # [min, max] of the centred log pilot values seen


class Typical(TypedDict):
    """The typical value of a row's size on its machine: what the tail is measured from."""

    law: list[float]  # [c0, c1, b, machine factors...] of y = (c0 + c1 * size^b) * e^(m.x)
    machines: list[str]  # the machine indicator columns of the law's factors
    size_offset: float  # the law is on the size less this


class Beyond(TypedDict):
    """How a prediction grows past the largest training size (`estimator.fit_beyond`)."""

    line: list[float]  # [a, b] of the straight line a + b * size, on the times
    size_max: float  # the largest training size
    growth: str  # "law" or "line": which growth predictions take past size_max
    bias: dict[str, float]  # each growth's median log error, smaller 70% to larger 30%
    # how far (in logs) a prediction past size_max moves towards the line; absent (0) in
    # bundles written before it was kept
    line_weight: NotRequired[float]
    # the median of what rows' own features (machine, pilot, quality) add to their log
    # predictions at the largest training sizes
    own_level: NotRequired[float]
    # the law's growth past size_max is at least its tangent's there
    # (`estimator._floored_growth_log`); absent (False) in bundles written before it
    tangent_floor: NotRequired[bool]


class Tail(TypedDict, total=False):
    """The tail classifier: P(a run takes over tail_k x its typical value)."""

    classifier: Any  # a plain tree ensemble (`model.trees`), or None with too few tail runs
    threshold: float  # a probability at or over this is called tail
    positives: int  # tail runs in the training rows
    features: list[str]  # the classifier's columns, in order
    bins: list[list[float]]  # each column's upper bin edges (`estimator.bin_edges`)


class GroupState(TypedDict, total=False):
    """One fitted group (a workflow's step, or a whole workflow)."""

    law: list[float]  # [c0, c1, b, machine factors...] on the size less size_offset
    law_factors: list[str]  # machine indicator columns that scale the law
    law_pilot: LawPilot | None  # the pilot that scales the law, if any
    pilot_features: bool  # whether the learner may see pilot columns
    size_offset: float  # the law is on the size less this (0: the size itself)
    learner: str  # "trees" or "ridge": what fits the law's log residuals
    quality_features: list[str]  # the learner's columns (the intensive features)
    residual_model: Any  # the learner: plain trees (`model.trees`), a ridge dict, or None
    quantiles: dict[str, float]  # out-of-fold log residual quantiles, by "0.5", "0.9", ...
    typical: Typical  # what the tail is measured from
    beyond: Beyond | None  # growth past the training sizes; None without a size
    tail: Tail | None  # the tail classifier
    n_train: int  # training rows
    baselines: dict[str, Any]  # the median and the straight line, for the metrics
    composed: dict[str, Any]  # a whole workflow replayed from its steps (`model.compose`)
