"""Each quality knob moves the metric it should, measured by the real tools."""

from __future__ import annotations

import gzip
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from genscale.data.manifest import Dataset
from genscale.data.synth import SynthOptions, synthesize
from genscale.errors import UserError

pytestmark = pytest.mark.slow  # ART datasets measured by Picard, FastQC and bwa (23 s)

PICARD = ["java", "-Xmx1g", "-jar", "/usr/share/java/picard.jar"]
SMALL = {"genome_bases": 200_000, "pairs": 10_000, "seed": 21}


def make(tmp: Path, name: str, **knobs: object) -> Dataset:
    return synthesize(SynthOptions(kind="dna", **SMALL, **knobs), tmp / name)  # type: ignore[arg-type]


def sh(cmd: str, cwd: Path) -> str:
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def align(dataset: Dataset, work: Path) -> Path:
    """bwa mem | samtools sort, as the dnaseq workflow does: returns the sorted BAM."""
    work.mkdir()
    ref = work / "ref.fa"
    ref.write_bytes(dataset.file("reference").read_bytes())
    sh(f"bwa index {ref} 2>/dev/null", work)
    sh(f"bwa mem -t 2 -R '@RG\\tID:x\\tSM:x' {ref} {dataset.file('reads_1')} "
       f"{dataset.file('reads_2')} 2>/dev/null | samtools sort -o sorted.bam -", work)
    return work / "sorted.bam"


def picard_metrics(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("## METRICS CLASS"))
    return dict(zip(lines[at + 1].split("\t"), lines[at + 2].split("\t"), strict=False))


def unmapped_fraction(bam: Path) -> float:
    total = int(sh(f"samtools view -c -F 0x900 {bam}", bam.parent))
    unmapped = int(sh(f"samtools view -c -F 0x900 -f 4 {bam}", bam.parent))
    return unmapped / total


def reads(path: Path) -> list[tuple[str, str]]:
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    return list(zip(lines[1::4], lines[3::4], strict=True))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path]:
    tmp = tmp_path_factory.mktemp("clean")
    dataset = make(tmp, "data")
    return dataset, align(dataset, tmp / "align")


