"""The local engine: failures, budgets, cancellation and the index cache, with real processes."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from genscale.engine.runner import RunSettings, run_workflow
from genscale.errors import UserError
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, write

FAILING = """\
name: failing
steps:
  - name: ok_branch
    app: sh
    tools: [sh]
    outputs: {out: ok.txt}
    command: sleep 0.3 && echo fine > {outputs.out}
  - name: breaks
    app: sh
    tools: [sh]
    outputs: {out: broken.txt}
    command: echo 'something went wrong' >&2 && exit 1
  - name: after_break
    app: sh
    tools: [cat]
    inputs: {x: broken.txt}
    outputs: {out: never.txt}
    command: cat {inputs.x} > {outputs.out}
"""


def test_failed_step_skips_dependents_and_finishes_the_rest(tmp_path: Path,
                                                            env_no_color: dict[str, str]) -> None:
    spec = write(tmp_path / "failing.yaml", FAILING)
    proc = subprocess.run([GENSCALE, "run", str(spec), "--runs-dir", str(tmp_path / "runs"),
                           "--interval", "0.1", "--no-plots"], capture_output=True, text=True,
                          env=env_no_color, timeout=120)
    assert proc.returncode == 1
    run_dir = Path(proc.stdout.strip())
    tasks = RunDirectory(run_dir).tasks().set_index("task_id")
    assert tasks.loc["ok_branch", "status"] == "succeeded"
    assert tasks.loc["breaks", "status"] == "failed"
    assert tasks.loc["breaks", "exit_code"] == 1
    assert tasks.loc["after_break", "status"] == "skipped"
    assert "something went wrong" in proc.stderr  # the tail of its stderr is shown
    info = RunDirectory(run_dir).read_run_info()
    assert info["status"] == "failed"
    assert info["failures"][0]["stderr_tail"] == ["something went wrong"]
    assert "upstream breaks" in info["skipped"]["after_break"]


def test_core_budget_serialises_tasks(tmp_path: Path) -> None:
    spec = write(tmp_path / "two.yaml", """\
name: two
steps:
  - name: a
    app: sh
    outputs: {o: a}
    command: sleep 0.4 && touch {outputs.o}
  - name: b
    app: sh
    outputs: {o: b}
    command: sleep 0.4 && touch {outputs.o}
""")
    for cores, overlap in ((1, False), (2, True)):
        result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / f"r{cores}",
                                                           interval_s=0.1, cores=cores))
        tasks = RunDirectory(result.run_dir).tasks().set_index("task_id")
        a, b = tasks.loc["a"], tasks.loc["b"]
        overlaps = a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"]
        assert overlaps == overlap, cores


def test_max_threads_caps_every_step_and_a_resume_keeps_it(tmp_path: Path) -> None:
    spec = write(tmp_path / "threads.yaml", """\
name: threads
steps:
  - name: wide
    app: sh
    threads: 4
    outputs: {o: wide.txt}
    command: echo {threads} > {outputs.o}
  - name: narrow
    app: sh
    outputs: {o: narrow.txt}
    command: echo {threads} > {outputs.o}
""")
    result = run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / "runs",
                                                       interval_s=0.1, max_threads=2))
    run = RunDirectory(result.run_dir)
    assert (run.work / "wide.txt").read_text().strip() == "2"
    assert (run.work / "narrow.txt").read_text().strip() == "1"
    tasks = run.tasks().set_index("task_id")
    assert tasks.loc["wide", "threads_requested"] == 2
    info = run.read_run_info()
    assert info["settings"]["max_threads"] == 2
    assert [s["threads"] for s in info["workflow"]["spec"]["steps"]] == [2, 1]
    with pytest.raises(UserError, match="--max-threads"):
        run_workflow(str(spec), None, RunSettings(runs_dir=tmp_path / "runs", max_threads=0))


def test_interrupt_cancels_and_keeps_everything(tmp_path: Path,
                                                env_no_color: dict[str, str]) -> None:
    spec = write(tmp_path / "slow.yaml", """\
name: slow
steps:
  - name: quick
    app: sh
    outputs: {o: q}
    command: touch {outputs.o}
  - name: long
    app: sleep
    inputs: {q: q}
    outputs: {o: l}
    command: sleep 60
  - name: later
    app: sh
    inputs: {l: l}
    outputs: {o: z}
    command: touch {outputs.o}
