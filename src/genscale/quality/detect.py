"""Which report a file is, from its content (names vary too much to trust)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genscale.quality import aligners, bcftools, cutadapt, fastqc, gatk, mosdepth, picard, samtools
from genscale.quality.errors import ReportError
from genscale.textfiles import INFLATE_ERRORS, open_inflated, unix_newlines

Parser = Callable[[Path, str], dict[str, Any]]


def _head(text: str, lines: int = 5) -> str:
    return "\n".join(text.splitlines()[:lines])


# fastp writes its summary first; other JSON that holds fastp's sections further in (such
# as MultiQC's multiqc_data.json) is not a fastp report
_FASTP_START = re.compile(r'\s*\{\s*"summary"\s*:')


def detect(path: Path, text: str) -> Parser | None:
    """The parser for this content, or None."""
    head = _head(text)
    if head.startswith(fastqc.MARKS):
        return fastqc.parse
    if "## METRICS CLASS" in text or head.startswith((
            "## htsjdk.samtools.metrics", "## net.sf.picard.metrics", picard.SENTIEON_MARK)):
        return picard.parse
    if gatk.is_report(head):
        return gatk.parse
    if gatk.is_depth_summary(head):
        return gatk.parse_depth_summary
    if bcftools.MARK in head:  # its SN lines look like samtools stats' own
        return bcftools.parse_stats
    if "This file was produced by samtools stats" in head or "\nSN\t" in text[:20000]:
        return samtools.parse_stats
    if (" + " in head and "in total (QC-passed reads + QC-failed reads)" in head) or (
            "\ttotal (QC-passed reads + QC-failed reads)" in head) or (
            head.lstrip().startswith("{") and '"QC-passed reads"' in text[:1000]):
        return samtools.parse_flagstat  # -O default, tsv or json
    if samtools.is_markdup(head):
        return samtools.parse_markdup
    if samtools.is_coverage(head):
        return samtools.parse_coverage
    if mosdepth.is_summary(head):
        return mosdepth.parse_summary
    if "Uniquely mapped reads number" in text or "Started job on |" in head:
        return aligners.parse_star
    if cutadapt.BANNER.search(text[:20000]):  # alone, in a log, or in Trim Galore's report
        return cutadapt.parse_text
    if head.lstrip().startswith("{") and cutadapt.JSON_TAG in text[:1000]:
        return cutadapt.parse_json
    if head.startswith(cutadapt.MINIMAL_HEADER):
        return cutadapt.parse_minimal
    if "Input Read Pairs:" in text or "Input Reads:" in text:
        return aligners.parse_trimmomatic
    if _FASTP_START.match(text):
        return aligners.parse_fastp
    if samtools.looks_like_idxstats([line for line in head.splitlines() if line]):
        return samtools.parse_idxstats
    return None


# the tools whose reports are read, as the errors name them
READ_FORMATS = ("FastQC, Picard, samtools, bcftools, STAR, Trimmomatic, cutadapt, fastp, GATK, "
                "mosdepth")


def _read_capped(path: Path) -> bytes:
    """The file's bytes (gzipped: what it inflates to), refusing more than a report holds
    (a BAM given by mistake is not read whole into memory)."""
    try:
        with open_inflated(path) as f:
            data = f.read(fastqc.MAX_REPORT_BYTES + 1)
    except INFLATE_ERRORS as exc:
        raise ReportError(path, f"a corrupt or truncated gzip file ({exc})") from None
    if len(data) > fastqc.MAX_REPORT_BYTES:
        raise ReportError(path, f"more than {fastqc.MAX_REPORT_BYTES // 2**20} MiB: not a QC "
                                "report this tool reads")
    return data


def parse_report(path: Path) -> dict[str, Any]:
    """Detect and parse one report (FastQC, Picard, GATK, samtools, aligners' logs), by its
    content; its metrics as a flat dict. ReportError (a UserError) names the file and
    what was wrong.

        metrics = genscale.parse_report(Path("sample_fastqc.zip"))
    """
    if not path.is_file():
        raise ReportError(path, "no such file")
    if path.stat().st_size == 0:
        raise ReportError(path, "empty file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if zipfile.is_zipfile(path):
        text = fastqc.read_text(path)
    elif magic == b"PK\x03\x04":
        raise ReportError(path, "corrupt zip (no central directory: truncated?)")
    else:
        data = _read_capped(path)
        binary = ReportError(path, f"binary content: not a QC report this tool reads "
                                   f"({READ_FORMATS})")
        if b"\x00" in data[:8192]:
            raise binary
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise binary from None
    text = unix_newlines(text)  # a report saved on Windows reads as the tool wrote it
    parser = detect(path, text)
    if parser is None:
        raise ReportError(path, f"unknown format: not a report of {READ_FORMATS}")
    return {"file": str(path), **parser(path, text)}


def find_reports(folder: Path) -> list[Path]:
    """The files under `folder` (recursively, in name order) that are reports by their
    content, as MultiQC finds them; other files are passed over. A FastQC report found
    both as its zip and unzipped is taken once, from the folder.

        for path in genscale.find_reports(Path("results")):
            print(path, genscale.parse_report(path))
    """
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    if (any(n.endswith("fastqc_data.txt") for n in archive.namelist())
                            and not path.with_suffix("").is_dir()):
                        found.append(path)
                continue
            with open_inflated(path) as f:  # a gzipped report is one (BAMs are gzip too)
                head = unix_newlines(f.read(20000).decode("utf-8-sig", "ignore"))
        except (OSError, zipfile.BadZipFile, *INFLATE_ERRORS):
            continue
        if head and detect(path, head) is not None:
            found.append(path)
    return found
