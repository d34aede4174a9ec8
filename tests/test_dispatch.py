"""The engine's decisions, fast: dispatch within the core and memory budget, backfill,
retries of failed and lost tasks, and an interrupt, through the real runner and run
directory with an executor that runs nothing (tests/fake_executor.py). The policies'
pure functions are tested alone too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genscale.engine.policies import (
    Fifo,
    SchedulingState,
    ShortestPredictedFirst,
    Usage,
    admissions,
    fits,
)
from genscale.engine.runner import RunSettings, run_workflow
from genscale.executors import registry
from genscale.store.rundir import RunDirectory

from .conftest import check_run_json, write
from .fake_executor import LOST, FakeExecutor, Script, install


@pytest.fixture
def fake() -> Iterator[type[FakeExecutor]]:
    yield FakeExecutor
    registry._registered.pop(FakeExecutor.name, None)


def _spec(tmp_path: Path, steps: list[tuple[str, int, str, list[str]]]) -> str:
    """A spec of (name, threads, memory, names of the steps it reads) steps."""
    lines = ["name: fake", "steps:"]
    for name, threads, memory, deps in steps:
        lines += [f"  - name: {name}", "    app: sh", f"    threads: {threads}",
                  f"    memory: {memory}"]
        if deps:
            lines.append("    inputs: {" + ", ".join(f"{d}: {d}.out" for d in deps) + "}")
        lines += ["    outputs: {out: " + name + ".out}", "    command: touch {outputs.out}"]
    return str(write(tmp_path / "fake.yaml", "\n".join(lines) + "\n"))


def _run(tmp_path: Path, spec: str, **settings: object) -> RunDirectory:
    run_settings = RunSettings(executor="fake", runs_dir=tmp_path / "runs", interval_s=0.5,
                               use_cache=False, **settings)  # type: ignore[arg-type]
    return RunDirectory(run_workflow(spec, None, run_settings).run_dir)


def test_dispatch_keeps_within_the_cores_and_memory(tmp_path: Path, fake: type) -> None:
    install(Script(polls={f"t{i}": 3 for i in range(6)}))
    spec = _spec(tmp_path, [(f"t{i}", 1, "1G", []) for i in range(6)])
    run = _run(tmp_path, spec, cores=2, memory="8G")
    assert fake.last.peak_cores == 2  # two at a time, never three
    assert set(run.tasks()["status"]) == {"succeeded"}
    run = _run(tmp_path, spec, cores=4, memory="2G", run_id="by-memory")
    assert fake.last.peak_memory_bytes == 2 * 2**30  # memory allows two of the four cores


def test_a_task_that_does_not_fit_waits_while_later_ones_backfill(tmp_path: Path,
                                                                 fake: type) -> None:
    install(Script(polls={"long": 5, "wide": 1, "small": 1}))
    spec = _spec(tmp_path, [("long", 1, "1G", []), ("wide", 2, "1G", []),
                            ("small", 1, "1G", [])])
    run = _run(tmp_path, spec, cores=2, memory="8G")
    # long starts; wide (2 cores) cannot start beside it; small, later in the plan, can
    order = [task for task, _ in fake.last.submitted]
    assert order == ["long", "small", "wide"]
    tasks = run.tasks().set_index("task_id")
    assert tasks.loc["wide", "start_time"] >= tasks.loc["long", "end_time"]


def test_a_task_larger_than_the_budget_runs_alone(tmp_path: Path, fake: type) -> None:
    install(Script(polls={"huge": 2, "other": 2}))
    spec = _spec(tmp_path, [("huge", 8, "1G", []), ("other", 1, "1G", [])])
    run = _run(tmp_path, spec, cores=2, memory="8G")
    assert set(run.tasks()["status"]) == {"succeeded"}
    assert fake.last.peak_cores == 2  # huge counted as the whole budget, other after it


def test_failed_and_lost_tasks_run_again_up_to_the_retries(tmp_path: Path,
                                                           fake: type) -> None:
    install(Script(outcomes={"flaky": [1, 0], "lost": [LOST, 0], "broken": [3, 3],
                             "after": [0]}))
    spec = _spec(tmp_path, [("flaky", 1, "1G", []), ("lost", 1, "1G", []),
                            ("broken", 1, "1G", []), ("after", 1, "1G", ["broken"])])
    run = _run(tmp_path, spec, cores=2, retries=1)
    tasks = run.tasks().set_index("task_id")
    assert tasks.loc["flaky", "status"] == "succeeded" and tasks.loc["flaky", "attempt"] == 2
    assert tasks.loc["lost", "status"] == "succeeded" and tasks.loc["lost", "attempt"] == 2
    assert tasks.loc["broken", "status"] == "failed" and tasks.loc["broken", "attempt"] == 2
    assert tasks.loc["after", "status"] == "skipped"
    check_run_json(run)
    info = run.read_run_info()
    assert info["status"] == "failed"
    assert [r["attempt"] for r in info["retried"]["flaky"]] == [1]
    assert info["retried"]["lost"][0]["lost"] is True
    assert "upstream broken" in info["skipped"]["after"]


def test_no_retry_without_retries(tmp_path: Path, fake: type) -> None:
    install(Script(outcomes={"flaky": [1, 0]}))
    run = _run(tmp_path, _spec(tmp_path, [("flaky", 1, "1G", [])]))
    row = run.tasks().iloc[0]
    assert row["status"] == "failed" and row["attempt"] == 1 and row["exit_code"] == 1


def test_an_interrupt_cancels_what_runs_and_what_waits(tmp_path: Path, fake: type) -> None:
    import os
    import signal

    install(Script(polls={"first": 10_000}))
    spec = _spec(tmp_path, [("first", 1, "1G", []), ("second", 1, "1G", ["first"]),
                            ("third", 2, "1G", [])])
    original = FakeExecutor.create.__func__  # type: ignore[attr-defined]

    def create(cls: type, context: object, settings: object) -> FakeExecutor:
        executor = original(cls, context, settings)
        # SIGINT to ourselves once the first job is submitted: the engine's handler
        executor.on_submit = lambda job: os.kill(os.getpid(), signal.SIGINT)
        return executor

    FakeExecutor.create = classmethod(create)  # type: ignore[assignment,method-assign]
    try:
        run = _run(tmp_path, spec, cores=2)
    finally:
        FakeExecutor.create = classmethod(original)  # type: ignore[assignment,method-assign]
    tasks = run.tasks().set_index("task_id")
    assert set(tasks["status"]) == {"cancelled"}
    assert run.read_run_info()["status"] == "interrupted"
    assert "first" in fake.last.cancelled


def test_fits_is_the_budget_rule() -> None:
    budget = Usage(4, 8 * 2**30)
    assert fits(2, 2**30, Usage(2, 2**30), budget, anything_running=True)
    assert not fits(3, 2**30, Usage(2, 2**30), budget, anything_running=True)
    assert not fits(1, 8 * 2**30, Usage(1, 2**30), budget, anything_running=True)
    assert fits(64, 64 * 2**30, Usage(0, 0), budget, anything_running=False)
    assert not fits(64, 2**30, Usage(1, 0), budget, anything_running=True)


def test_admissions_respect_the_cap_and_the_policy() -> None:
    state = SchedulingState(arrival_rank={"a": 0, "b": 1, "c": 2},
                            predicted_s={"a": 30.0, "b": 10.0, "c": 20.0})
    everyone = dict.fromkeys("abc", 1)
    assert admissions(["c", "a", "b"], Fifo(), state, 0, 2, everyone) == ["a", "b"]
    assert admissions(["c", "a", "b"], ShortestPredictedFirst(), state, 0, 2,
                      everyone) == ["b", "c"]
    assert admissions(["a", "b"], Fifo(), state, 2, 2, everyone) == []
    # a workflow with nothing left to run does not hold a place
    assert admissions(["a", "b", "c"], Fifo(), state, 0, 1, {"a": 0, "b": 1}) == ["a", "b"]
    assert admissions(["a", "b", "c"], Fifo(), state, 5, None, everyone) == ["a", "b", "c"]
