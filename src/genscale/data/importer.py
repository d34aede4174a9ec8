"""Bringing a user's real data in as a dataset: validated, described by the same manifest.

Reads are checked in one streaming pass (a truncated gzip, mates that do not pair, an empty
or malformed file each stop the import with the file named); a BAM is turned back into
reads with samtools; a FASTA and a GTF are checked line by line. Files are linked into the
dataset directory, not copied, unless asked.
"""

from __future__ import annotations

import gzip
import math
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dnaio

from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.store.rundir import require_new_or_empty

IUPAC = set(b"ACGTUNRYKMSWBDHVacgtunrykmswbdhv-*")


@dataclass
class ImportRequest:
    out: Path
    reference: Path | None = None
    reads: list[Path] = field(default_factory=list)  # one (single-end) or two (paired) files
    bam: Path | None = None
    annotation: Path | None = None
    known_sites: Path | None = None
    sra: str | None = None
    copy: bool = False


@dataclass
class ReadStats:
    pairs: int
    max_length: int
    bases: int


def check_reads(paths: list[Path]) -> ReadStats:
    """Stream every record; raise UserError naming the file and the problem."""
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise UserError(f"{path}: empty file")
    records = max_length = bases = 0
    where = " and ".join(str(p) for p in paths)
    try:
        with dnaio.open(*paths) as reader:
            for record in reader:
                first = record[0] if isinstance(record, tuple) else record
                if first.qualities is None:
                    raise UserError(f"{where}: FASTA, not FASTQ: reads need their base "
                                    "qualities")
                records += 1
                max_length = max(max_length, len(first.sequence))
                bases += len(first.sequence)
    except EOFError:
        raise UserError(f"{where}: truncated gzip (the compressed stream ends early, "
                        f"after {records:,} records)") from None
    except (dnaio.exceptions.FileFormatError, dnaio.exceptions.UnknownFileFormat) as exc:
        message = str(exc).replace("Error in sequence file at unknown line: ", "")
        if "improperly paired" in message:
            raise UserError(f"{where}: mates have different read counts or names ({message})"
                            ) from None
        raise UserError(f"{where}: not valid FASTQ: {message}") from None
    except OSError as exc:  # gzip's BadGzipFile and friends
        raise UserError(f"{where}: cannot be read as FASTQ: {exc}") from None
    if records == 0:
        raise UserError(f"{where}: no reads")
    return ReadStats(records, max_length, bases)


def check_fasta(path: Path) -> int:
    """Total bases; raise UserError with the line of the first problem."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    total = 0
    contigs = 0
    current = -1
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip(b"\r\n")
            if line.startswith(b">"):
                if current == 0:
                    raise UserError(f"{path}:{number - 1}: sequence {contigs} is empty")
                contigs += 1
                current = 0
            elif not line:
                continue
            elif current < 0:
                raise UserError(f"{path}:{number}: a FASTA file starts with a '>' header line")
            else:
                bad = set(line) - IUPAC
                if bad:
                    raise UserError(f"{path}:{number}: not a nucleotide: "
                                    f"{chr(min(bad))!r}")
                current += len(line)
                total += len(line)
    if contigs == 0 or current == 0:
        raise UserError(f"{path}: no sequence")
    return total


def check_gtf(path: Path) -> int:
    """Number of exon lines; raise UserError with the line of the first problem."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    exons = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise UserError(f"{path}:{number}: expected 9 tab-separated fields, "
                                f"found {len(fields)}")
            try:
                start, end = int(fields[3]), int(fields[4])
            except ValueError:
                raise UserError(f"{path}:{number}: start and end must be whole numbers"
                                ) from None
            if start < 1 or end < start:
                raise UserError(f"{path}:{number}: expected 1 <= start <= end, got "
                                f"{start}..{end}")
            if fields[2] == "exon":
                if "transcript_id" not in fields[8] or "gene_id" not in fields[8]:
                    raise UserError(f"{path}:{number}: an exon needs gene_id and "
                                    "transcript_id attributes")
                exons += 1
    if exons == 0:
        raise UserError(f"{path}: no exon lines")
    return exons


def _bam_to_reads(bam: Path, out: Path) -> list[Path]:
    # -u: unaligned BAMs (no reference in the header) are valid input too
    if subprocess.run(["samtools", "quickcheck", "-u", str(bam)]).returncode != 0:
        raise UserError(f"{bam}: not a valid BAM (samtools quickcheck failed; truncated?)")
    r1, r2, single = out / "reads_1.fq.gz", out / "reads_2.fq.gz", out / "reads.fq.gz"
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c",
             f"samtools collate -u -O {_q(bam)} {tmp}/collate | samtools fastq -n "
             f"-1 {_q(r1)} -2 {_q(r2)} -0 {_q(single)} -s /dev/null -"],
            capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{bam}: samtools could not turn it into reads: "
                        f"{result.stderr.strip().splitlines()[-1:]}")
    paired = r1.stat().st_size > 20 and r2.stat().st_size > 20
    for p in ((single,) if paired else (r1, r2)):
        p.unlink()
    return [r1, r2] if paired else [single]


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def _place(src: Path, out: Path, name: str, copy: bool) -> str:
    """Put `src` in the dataset as `name` (keeping its extensions); returns the name."""
    suffix = "".join(s for s in src.suffixes[-2:] if len(s) <= 6)
    dest = out / f"{name}{suffix}"
    if copy:
        shutil.copy2(src, dest)
    else:
        os.symlink(src.resolve(), dest)
    return dest.name


