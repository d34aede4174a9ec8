"""Synthetic DNA-Seq and RNA-Seq datasets with chosen size and shape, deterministic by seed.

The reference is random sequence of a chosen GC content with repeats: by default a few
families of 0.5%-diverged copies (`--repeat-fraction`, the model corpus-v1 was made with);
with `--reference-model human`, the human genome's repeat classes, each a knob
(`data.genome`). `--reference-from DATASET` takes another dataset's reference instead, so
that many datasets share one reference (and its cached indexes).
A donor genome carries SNPs relative to it (most of them listed in a known-sites VCF, as
dbSNP would); reads come from the donor through ART's Illumina error profiles. For RNA, a GTF
of multi-exon genes on both strands, and reads drawn from the spliced transcripts with
log-normal expression.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from genscale.data.genome import RepeatModel, build, isochores, mutate, random_seq
from genscale.data.knobs import PRESETS, QualityKnobs
from genscale.data.manifest import Dataset
from genscale.data.reads import apply_knobs, gc_oversampling
from genscale.errors import UserError
from genscale.store.rundir import require_new_or_empty

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
COMPLEMENT = bytes.maketrans(b"ACGTN", b"TGCAN")
REPEAT_DIVERGENCE = 0.005


@dataclass
class SynthOptions:
    """Knobs of `genscale data synth`; each field is a CLI flag of the same name.

        options = genscale.SynthOptions(kind="dna", pairs=100_000, preset="degraded")
    """

    kind: Literal["dna", "rna"] = field(default="dna", metadata={
        "help": "dna: reference and reads; rna: adds a GTF and spliced reads"})
    genome_bases: int = field(default=1_000_000, metadata={"help": "reference length (bp)"})
    chromosomes: int = field(default=2, metadata={
        "help": "number of contigs (human model: more where they would be longer than "
                "GRCh38's chr1, 249 Mb)"})
    gc: float = field(default=0.41, metadata={
        "help": "mean GC fraction of the reference (it varies by 5-30 kb region)"})
    repeat_fraction: float = field(default=0.05, metadata={
        "help": "uniform model: fraction of the reference made of 0.5%-diverged repeat "
                "copies"})
    reference_model: Literal["uniform", "human"] = field(default="uniform", metadata={
        "help": "uniform: a few repeat families (corpus-v1's); human: the human genome's "
                "repeat classes, each a --*-fraction/--*-divergence knob (defaults from "
                "its published composition)"})
    reference_from: Path | None = field(default=None, metadata={
        "help": "take the reference of this dataset (shared, with its cached indexes) "
                "instead of making one"})
    sine_fraction: float | None = field(default=None, metadata={
        "help": "human model: share of Alu-like short interspersed copies (default 0.131)"})
    sine_divergence: float | None = field(default=None, metadata={
        "help": "human model: their mean divergence from their family (default 0.12)"})
    line_fraction: float | None = field(default=None, metadata={
        "help": "human model: share of L1-like long interspersed copies (default 0.204)"})
    line_divergence: float | None = field(default=None, metadata={
        "help": "human model: their mean divergence (default 0.18)"})
    ltr_dna_fraction: float | None = field(default=None, metadata={
        "help": "human model: share of LTR and DNA transposon copies (default 0.111)"})
    ltr_dna_divergence: float | None = field(default=None, metadata={
        "help": "human model: their mean divergence (default 0.22)"})
    satellite_fraction: float | None = field(default=None, metadata={
        "help": "human model: share of 171 bp satellite arrays (default 0.03)"})
    microsatellite_fraction: float | None = field(default=None, metadata={
        "help": "human model: share of 1-6 bp tandem repeats (default 0.03)"})
    segdup_fraction: float | None = field(default=None, metadata={
        "help": "human model: share in segmental duplications, both copies (default 0.053)"})
    segdup_divergence: float | None = field(default=None, metadata={
        "help": "human model: their mean divergence; each pair's is from 0.001 to twice "
                "this (default 0.02)"})
    pairs: int = field(default=100_000, metadata={"help": "read pairs (about; ART rounds)"})
    read_length: int = field(default=100, metadata={"help": "bases per read (at most 250)"})
    insert_mean: int = field(default=300, metadata={"help": "mean fragment length (bp)"})
    insert_sd: int = field(default=30, metadata={"help": "fragment length s.d. (bp)"})
    snp_rate: float = field(default=0.001, metadata={"help": "donor SNPs per base"})
    genes: int = field(default=0, metadata={
        "help": "genes in the GTF (rna; 0: one per 10 kb of reference)"})
    seed: int = field(default=1, metadata={"help": "random seed; same seed, same files"})
    preset: Literal["clean", "typical", "degraded", "pathological"] = field(
        default="clean", metadata={"help": "read quality preset; the knobs below override it"})
    quality_shift: int | None = field(default=None, metadata={
        "help": "shift of ART's base qualities; negative raises the error rate"})
    adapter_fraction: float | None = field(default=None, metadata={
        "help": "pairs with an insert shorter than the read (adapter read-through)"})
    short_insert_mean: int | None = field(default=None, metadata={
        "help": "mean insert (bp) of the adapter read-through pairs"})
    duplicate_fraction: float | None = field(default=None, metadata={
        "help": "pairs that are PCR copies of another pair"})
    optical_duplicate_fraction: float | None = field(default=None, metadata={
        "help": "of the copies, the share next to their original on the tile"})
    contamination_fraction: float | None = field(default=None, metadata={
        "help": "pairs from a foreign genome (they do not map)"})
    low_complexity_fraction: float | None = field(default=None, metadata={
        "help": "pairs that are short tandem repeats"})
    polyg_fraction: float | None = field(default=None, metadata={
        "help": "reads ending in a poly-G tail"})
    n_rate: float | None = field(default=None, metadata={"help": "bases called N"})
    gc_bias: float | None = field(default=None, metadata={
        "help": "0 none to 5 strong: fragments far from 45% GC are under-sequenced"})

    def __post_init__(self) -> None:
        if isinstance(self.reference_from, str):  # from JSON (a campaign point's knobs)
            self.reference_from = Path(self.reference_from)

    def repeat_model(self) -> RepeatModel:
        """The human model's defaults, with every repeat knob given put over them."""
        given = {f: getattr(self, f) for f in RepeatModel.__dataclass_fields__
                 if getattr(self, f) is not None}
        return RepeatModel(**given)

    def knobs(self) -> QualityKnobs:
        """The preset, with every knob given explicitly put over it."""
        base = PRESETS[self.preset]
        overrides = {f: getattr(self, f) for f in QualityKnobs.__dataclass_fields__
                     if getattr(self, f) is not None}
        return QualityKnobs(**{**asdict(base), **overrides})

    def check(self) -> None:
        if self.kind not in ("dna", "rna"):
            raise UserError(f"--kind: expected dna or rna, got {self.kind!r}")
        if not 0.2 <= self.gc <= 0.8:
            raise UserError(f"--gc: expected a fraction between 0.2 and 0.8, got {self.gc}")
        if not 0 <= self.repeat_fraction <= 0.5:
            raise UserError("--repeat-fraction: expected 0 to 0.5")
        if self.reference_model not in ("uniform", "human"):
            raise UserError(f"--reference-model: expected uniform or human, got "
                            f"{self.reference_model!r}")
        given = [f for f in RepeatModel.__dataclass_fields__ if getattr(self, f) is not None]
        if given and (self.reference_model != "human" or self.reference_from is not None):
            raise UserError(f"--{given[0].replace('_', '-')} goes with --reference-model "
                            "human (and without --reference-from)")
        self.repeat_model().check()
        if not 30 <= self.read_length <= 250:
            raise UserError("--read-length: ART's Illumina profiles cover 30 to 250 bp")
        if self.insert_mean < self.read_length:
            raise UserError("--insert-mean: must be at least --read-length")
        per_contig = self.genome_bases // max(1, self.chromosomes)
        if per_contig < max(10_000, 4 * self.insert_mean):
            raise UserError("--genome-bases: each contig needs at least 10 kb "
                            f"(got {per_contig} bp per contig)")
        if self.pairs < 1:
            raise UserError("--pairs: expected a positive number")
        if self.preset not in PRESETS:
            raise UserError(f"--preset: expected one of {', '.join(PRESETS)}")
        self.knobs().check()


