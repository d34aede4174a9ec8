"""How a model is fitted: a dataclass whose fields are the flags of `genscale model train`
(apart from the estimator, so the CLI can list them without importing scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

Extrapolation = Literal["linear", "law"]


@dataclass
class FitOptions:
    """How a group is fitted; each field is a flag of `genscale model train`.

        bundle = genscale.Bundle.train(table, "wall_s", options=genscale.FitOptions(seed=2))
    """

    tail_k: float = field(default=1.5, metadata={
        "help": "a run is in the tail above this many times the typical value for its size"})
    tail_recall: float = field(default=0.8, metadata={
        "help": "the tail threshold is the highest that keeps this out-of-fold recall"})
    folds: int = field(default=5, metadata={"help": "folds of the grouped cross-validation"})
    seed: int = field(default=1, metadata={"help": "random seed of the trees and folds"})
    extrapolation: Extrapolation = field(default="linear", metadata={
        "help": "how a prediction grows past the largest training size: 'linear' (never "
                "slower than the law's tangent there, and towards the straight line on the "
                "times: steps of minutes and more, as nf-core's) or 'law' (the fitted law's "
                "own growth: steps of seconds whose cost per read still falls, as "
                "datasets/corpus-v1's; 0.10.0's)"})

    def __post_init__(self) -> None:
        if self.extrapolation not in get_args(Extrapolation):
            raise ValueError(f"FitOptions.extrapolation: expected one of "
                             f"{', '.join(get_args(Extrapolation))}, got {self.extrapolation!r}")
