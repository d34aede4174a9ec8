"""References that behave like a human one (issue 19): each repeat class comes out as its
knob asks, and recent segmental duplications leave reads without a unique place, as the
real bwa mem sees them (MAPQ 0)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from genscale.data.genome import RepeatModel, build, mutate
from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.errors import UserError

NONE = RepeatModel(sine_fraction=0, line_fraction=0, ltr_dna_fraction=0, satellite_fraction=0,
                   microsatellite_fraction=0, segdup_fraction=0)


def _mapq0_share(tmp: Path, contigs: dict[str, bytes], reads: int = 20_000) -> float:
    """Error-free 100 bp reads drawn uniformly from `contigs`, aligned by bwa mem: the
    share at MAPQ 0."""
    tmp.mkdir()
    with open(tmp / "ref.fa", "wb") as f:
        for name, seq in contigs.items():
            f.write(b">" + name.encode() + b"\n" + seq + b"\n")
    rng = np.random.default_rng(3)
    names = list(contigs)
    with open(tmp / "reads.fq", "w") as f:
        for i in range(reads):
            seq = contigs[names[int(rng.integers(len(names)))]]
            at = int(rng.integers(0, len(seq) - 100))
            f.write(f"@r{i}\n{seq[at:at + 100].decode()}\n+\n{'I' * 100}\n")
    subprocess.run("bwa index ref.fa", shell=True, cwd=tmp, check=True, capture_output=True)
    sam = subprocess.run("bwa mem -t 2 ref.fa reads.fq", shell=True, cwd=tmp, check=True,
                         capture_output=True, text=True).stdout
    mapq = [int(line.split("\t")[4]) for line in sam.splitlines()
            if not line.startswith("@") and not int(line.split("\t")[1]) & 0x900]
    return float(np.mean(np.array(mapq) == 0))


def test_each_repeat_class_is_placed_as_its_knob_asks() -> None:
    model = RepeatModel()
    _, layout = build(4_000_000, 2, 0.41, model, np.random.default_rng(2))
    placed = layout.summary(4_000_000)["fractions"]
    for name in ("sine", "line", "ltr_dna", "satellite", "microsatellite", "segdup"):
        asked = getattr(model, f"{name}_fraction")
        assert asked <= placed[name] < asked + 0.03, (name, placed[name])
    _, none = build(1_000_000, 1, 0.41, NONE, np.random.default_rng(2))
    assert sum(none.placed_bases.values()) == 0


def test_a_copy_differs_from_its_source_by_its_divergence() -> None:
    rng = np.random.default_rng(4)
    seq = np.frombuffer(b"ACGT" * 50_000, dtype=np.uint8)
    for rate in (0.001, 0.12, 0.3):
        assert abs(np.mean(mutate(seq, rate, rng) != seq) - rate) < 0.1 * rate + 0.0005


def test_recent_segmental_duplications_make_reads_of_mapq_zero(tmp_path: Path) -> None:
    unique, _ = build(2_000_000, 1, 0.41, NONE, np.random.default_rng(5))
    assert _mapq0_share(tmp_path / "none", unique) < 0.01
    recent = RepeatModel(**{**NONE.__dict__, "segdup_fraction": 0.2,
                            "segdup_divergence": 0.0005})
    duplicated, layout = build(2_000_000, 1, 0.41, recent, np.random.default_rng(5))
    assert 0.2 <= layout.summary(2_000_000)["fractions"]["segdup"] < 0.25
    share = _mapq0_share(tmp_path / "recent", duplicated)
    # both copies of each pair leave their reads without a unique place
    assert 0.12 < share < 0.25, share
    # old duplications (10% diverged) do not: bwa places their reads
    old = RepeatModel(**{**recent.__dict__, "segdup_divergence": 0.05})
    diverged, _ = build(2_000_000, 1, 0.41, old, np.random.default_rng(5))
    assert _mapq0_share(tmp_path / "old", diverged) < share / 2


def test_datasets_share_one_reference(tmp_path: Path) -> None:
    small = {"genome_bases": 200_000, "pairs": 2_000, "kind": "dna"}
    first = synthesize(SynthOptions(**small, reference_model="human", seed=1),  # type: ignore[arg-type]
                       tmp_path / "a")
    reference = first.info["reference"]
    assert reference["model"] == "human" and reference["sine_fraction"] == 0.131
    second = synthesize(SynthOptions(**small, seed=2, reference_from=first.path),  # type: ignore[arg-type]
                        tmp_path / "b")
    assert second.files["reference"]["sha256"] == first.files["reference"]["sha256"]
    assert second.info["reference"]["from"] == str(first.path)
    assert second.info["reference"]["model"] == "human"
    assert Dataset.load(second.path).file("reads_1").read_bytes() != \
        first.file("reads_1").read_bytes()
    # what a model knows of the reference before a run: its length, and the repeat knobs
    from genscale.quality.table import reference_features

    known = reference_features(second)
    assert known["reference.bases"] == 200_000
    assert known["reference.segdup_fraction"] == 0.053
    assert known["reference.sine_divergence"] == 0.12


def test_repeat_knobs_go_with_the_human_model(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--segdup-fraction goes with --reference-model human"):
        SynthOptions(segdup_fraction=0.1).check()
    with pytest.raises(UserError, match="--sine-fraction: expected 0 to 1"):
        SynthOptions(reference_model="human", sine_fraction=1.5).check()
    with pytest.raises(UserError, match=r"add up to more than 0\.9"):
        SynthOptions(reference_model="human", sine_fraction=0.5, line_fraction=0.5).check()


def test_a_human_like_reference_has_no_contig_longer_than_chr1():
    from genscale.data.genome import LONGEST_HUMAN_CONTIG, contig_count
    assert contig_count(1_000_000, 2) == 2
    assert contig_count(1_000_000_000, 2) == 5  # 200 Mb each
    assert contig_count(3_100_000_000, 2) == 13
    assert contig_count(3_100_000_000, 30) == 30
    for bases in (10**8, 10**9, 3_100_000_000, 2 * LONGEST_HUMAN_CONTIG + 1):
        assert bases / contig_count(bases, 2) <= LONGEST_HUMAN_CONTIG


def test_star_sparse_suffix_array_keeps_a_large_index_within_8_gib():
    from genscale.data.synth import star_sa_sparse

    assert [star_sa_sparse(g) for g in (10**6, 10**8, 536_000_000)] == [1, 1, 1]
    assert star_sa_sparse(10**9) == 2 and star_sa_sparse(3_100_000_000) == 6
    for g in (10**9, 3_100_000_000, 5 * 10**9):
        assert 16 * g / star_sa_sparse(g) <= 8 * 2**30
