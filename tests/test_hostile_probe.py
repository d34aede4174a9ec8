"""The hostile-input probe (tests/hostile_probe.py) over every command: a mistake is a
one-line error with exit 2 (1 for `quality`), never a traceback, an exit 0 or output left
behind. Each case failed on 0.10.0's code in at least one of its groups."""

from __future__ import annotations

from .hostile_probe import run_all


def test_every_bad_input_gets_one_line_and_leaves_nothing() -> None:
    outcomes = run_all()
    assert len(outcomes) >= 250
    findings = [f"{o.case.group}: {o.case.name}: {o.finding}" for o in outcomes if o.finding]
    assert findings == []
