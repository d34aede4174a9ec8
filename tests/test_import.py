"""Real data intake: good files become a dataset; bad ones get one clear line each."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from genscale.data.importer import ImportRequest, import_dataset
from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.workflow.loader import load_workflow
from genscale.workflow.plan import make_plan

from .conftest import GENSCALE, write


@pytest.fixture
def files(dna_dataset: Dataset, tmp_path: Path) -> dict[str, Path]:
    """The synthetic dataset's files, as a user would hold them: loose, and some plain."""
    out = {name: dna_dataset.file(name) for name in ("reference", "reads_1", "reads_2")}
    for mate in ("reads_1", "reads_2"):
        plain = tmp_path / f"user_{mate}.fastq"
        with gzip.open(out[mate], "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        out[f"plain_{mate}"] = plain
    return out


def test_paired_fastq_import_describes_and_plans(files: dict[str, Path], tmp_path: Path,
                                                 dna_dataset: Dataset) -> None:
    dataset = import_dataset(ImportRequest(tmp_path / "ds", files["reference"],
                                           [files["plain_reads_1"], files["plain_reads_2"]]))
    assert dataset.kind == "dna"
    assert dataset.info["stats"]["pairs"] == dna_dataset.info["stats"]["pairs"]
    assert dataset.params["read_length"] == 100
    loaded = Dataset.load(tmp_path / "ds")
    assert loaded.file("reads_1").read_bytes() == files["plain_reads_1"].read_bytes()
    # dnaseq plans on it; base recalibration is skipped for want of known sites
    workflow, source = load_workflow("dnaseq")
    plan = make_plan(workflow, source, loaded, tmp_path / "work")
    assert plan.skipped["base_recalibrator"] == "the dataset has no known_sites"


def test_bam_import_gives_back_the_pairs(files: dict[str, Path], tmp_path: Path) -> None:
    bam = tmp_path / "reads.bam"
    subprocess.run(["samtools", "import", "-1", str(files["reads_1"]), "-2",
                    str(files["reads_2"]), "-o", str(bam)], check=True, capture_output=True)
    dataset = import_dataset(ImportRequest(tmp_path / "ds", files["reference"], bam=bam))
    with gzip.open(files["reads_1"], "rt") as f:
        pairs = sum(1 for _ in f) // 4
    assert dataset.info["stats"]["pairs"] == pairs
    assert set(dataset.files) >= {"reads_1", "reads_2", "reference"}


def error(request: ImportRequest) -> str:
    with pytest.raises(UserError) as err:
        import_dataset(request)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_truncated_gzip(files: dict[str, Path], tmp_path: Path) -> None:
    data = files["reads_1"].read_bytes()
    cut = write(tmp_path / "cut.fq.gz", "")
    cut.write_bytes(data[: len(data) // 2])
    message = error(ImportRequest(tmp_path / "ds", files["reference"], [cut]))
    assert str(cut) in message and "truncated gzip" in message


def test_mates_with_different_counts(files: dict[str, Path], tmp_path: Path) -> None:
    lines = files["plain_reads_2"].read_text().splitlines(keepends=True)
    short = write(tmp_path / "short_2.fq", "".join(lines[:-4]))
    message = error(ImportRequest(tmp_path / "ds", files["reference"],
                                  [files["plain_reads_1"], short]))
    assert str(short) in message and "mates have different read counts" in message


def test_empty_and_malformed_fastq(files: dict[str, Path], tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.fq", "")
    assert error(ImportRequest(tmp_path / "a", files["reference"], [empty])) == \
        f"{empty}: empty file"
    bad = write(tmp_path / "bad.fq", "@r1\nACGT\n+\nIIII\n@r2\nACGT\nIIII\n")
    message = error(ImportRequest(tmp_path / "b", files["reference"], [bad]))
    assert str(bad) in message and "not valid FASTQ" in message and "line" in message


def test_bad_fasta_and_gtf_name_the_line(files: dict[str, Path], tmp_path: Path) -> None:
    fasta = write(tmp_path / "ref.fa", ">chr1\nACGT\nAC!T\n")
    assert error(ImportRequest(tmp_path / "a", fasta, [files["plain_reads_1"]])) == \
        f"{fasta}:3: not a nucleotide: '!'"
    headless = write(tmp_path / "noheader.fa", "ACGT\n")
    assert "a FASTA file starts with a '>'" in error(
        ImportRequest(tmp_path / "b", headless, [files["plain_reads_1"]]))
    gtf = write(tmp_path / "genes.gtf", "chr1\tx\texon\t10\t5\t.\t+\t.\tgene_id \"g\"; "
                                        "transcript_id \"t\";\n")
    assert error(ImportRequest(tmp_path / "c", files["reference"], [files["plain_reads_1"]],
                               annotation=gtf)) == \
        f"{gtf}:1: expected 1 <= start <= end, got 10..5"


def test_sra_without_toolkit_says_so(files: dict[str, Path], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a machine without sra-toolkit
    message = error(ImportRequest(tmp_path / "ds", files["reference"], sra="SRR000001"))
    assert "fasterq-dump not found" in message and "sra-toolkit" in message


def test_import_cli_is_one_line_on_error(files: dict[str, Path], tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.fq", "")
    proc = subprocess.run([GENSCALE, "data", "import", "--out", str(tmp_path / "ds"),
                           "--reference", str(files["reference"]), "--reads", str(empty)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"genscale: error: {empty}: empty file\n"