def test_duplicate_fraction_gives_picard_percent_duplication(
        tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    for name, fraction, optical in (("dup", 0.3, 0.5), ("clean", 0.0, 0.0)):
        if name == "clean":
            bam = clean[1]
        else:
            bam = align(make(tmp_path, name, duplicate_fraction=fraction,
                             optical_duplicate_fraction=optical), tmp_path / f"{name}_align")
        sh(f"{' '.join(PICARD)} MarkDuplicates -I {bam} -O md.bam -M md.txt 2>/dev/null",
           bam.parent)
        metrics = picard_metrics(bam.parent / "md.txt")
        assert float(metrics["PERCENT_DUPLICATION"]) == pytest.approx(fraction, abs=0.05)
        pairs = int(metrics["READ_PAIR_DUPLICATES"])
        if pairs:
            share = int(metrics["READ_PAIR_OPTICAL_DUPLICATES"]) / pairs
            assert share == pytest.approx(optical, abs=0.1)


def test_contamination_lowers_the_mapped_fraction_by_as_much(
        tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    base = unmapped_fraction(clean[1])
    bam = align(make(tmp_path, "cont", contamination_fraction=0.2), tmp_path / "a")
    assert base < 0.02
    assert unmapped_fraction(bam) - base == pytest.approx(0.2, abs=0.03)


def fastqc_adapter_percent(fastq: Path, out: Path) -> float:
    """FastQC's Illumina Universal Adapter content at the last position, in percent."""
    out.mkdir()
    sh(f"fastqc --quiet --outdir {out} {fastq}", out)
    archive = next(out.glob("*_fastqc.zip"))
    with zipfile.ZipFile(archive) as z:
        name = next(n for n in z.namelist() if n.endswith("fastqc_data.txt"))
        text = z.read(name).decode()
    section = text.split(">>Adapter Content")[1].split(">>END_MODULE")[0].splitlines()
    header = section[1].lstrip("#").split("\t")
    column = header.index("Illumina Universal Adapter")
    return float(section[-1].split("\t")[column])


def test_adapter_fraction_shows_in_fastqc_adapter_content(
        tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    dataset = make(tmp_path, "adapt", adapter_fraction=0.3)
    assert fastqc_adapter_percent(dataset.file("reads_1"), tmp_path / "qc") == \
        pytest.approx(30, abs=4)
    assert fastqc_adapter_percent(clean[0].file("reads_1"), tmp_path / "qc0") < 1


def test_quality_shift_lowers_quality_and_raises_errors(
        tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    dataset = make(tmp_path, "lowq", quality_shift=-10)

    def mean_quality(ds: Dataset) -> float:
        quals = [q for _, q in reads(ds.file("reads_1"))]
        return sum(ord(c) - 33 for q in quals for c in q) / sum(len(q) for q in quals)

    def error_rate(bam: Path) -> float:
        stats = sh(f"samtools stats {bam}", bam.parent)
        return float(re.search(r"error rate:\s+([0-9.e-]+)", stats).group(1))  # type: ignore[union-attr]

    assert mean_quality(clean[0]) - mean_quality(dataset) == pytest.approx(10, abs=1.5)
    assert error_rate(align(dataset, tmp_path / "a")) > 2 * error_rate(clean[1])


def test_read_level_knobs_in_the_fastq(tmp_path: Path) -> None:
    dataset = make(tmp_path, "reads", polyg_fraction=0.2, n_rate=0.01,
                   low_complexity_fraction=0.1)
    pairs = reads(dataset.file("reads_1")) + reads(dataset.file("reads_2"))
    seqs = [s for s, _ in pairs]
    polyg = sum(1 for s in seqs if s.endswith("G" * 10)) / len(seqs)
    n_rate = sum(s.count("N") for s in seqs) / sum(len(s) for s in seqs)
    repeats = sum(1 for s in seqs if any(len(set(s[i::k])) == 1 for k in (1, 2, 3)
                                         for i in range(k)) or
                  any(s.replace("N", "") == (s[:k] * len(s))[:len(s)].replace("N", "")
                      for k in (1, 2, 3))) / len(seqs)
    # a poly-G tail on a G repeat is still a poly-G read: 0.2 + 0.1 * 0.8 / 4 at most
    assert polyg == pytest.approx(0.2, abs=0.04)
    assert n_rate == pytest.approx(0.01, abs=0.002)
    assert repeats == pytest.approx(0.1, abs=0.03)


def test_read_length(tmp_path: Path) -> None:
    dataset = synthesize(SynthOptions(genome_bases=100_000, pairs=500, read_length=150,
                                      insert_mean=400, seed=2), tmp_path / "long")
    assert {len(s) for s, _ in reads(dataset.file("reads_2"))} == {150}
    assert dataset.params["sjdb_overhang"] == 149


def test_presets_order_from_clean_to_pathological(tmp_path: Path) -> None:
    counts = {}
    for preset in ("clean", "typical", "degraded", "pathological"):
        dataset = synthesize(SynthOptions(kind="dna", genome_bases=100_000, pairs=3_000,
                                          seed=4, preset=preset), tmp_path / preset)  # type: ignore[arg-type]
        counts[preset] = dataset.info["stats"]["knob_counts"]
    for key in ("duplicate_pairs", "adapter_pairs", "contaminant_pairs", "n_bases"):
        values = [counts[p][key] for p in ("clean", "typical", "degraded", "pathological")]
        assert values == sorted(values) and values[0] == 0 and values[-1] > 0, key


def test_explicit_knob_overrides_the_preset(tmp_path: Path) -> None:
    options = SynthOptions(preset="degraded", duplicate_fraction=0.0)
    knobs = options.knobs()
    assert knobs.duplicate_fraction == 0.0 and knobs.adapter_fraction == 0.12


def test_impossible_knobs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"at most 0\.95 together"):
        make(tmp_path, "x", duplicate_fraction=0.6, adapter_fraction=0.5)
    with pytest.raises(UserError, match="--n-rate: expected a fraction"):
        make(tmp_path, "y", n_rate=1.5)


def test_subsample_keeps_mates_paired(tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    from genscale.data.subsample import subsample

    source = clean[0]
    half = subsample(source.path, 0.25, tmp_path / "quarter", seed=3)
    r1 = reads(half.file("reads_1"))
    assert len(r1) == half.info["stats"]["pairs"]
    assert len(r1) == pytest.approx(0.25 * source.info["stats"]["pairs"], rel=0.06)
    with gzip.open(half.file("reads_1"), "rt") as f1, gzip.open(half.file("reads_2"), "rt") as f2:
        names1 = f1.read().splitlines()[0::4]
        names2 = f2.read().splitlines()[0::4]
    assert names1 == names2  # every kept read has its mate, in the same order
    assert half.files["reference"]["sha256"] == source.files["reference"]["sha256"]
    assert half.info["subsampled_from"]["fraction"] == 0.25
    with pytest.raises(UserError, match="--fraction"):
        subsample(source.path, 1.5, tmp_path / "bad")


def gc_spread(dataset: Dataset) -> float:
    import statistics

    gcs = [(s.count("G") + s.count("C")) / len(s) for s, _ in reads(dataset.file("reads_1"))]
    return statistics.pstdev(gcs)


def test_gc_bias_narrows_the_gc_spread_and_keeps_the_pair_count(
        tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    biased = make(tmp_path, "gc", gc_bias=3.0)
    assert gc_spread(biased) < 0.85 * gc_spread(clean[0])
    assert biased.info["stats"]["pairs"] == pytest.approx(SMALL["pairs"], rel=0.1)
    assert biased.info["stats"]["knob_counts"]["gc_dropped_pairs"] > 0


def test_repeats_make_reads_multi_map(tmp_path: Path, clean: tuple[Dataset, Path]) -> None:
    def mapq0_fraction(bam: Path) -> float:
        mapped = int(sh(f"samtools view -c -F 0x904 {bam}", bam.parent))
        zero = int(sh(f"samtools view -F 0x904 {bam} | awk '$5 == 0' | wc -l", bam.parent))
        return zero / mapped

    # mates anchor many pairs (bwa's pair rescue), so the rise is modest in absolute terms:
    # measured 0.3% of reads at MAPQ 0 with the default 5% repeats, 7.2% with 40%
    repetitive = make(tmp_path, "rep", repeat_fraction=0.4)
    base = mapq0_fraction(clean[1])
    multi = mapq0_fraction(align(repetitive, tmp_path / "a"))
    assert multi > max(5 * base, base + 0.05)