""")
    proc = subprocess.Popen([GENSCALE, "run", str(spec), "--runs-dir", str(tmp_path / "runs"),
                             "--interval", "0.1", "--no-plots"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_no_color)
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until `long` is running
        found = list(runs.glob("slow-*/logs/long.err"))
        if found:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    run = RunDirectory(Path(out.strip()))
    tasks = run.tasks().set_index("task_id")
    assert tasks.loc["quick", "status"] == "succeeded"
    assert tasks.loc["long", "status"] == "cancelled"
    assert tasks.loc["long", "wall_s"] < 30
    assert tasks.loc["later", "status"] == "cancelled"
    assert (run.samples()["task_id"] == "long").sum() >= 3
    assert run.read_run_info()["status"] == "interrupted"
    assert (run.path / "tasks.parquet").is_file()


CACHED = """\
name: cached
inputs: {}
steps:
  - name: build_index
    app: sh
    tools: [sh]
    cache: true
    version: echo indexer 1.0
    inputs: {source: "{params.source}"}
    outputs: {index: idx/index.txt}
    command: mkdir -p idx && wc -c < {inputs.source} > {outputs.index}
  - name: use
    app: sh
    tools: [cat]
    inputs: {index: idx/index.txt}
    outputs: {o: used.txt}
    command: cat {inputs.index} > {outputs.o}
params:
  source: SOURCE
"""


def test_index_steps_are_cached_by_content(tmp_path: Path) -> None:
    source = write(tmp_path / "ref.fa", ">a\nACGT\n")
    spec = write(tmp_path / "cached.yaml", CACHED.replace("SOURCE", str(source)))
    settings = RunSettings(runs_dir=tmp_path / "runs", interval_s=0.1)

    def statuses() -> tuple[str, str]:
        result = run_workflow(str(spec), None, settings)
        assert result.outcome.ok
        tasks = RunDirectory(result.run_dir).tasks().set_index("task_id")
        used = (result.run_dir / "work" / "used.txt").read_text().strip()
        return str(tasks.loc["build_index", "status"]), used

    assert statuses() == ("succeeded", "8")
    assert statuses() == ("skipped", "8")  # second run: from the cache
    source.write_text(">a\nACGTACGT\n")  # a changed reference rebuilds
    assert statuses() == ("succeeded", "12")
    assert statuses() == ("skipped", "12")


def test_a_parameter_the_index_does_not_use_keeps_its_cache(tmp_path: Path) -> None:
    """An index of the same reference is the same whatever else the run's parameters say
    (0.10.0 keyed it on every parameter: a dataset's read length rebuilt the index)."""
    source = write(tmp_path / "ref.fa", ">a\nACGT\n")
    text = (CACHED.replace("SOURCE", str(source))
            .replace("> {outputs.index}\n", "> {outputs.index} && echo {params.label}\n")
            .replace("params:\n", "params:\n  label: x\n  reads: r1\n"))
    spec = write(tmp_path / "cached.yaml", text)
    settings = RunSettings(runs_dir=tmp_path / "runs", interval_s=0.1)

    def status(**params: str) -> str:
        result = run_workflow(str(spec), None, settings, params)
        assert result.outcome.ok
        return str(RunDirectory(result.run_dir).tasks().set_index("task_id")
                   .loc["build_index", "status"])

    assert status() == "succeeded"
    assert status(reads="r2") == "skipped"  # not in the index's command: the cache holds
    assert status(label="y") == "succeeded"  # in its command: built again


@pytest.mark.slow
def test_user_errors_are_one_line(tmp_path: Path, env_no_color: dict[str, str]) -> None:
    cases = [
        (["run", "no-such-workflow"], "no such workflow file, and not a catalog name"),
        (["run", "dnaseq", "--dataset", str(tmp_path)], "not a dataset directory"),
        (["run", "dnaseq", "--interval", "0"], "--interval: expected a positive number"),
        (["run", "dnaseq", "--executor", "pbs"], "expected one of local, slurm, kubernetes"),
        (["report", str(tmp_path)], "not a run directory"),
    ]
    for args, message in cases:
        proc = subprocess.run([GENSCALE, *args], capture_output=True, text=True,
                              env=env_no_color)
        assert proc.returncode == 2, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("bad", ["--pairs=0", "--gc=0.95", "--read-length=400"])
def test_synth_rejects_bad_knobs(tmp_path: Path, bad: str) -> None:
    proc = subprocess.run([GENSCALE, "data", "synth", "--out", str(tmp_path / "d"), bad],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("genscale: error: --")
