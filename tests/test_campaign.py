"""Campaigns: the design, resuming after an interruption, and the exported corpus."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from genscale.engine.campaign import design, load_campaign, run_campaign
from genscale.errors import UserError
from genscale.store.corpus import done_points, export_corpus, file_hashes, write_features
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE, ROOT, write

pytestmark = pytest.mark.slow  # runs small campaigns end to end (20 s)

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


def spec_file(tmp_path: Path, keep: bool = False, pilot: bool = False) -> Path:
    workflow = write(tmp_path / "count.yaml", COUNT_READS)
    text = (SPEC.replace("WORKFLOW", str(workflow))
            .replace("KEEP", "true" if keep else "false"))
    return write(tmp_path / "tiny.yaml", text + ("pilot: true\n" if pilot else ""))


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


def test_a_later_cell_adds_datasets_and_leaves_the_earlier_points_alone(
        tmp_path: Path) -> None:
    first = design(load_campaign(spec_file(tmp_path)))
    text = (tmp_path / "tiny.yaml").read_text()
    later_cell = text[text.index("  - workflow:"):]
    grown = write(tmp_path / "grown.yaml",
                  text + later_cell.replace("seeds: 1", "seeds: 1\n    first_seed: 2"))
    points = design(load_campaign(grown))
    before = {p.point_id: p for p in first}
    assert len(points) == 8
    assert all(before[p.point_id] == p for p in points if p.point_id in before)
    added = sorted(p.point_id for p in points if p.point_id not in before)
    assert len(added) == 4 and all("-s2-" in pid for pid in added)
    clash = write(tmp_path / "clash.yaml", text + later_cell)
    with pytest.raises(UserError, match=r"designed twice.*first_seed"):
        design(load_campaign(clash))



def test_reruns_run_the_same_datasets_again(tmp_path: Path) -> None:
    first = design(load_campaign(spec_file(tmp_path)))
    text = (tmp_path / "tiny.yaml").read_text()
    rerun = write(tmp_path / "rerun.yaml", text + "reruns:\n  - repeats: 3\n    datasets: "
                  "['count-dna1000-degraded-s1', '*-dna3000-*']\n")
    points = design(load_campaign(rerun))
    before = {p.point_id: p for p in first}
    assert all(before[p.point_id] == p for p in points if p.point_id in before)
    added = [p for p in points if p.point_id not in before]
    assert sorted(p.point_id for p in added) == sorted(
        f"count-dna{d}-s1-r{r}" for d in ("1000-degraded", "3000-clean", "3000-degraded")
        for r in (2, 3))
    for point in added:  # the same reads: seed and knobs of the dataset's first run
        original = before[point.point_id[:-1] + "1"]
        assert (point.seed, point.knobs, point.dataset_id) == (
            original.seed, original.knobs, original.dataset_id)
    typo = write(tmp_path / "typo.yaml", text + "reruns:\n  - repeats: 2\n    datasets: "
                 "['count-dna1000-clean-s9']\n")
    with pytest.raises(UserError, match=r"reruns\[1\]: 'count-dna1000-clean-s9' names no "):
        design(load_campaign(typo))

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
    # a feature added later (as scripts/corpus_refeature.py adds one) is sealed in too
    write_features(corpus, features.assign(**{"pilot.count.wall_s": 1.0}))
    meta = json.loads((corpus / "corpus.json").read_text())
    assert meta["sha256"] == file_hashes(corpus) and meta["runs"] == 4
    assert "pilot.count.wall_s" in pd.read_csv(corpus / "features.csv").columns


def test_the_committed_corpus_matches_its_hashes() -> None:
    """What corpus.json says of the committed tables holds: nothing rewrote one unsealed."""
    corpus = ROOT / "datasets" / "corpus-v1"
    assert json.loads((corpus / "corpus.json").read_text())["sha256"] == file_hashes(corpus)


def test_a_point_s_pilot_runs_before_it_and_joins_its_features(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    outcomes = run_campaign(spec_file(tmp_path, pilot=True), out, limit=2)
    assert [o.status for o in outcomes] == ["succeeded"] * 2
    corpus = tmp_path / "corpus"
    export_corpus(out, corpus)
    features = pd.read_csv(corpus / "features.csv").set_index("run_id")
    workflows = pd.read_csv(corpus / "workflows.csv").set_index("run_id")
    for outcome in outcomes:
        point = outcome.point.point_id
        pilot = json.loads((out / "pilots" / f"{point}.json").read_text())
        assert features.loc[point, "pilot.count.wall_s"] == pytest.approx(
            pilot["pilot.count.wall_s"])
        # the command sleeps 0.5 s: a time measured, not a placeholder
        assert pilot["pilot.count.wall_s"] >= 0.5
        # the pilot ran on a sample of at most its 3,000 pairs, all of a smaller input
        assert pilot["pilot.pairs"] == pytest.approx(
            min(3000, workflows.loc[point, "pairs"]), rel=0.1)
        started = RunDirectory(outcome.run_dir).tasks()["start_time"].min()
        assert (out / "pilots" / f"{point}.json").stat().st_mtime <= started


def test_an_interrupted_pilot_keeps_nothing_and_runs_again(
        tmp_path: Path, env_no_color: dict[str, str]) -> None:
    """A pilot cut short would pass for a fast one: the campaign stops, writes no pilot
    for the point, and runs the whole pilot again when resumed."""
    spec = spec_file(tmp_path, pilot=True)
    workflow = tmp_path / "count.yaml"
    workflow.write_text(COUNT_READS.replace("sleep 0.5", "sleep 3"))
    out = tmp_path / "campaign"
    proc = subprocess.Popen([GENSCALE, "campaign", str(spec), "--out", str(out),
                             "--limit", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env_no_color)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob("genscale-pilot-*/runs/*/logs/"
                                                             "count.err")):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not list((out / "pilots").glob("*.json"))
    assert not list((out / "runs").iterdir())  # the point's own run never started
    assert not list(out.glob("genscale-pilot-*"))  # nor is the pilot's scratch left
    [again] = run_campaign(spec, out, limit=1)
    assert again.status == "succeeded"
    pilot = json.loads((out / "pilots" / f"{again.point.point_id}.json").read_text())
    assert pilot["pilot.count.wall_s"] >= 3


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


def test_campaign_continues_from_a_committed_corpus(tmp_path: Path) -> None:
    """The campaign directory is lost with its machine; the corpus carries the campaign on:
    its quiet points are not run again, a noisy one is, and the export merges both."""
    spec = spec_file(tmp_path)
    first = run_campaign(spec, tmp_path / "machine-1", limit=3)
    corpus = tmp_path / "corpus"
    export_corpus(tmp_path / "machine-1", corpus)
    # mark one point as run on a machine far busier than this one can be (the threshold is
    # above 2 cores: how busy the machine running this test is must not matter)
    workflows = pd.read_csv(corpus / "workflows.csv")
    noisy = first[0].point.point_id
    workflows.loc[workflows["point_id"] == noisy, "background_cores"] = 8.0
    workflows.to_csv(corpus / "workflows.csv", index=False)
    skip = done_points(corpus, max_background_cores=4.0)
    assert skip == {o.point.point_id for o in first[1:]}

    second = run_campaign(spec, tmp_path / "machine-2", skip=skip)
    rerun = {o.point.point_id for o in second}
    assert noisy in rerun and len(rerun) == 2 and not rerun & skip
    summary = export_corpus(tmp_path / "machine-2", corpus, base=corpus)
    assert summary.startswith("4 runs")
    merged = pd.read_csv(corpus / "workflows.csv")
    assert sorted(merged["point_id"]) == sorted(p.point_id for p in design(load_campaign(spec)))
    # the noisy point is the new run's, once
    assert (merged.loc[merged["point_id"] == noisy, "background_cores"] < 4.0).all()
    tasks = pd.read_csv(corpus / "tasks.csv")
    assert tasks.groupby("run_id").size().tolist() == [1, 1, 1, 1]
    samples = pd.read_parquet(corpus / "samples.parquet")
    assert set(samples["run_id"]) == set(merged["run_id"])
    meta = json.loads((corpus / "corpus.json").read_text())
    assert meta["runs"] == 4 and len(meta["campaign"]) == 2


def test_reference_length_read_length_and_model_are_axes(tmp_path: Path) -> None:
    """Issue 19's axes: reference lengths and read lengths crossed with the rest, the
    human repeat model, one shared reference per length; the ids of cells without them
    are unchanged (corpus-v1's are in its committed tables)."""
    spec = write(tmp_path / "axes.yaml", """\
name: axes
seed: 3
cells:
  - workflow: dnaseq
    kind: dna
    genome_bases: [1000000, 100000000]
    read_lengths: [75, 150]
    reference_model: human
    reference_knobs: {segdup_fraction: 0.08}
    shared_reference: true
    pairs: [10000]
    presets: [clean]
""")
    points = design(load_campaign(spec))
    assert sorted(p.point_id for p in points) == [
        "dnaseq-g100M-h-l150-dna10000-clean-s1-r1", "dnaseq-g100M-h-l75-dna10000-clean-s1-r1",
        "dnaseq-g1M-h-l150-dna10000-clean-s1-r1", "dnaseq-g1M-h-l75-dna10000-clean-s1-r1"]
    point = next(p for p in points if p.point_id.startswith("dnaseq-g100M-h-l150"))
    assert point.reference_knobs() == {"kind": "dna", "genome_bases": 100_000_000,
                                       "pairs": 1000, "seed": 1, "reference_model": "human",
                                       "segdup_fraction": 0.08}
    knobs = point.synth_knobs(tmp_path / "ref")
    assert knobs["reference_from"] == str(tmp_path / "ref") and knobs["read_length"] == 150
    assert "reference_model" not in knobs  # the shared reference has it
    from genscale.data.synth import SynthOptions

    SynthOptions(**{k: v for k, v in point.synth_knobs().items()}).check()
    assert SynthOptions(**knobs).reference_from == tmp_path / "ref"  # JSON's str, a Path
    corpus = pd.read_csv(ROOT / "datasets" / "corpus-v1" / "workflows.csv")
    ids = {p.point_id for p in design(load_campaign(ROOT / "campaigns" / "corpus-v1.yaml"))}
    assert set(corpus["point_id"]) <= ids


def test_threads_is_an_axis_over_the_same_reads(tmp_path: Path) -> None:
    """`threads: [1, 2]` runs each dataset under each cap: the ids differ by `-tN`, the
    dataset (seed, knobs, dataset id) does not, so a model never splits them."""
    spec = write(tmp_path / "threads.yaml", """\
name: threads
seed: 5
cells:
  - workflow: dnaseq
    kind: dna
    threads: [1, 2]
    pairs: [10000, 20000]
    presets: [typical]
    jitter: 0.3
""")
    points = design(load_campaign(spec))
    assert sorted(p.point_id for p in points) == [
        "dnaseq-dna10000-typical-s1-t1-r1", "dnaseq-dna10000-typical-s1-t2-r1",
        "dnaseq-dna20000-typical-s1-t1-r1", "dnaseq-dna20000-typical-s1-t2-r1"]
    by_dataset: dict[str, list] = {}
    for p in points:
        by_dataset.setdefault(p.dataset_id, []).append(p)
    assert sorted(by_dataset) == ["dnaseq-dna10000-typical-s1", "dnaseq-dna20000-typical-s1"]
    for pair in by_dataset.values():
        assert sorted(p.max_threads for p in pair) == [1, 2]
        assert pair[0].synth_knobs() == pair[1].synth_knobs()


def test_only_runs_the_points_it_names(tmp_path: Path, env_no_color) -> None:
    spec = spec_file(tmp_path)
    out = tmp_path / "campaign"
    proc = subprocess.run([GENSCALE, "campaign", str(spec), "--out", str(out), "--only",
                           "*-dna3000-degraded-*"], capture_output=True, text=True,
                          env=env_no_color, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1 chosen by --only" in proc.stderr
    assert sorted(p.name for p in (out / "runs").iterdir() if p.is_dir()
                  and not p.name.startswith(".")) == ["count-dna3000-degraded-s1-r1"]
    proc = subprocess.run([GENSCALE, "campaign", str(spec), "--out", str(out), "--only",
                           "nothing-*"], capture_output=True, text=True, env=env_no_color,
                          timeout=60)
    assert proc.returncode == 2 and "matches no point of tiny" in proc.stderr