def _fetch_sra(accession: str, out: Path) -> list[Path]:
    exe = shutil.which("fasterq-dump")
    if exe is None:
        raise UserError(f"--sra {accession}: fasterq-dump not found; install sra-toolkit "
                        "(Debian package sra-toolkit) on a machine with internet access")
    result = subprocess.run([exe, "--split-files", "--outdir", str(out), accession],
                            capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"--sra {accession}: fasterq-dump failed (offline, or no such "
                        f"accession?): {tail}")
    return sorted(out.glob(f"{accession}*.fastq"))


def import_dataset(req: ImportRequest) -> Dataset:
    """Validate everything first, then link (or copy) it into `req.out` with a manifest."""
    given = [x for x in (req.reads, req.bam, req.sra) if x]
    if len(given) != 1:
        raise UserError("give the reads one way: --reads R1 [--reads R2], --bam, or --sra")
    if len(req.reads) > 2:
        raise UserError("--reads: one file (single-end) or two (paired)")
    if req.reference is None:
        raise UserError("--reference: required (a FASTA file)")
    genome_bases = check_fasta(req.reference)
    if req.annotation is not None:
        check_gtf(req.annotation)
    if req.known_sites is not None:
        check_vcf(req.known_sites)
    require_new_or_empty(req.out, "; choose a new --out")
    created = not req.out.exists()
    req.out.mkdir(parents=True, exist_ok=True)
    try:
        return _import_into(req, genome_bases)
    except BaseException:
        # nothing half-imported: the --out directory as it was before (absent, or empty)
        if created:
            shutil.rmtree(req.out, ignore_errors=True)
        else:
            for entry in req.out.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def check_vcf(path: Path) -> None:
    """`path` is a VCF (plain, or gzip/BGZF-compressed where its name ends in .gz)."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(2)
    if path.name.endswith(".gz") and magic != b"\x1f\x8b":
        raise UserError(f"{path}: named .gz but not gzip-compressed (bgzip it: "
                        "bgzip -c plain.vcf > file.vcf.gz)")
    try:
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            first = f.readline(200)
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: unreadable compressed VCF ({exc})") from None
    if not first.startswith(b"##fileformat=VCF"):
        raise UserError(f"{path}:1: not a VCF (expected '##fileformat=VCFv4.x' first)")


def _import_into(req: ImportRequest, genome_bases: int) -> Dataset:
    files: dict[str, str] = {}
    if req.bam is not None:
        reads = _bam_to_reads(req.bam, req.out)
        stats = check_reads(reads)
        files.update({f"reads_{i + 1}": p.name for i, p in enumerate(reads)})
    else:
        reads = req.reads or _fetch_sra(str(req.sra), req.out)
        stats = check_reads(reads)
        for i, path in enumerate(reads):
            if path.parent.resolve() == req.out.resolve():  # fetched into place already
                files[f"reads_{i + 1}"] = path.name
            else:
                files[f"reads_{i + 1}"] = _place(path, req.out, f"reads_{i + 1}", req.copy)
    assert req.reference is not None  # checked by import_dataset
    files["reference"] = _place(req.reference, req.out, "reference", req.copy)
    if req.annotation is not None:
        files["annotation"] = _place(req.annotation, req.out, "annotation", req.copy)
    if req.known_sites is not None:
        files["known_sites"] = _place(req.known_sites, req.out, "known_sites", req.copy)
        index = Path(f"{req.known_sites}.tbi")
        if index.is_file():
            os.symlink(index.resolve(), req.out / f"{files['known_sites']}.tbi")
    params: dict[str, str | int | float] = {
        "read_length": stats.max_length,
        "sjdb_overhang": max(1, stats.max_length - 1),
        "star_sa_index_nbases": min(14, int(math.log2(max(genome_bases, 2)) / 2 - 1)),
    }
    sources = {"reads": [str(p) for p in req.reads], "bam": str(req.bam) if req.bam else None,
               "sra": req.sra}
    info = {"imported_from": sources,
            "stats": {"pairs" if len(reads) == 2 else "reads": stats.pairs,
                      "read_length": stats.max_length, "genome_bases": genome_bases,
                      "read_bases": stats.bases * len(reads)}}
    kind = "rna" if req.annotation is not None else "dna"
    return Dataset.build(req.out.resolve(), kind, files, params, info)