STAR_SA_BUDGET_BYTES = 8 * 2**30


def star_sa_sparse(genome_bases: int) -> int:
    """STAR's `--genomeSAsparseD` for a reference: the smallest that keeps its suffix array
    (8 bytes per position of both strands, every d-th kept) within 8 GiB, so an index of
    1 Gb builds on a 24 GiB machine (1 up to 536 Mb; 2 at 1 Gb; 6 at 3.1 Gb)."""
    return max(1, math.ceil(16 * genome_bases / STAR_SA_BUDGET_BYTES))


def synthesize(options: SynthOptions, out: Path) -> Dataset:
    """Write a dataset to `out` (created; must be empty if it exists) and its manifest.

        dataset = genscale.synthesize(genscale.SynthOptions(pairs=10_000), Path("small"))
    """
    options.check()
    for exe in ("art_illumina", "bcftools"):
        if shutil.which(exe) is None:
            raise UserError(f"{exe} not found: run 'make setup' (Debian package "
                            f"{'art-nextgen-simulation-tools' if exe == 'art_illumina' else exe})")
    require_new_or_empty(out, "; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(options.seed)
    if options.reference_from is not None:
        contigs, reference_info, shared = _shared_reference(options.reference_from)
        # its bytes as they are (whatever its line width): the index steps' cache, keyed
        # by content, finds them again
        shutil.copyfile(shared, out / "reference.fa")
    else:
        contigs, reference_info = _reference(options, rng)
        _write_fasta(out / "reference.fa", contigs)
    genome_bases = sum(len(seq) for seq in contigs.values())
    donor, snps = _donor(contigs, options.snp_rate, rng)
    files = {"reference": "reference.fa"}
    _write_known_sites(out, contigs, snps, rng)
    files["known_sites"] = "known_sites.vcf.gz"
    files["known_sites_index"] = "known_sites.vcf.gz.tbi"
    with tempfile.TemporaryDirectory(dir=out) as tmp_name:
        tmp = Path(tmp_name)
        if options.kind == "rna":
            genes = options.genes or max(4, genome_bases // 10_000)
            transcripts = _write_annotation(out / "annotation.gtf", contigs, genes, rng)
            files["annotation"] = "annotation.gtf"
            source = _transcriptome(donor, transcripts, rng)
        else:
            source = donor
        _write_fasta(tmp / "source.fa", source)
        knobs = options.knobs()
        oversample = gc_oversampling(knobs, source, options.insert_mean, options.seed)
        _art(tmp / "source.fa", tmp / "reads", options, knobs.quality_shift, oversample)
        foreign = {"foreign": random_seq(200_000, 0.6, np.random.default_rng(
            options.seed + 7919)).tobytes()}
        counts = apply_knobs(tmp / "reads1.fq", tmp / "reads2.fq", out / "reads_1.fq.gz",
                             out / "reads_2.fq.gz", knobs, donor, foreign,
                             options.read_length, options.insert_mean, options.seed)
        files["reads_1"], files["reads_2"] = "reads_1.fq.gz", "reads_2.fq.gz"
    params: dict[str, str | int | float] = {
        "read_length": options.read_length,
        "sjdb_overhang": options.read_length - 1,
        "star_sa_index_nbases": min(14, int(math.log2(genome_bases) / 2 - 1)),
    }
    if (sparse := star_sa_sparse(genome_bases)) > 1:
        params["star_sa_sparse"] = sparse
    generator = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
    info = {"generator": {"name": "genscale data synth", **generator},
            "knobs": asdict(knobs), "reference": reference_info,
            "stats": {"pairs": counts.pairs, "read_length": options.read_length,
                      "genome_bases": genome_bases, "snps": len(snps),
                      "knob_counts": asdict(counts)}}
    return Dataset.build(out.resolve(), options.kind, files, params, info)


def _reference(o: SynthOptions, rng: np.random.Generator
               ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The reference's contigs, and what the manifest records of how it was made."""
    if o.reference_model == "human":
        model = o.repeat_model()
        contigs, layout = build(o.genome_bases, o.chromosomes, o.gc, model, rng)
        return contigs, {"model": "human", **asdict(model),
                         "placed": layout.summary(o.genome_bases)}
    per_contig = o.genome_bases // o.chromosomes
    families = [random_seq(int(rng.integers(300, 2000)), o.gc, rng) for _ in range(8)]
    contigs = {}
    for c in range(o.chromosomes):
        seq = isochores(per_contig, o.gc, rng)
        target = int(per_contig * o.repeat_fraction)
        placed = 0
        while placed < target:
            family = families[int(rng.integers(len(families)))]
            # 0.5% diverged copies: most 100 bp reads match several copies equally well
            copy = mutate(family, REPEAT_DIVERGENCE, rng)
            at = int(rng.integers(0, per_contig - copy.size))
            seq[at:at + copy.size] = copy
            placed += copy.size
        contigs[f"chr{c + 1}"] = seq.tobytes()
    return contigs, {"model": "uniform", "repeat_fraction": o.repeat_fraction,
                     "repeat_divergence": REPEAT_DIVERGENCE}


def _shared_reference(source: Path) -> tuple[dict[str, bytes], dict[str, Any], Path]:
    """Another dataset's reference (`--reference-from`): its contigs, what its manifest
    says of it, and its file."""
    dataset = Dataset.load(source)
    if "reference" not in dataset.files:
        raise UserError(f"--reference-from {source}: the dataset has no reference")
    contigs: dict[str, bytes] = {}
    name: str | None = None
    chunks: list[bytes] = []
    with open(dataset.file("reference"), "rb") as f:
        for line in f:
            if line.startswith(b">"):
                if name is not None:
                    contigs[name] = b"".join(chunks)
                name, chunks = line[1:].split()[0].decode(), []
            else:
                chunks.append(line.strip().upper())
    if name is not None:
        contigs[name] = b"".join(chunks)
    if not contigs:
        raise UserError(f"--reference-from {source}: its reference has no sequence")
    made = dict(dataset.info.get("reference") or {})
    return contigs, {**made, "from": str(source.resolve()),
                     "sha256": dataset.files["reference"]["sha256"]}, dataset.file("reference")


def _donor(contigs: dict[str, bytes], rate: float,
           rng: np.random.Generator) -> tuple[dict[str, bytes], list[tuple[str, int, str, str]]]:
    donor, snps = {}, []
    for name, seq in contigs.items():
        ref = np.frombuffer(seq, dtype=np.uint8)
        alt = mutate(ref, rate, rng)
        for pos in np.flatnonzero(ref != alt):
            snps.append((name, int(pos) + 1, chr(ref[pos]), chr(alt[pos])))
        donor[name] = alt.tobytes()
    return donor, snps


def _write_fasta(path: Path, seqs: dict[str, bytes], width: int = 60) -> None:
    with open(path, "wb") as f:
        for name, seq in seqs.items():
            f.write(b">" + name.encode() + b"\n")
            for i in range(0, len(seq), width):
                f.write(seq[i:i + width] + b"\n")


def _write_known_sites(out: Path, contigs: dict[str, bytes],
                       snps: list[tuple[str, int, str, str]], rng: np.random.Generator) -> None:
    """About 80% of the donor's SNPs, as a bgzipped, indexed VCF (a dbSNP stand-in)."""
    keep = rng.random(len(snps)) < 0.8
    plain = out / "known_sites.vcf"
    with open(plain, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        for name, seq in contigs.items():
            f.write(f"##contig=<ID={name},length={len(seq)}>\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, (chrom, pos, ref, alt) in enumerate(snps):
            if keep[i]:
                f.write(f"{chrom}\t{pos}\trs{i + 1}\t{ref}\t{alt}\t.\tPASS\t.\n")
    # --no-version: no command line or date in the header, so the same seed gives the same file
    _check_call(["bcftools", "view", "--no-version", "-Oz",
                 "-o", str(out / "known_sites.vcf.gz"), str(plain)])
    _check_call(["bcftools", "index", "-t", str(out / "known_sites.vcf.gz")])
    plain.unlink()


@dataclass
class _Transcript:
    chrom: str
    strand: str
    exons: list[tuple[int, int]]  # 0-based half-open, ascending
    weight: int


def _write_annotation(path: Path, contigs: dict[str, bytes], genes: int,
                      rng: np.random.Generator) -> list[_Transcript]:
    """Multi-exon genes laid end to end with intergenic gaps; one or two isoforms each."""
    transcripts: list[_Transcript] = []
    lines = []
    names = list(contigs)
    per_contig = math.ceil(genes / len(names))
    made = 0
    for chrom in names:
        length = len(contigs[chrom])
        pos = int(rng.integers(1000, 3000))
        for _ in range(per_contig):
            if made >= genes:
                break
            n_exons = int(rng.integers(2, 9))
            exons = []
            at = pos
            for _e in range(n_exons):
                size = int(rng.integers(100, 400))
                exons.append((at, at + size))
                at += size + int(rng.integers(80, 3000))
            end = exons[-1][1]
            if end + 1000 > length:
                break
            if sum(b - a for a, b in exons) < 500:
                pos = end + int(rng.integers(1000, 5000))
                continue
            made += 1
            gene = f"G{made:05d}"
            strand = "+" if rng.random() < 0.5 else "-"
            isoforms = [exons]
            if n_exons >= 4:  # skip one inner exon for a second isoform
                skip = int(rng.integers(1, n_exons - 1))
                isoforms.append(exons[:skip] + exons[skip + 1:])
            attrs = f'gene_id "{gene}"; gene_name "{gene}";'
            lines.append(f"{chrom}\tgenscale\tgene\t{exons[0][0] + 1}\t{end}\t.\t{strand}\t.\t"
                         f"{attrs}\n")
            for k, iso in enumerate(isoforms):
                tid = f"{gene}.{k + 1}"
                t_attrs = f'{attrs} transcript_id "{tid}";'
                lines.append(f"{chrom}\tgenscale\ttranscript\t{iso[0][0] + 1}\t{iso[-1][1]}\t.\t"
                             f"{strand}\t.\t{t_attrs}\n")
                for a, b in iso:
                    lines.append(f"{chrom}\tgenscale\texon\t{a + 1}\t{b}\t.\t{strand}\t.\t"
                                 f"{t_attrs}\n")
                weight = max(1, min(50, round(float(rng.lognormal(1.0, 1.0)))))
                transcripts.append(_Transcript(chrom, strand, iso, weight))
            pos = end + int(rng.integers(1000, 5000))
    if not transcripts:
        raise UserError("--genome-bases: too small to hold any gene")
    path.write_text("".join(lines))
    return transcripts


def _transcriptome(genome: dict[str, bytes], transcripts: list[_Transcript],
                   rng: np.random.Generator) -> dict[str, bytes]:
    """Spliced transcript sequences, each repeated by its expression weight."""
    out = {}
    for i, t in enumerate(transcripts):
        seq = b"".join(genome[t.chrom][a:b] for a, b in t.exons)
        if t.strand == "-":
            seq = seq.translate(COMPLEMENT)[::-1]
        for copy in range(t.weight):
            out[f"t{i}_{copy}"] = seq
    return out


def _art(source: Path, prefix: Path, o: SynthOptions, quality_shift: int,
         oversample: float = 1.0) -> None:
    """Paired reads from `source` with ART, as plain FASTQ at `prefix`1.fq and 2.fq;
    `oversample` times the pairs asked for, for the knobs that drop some."""
    with open(source, "rb") as f:
        total = sum(len(line) - 1 for line in f if not line.startswith(b">"))
    fold = oversample * o.pairs * 2 * o.read_length / total
    profile = "HS25" if o.read_length <= 150 else "MSv3"
    _check_call(["art_illumina", "-ss", profile, "-i", str(source), "-p", "-na",
                 "-l", str(o.read_length), "-f", f"{fold:.6f}", "-m", str(o.insert_mean),
                 "-s", str(o.insert_sd), "-rs", str(o.seed), "-qs", str(quality_shift),
                 "-qs2", str(quality_shift), "-o", str(prefix)])


def _check_call(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {' | '.join(tail)}")
