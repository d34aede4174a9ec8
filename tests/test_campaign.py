"""Campaigns: the design, resuming after an interruption, and the exported corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genscale.engine.campaign import design, load_campaign, run_campaign
from genscale.errors import UserError
from genscale.store.corpus import export_corpus
from genscale.store.rundir import RunDirectory

from .conftest import write

COUNT_READS = """\
name: count
inputs: {reads_1: first mates, reads_2: second mates}
steps:
  - name: count
    app: zcat
    tools: [zcat, wc]
    inputs: {r1: "{dataset.reads_1}", r2: "{dataset.reads_2}"}
    outputs: {n: count.txt}
    command: zcat {inputs.r1} {inputs.r2} | wc -l > {outputs.n} && sleep 0.5
"""

SPEC = """\
name: tiny
seed: 3
interval_s: 0.2
keep_work: KEEP
cells:
  - workflow: WORKFLOW
    kind: dna
    genome_bases: 20000
    pairs: [1000, 3000]
    presets: [clean, degraded]
    seeds: 1
    jitter: 0.3
"""


def spec_file(tmp_path: Path, keep: bool = False) -> Path:
    workflow = write(tmp_path / "count.yaml", COUNT_READS)
    return write(tmp_path / "tiny.yaml", SPEC.replace("WORKFLOW", str(workflow))
                 .replace("KEEP", "true" if keep else "false"))


def test_design_is_a_stable_shuffle_of_the_cross(tmp_path: Path) -> None:
    spec = load_campaign(spec_file(tmp_path))
    points = design(spec)
    assert len(points) == 4
    assert {(p.pairs, p.preset) for p in points} == {(1000, "clean"), (1000, "degraded"),
                                                     (3000, "clean"), (3000, "degraded")}
    assert [p.point_id for p in design(spec)] == [p.point_id for p in points]
    degraded = next(p for p in points if p.preset == "degraded")
    # jittered around the preset's -8, within +-30%
    assert -10.4 <= degraded.knobs["quality_shift"] <= -5.6


def test_campaign_resumes_and_exports(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    out = tmp_path / "campaign"
    first = run_campaign(spec, out, limit=3)
    assert [o.status for o in first] == ["succeeded"] * 3
    # a second invocation runs only what is left
    second = run_campaign(spec, out)
    assert len(second) == 1 and second[0].status == "succeeded"
    assert run_campaign(spec, out) == []
    # each closed point freed its work directory and its dataset
    for outcome in first + second:
        assert not (outcome.run_dir / "work").exists()
        info = RunDirectory(outcome.run_dir).read_run_info()
        assert not Path(info["dataset"]["path"]).exists()
    corpus = tmp_path / "corpus"
    export_corpus(out, corpus)
    tasks = pd.read_csv(corpus / "tasks.csv")
    assert len(tasks) == 4 and set(tasks["pairs"]) == {1000, 3000}
    assert tasks["knob.quality_shift"].notna().sum() == 2  # only the degraded points
    workflows = pd.read_csv(corpus / "workflows.csv")
    assert (workflows["makespan_s"] > 0).all()
    # what else the machine did meanwhile: the manager's own bit, at least
    assert workflows["background_cores"].between(0, 2).all()
    # the input grows with the read pairs
    by_pairs = workflows.groupby("pairs")["input_bytes"].mean()
    assert by_pairs[3000] > 2 * by_pairs[1000]
    features = pd.read_csv(corpus / "features.csv")
    assert features["fastq_1.reads"].tolist() == pytest.approx(
        workflows.set_index("run_id").loc[features["run_id"], "pairs"].tolist(), rel=0.05)
    meta = json.loads((corpus / "corpus.json").read_text())
    assert meta["runs"] == 4 and set(meta["sha256"]) >= {"tasks.csv", "samples.parquet"}


def test_interrupted_point_is_resumed_not_rerun(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, keep=True)
    out = tmp_path / "campaign"
    [done] = run_campaign(spec, out, limit=1)
    # as a SIGKILLed manager leaves it: the run open, the point not closed
    (done.run_dir / "features.json").unlink()
    run = RunDirectory(done.run_dir)
    info = run.read_run_info()
    run.write_run_info({**info, "status": "running"})
    [again] = run_campaign(spec, out, limit=1)
    assert again.point.point_id == done.point.point_id and again.status == "succeeded"
    info = RunDirectory(done.run_dir).read_run_info()
    assert len(info["resumed"]) == 1
    assert RunDirectory(done.run_dir).tasks()["attempt"].tolist() == [1]


def test_bad_spec_is_one_clear_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: x\ncells:\n  - workflow: dnaseq\n"
                                       "    kind: dna\n    pairs: [10]\n")
    with pytest.raises(UserError, match="pairs"):
        load_campaign(bad)
