"""Every parser of a user's file, fed real files mutated by hypothesis: the only outcomes
are a result (whose measurements are finite and not negative) or the user-error exception
with its one line. The real files are the QC reports of the session's dnaseq run, the
prototype's pidstat logs and the trace files in tests/data.
"""

from __future__ import annotations

import json
import math
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genscale.errors import UserError
from genscale.quality.detect import parse_report
from genscale.store.importers.pidstat import to_rows as pidstat_rows
from genscale.store.importers.sacct import sacct_rows
from genscale.store.importers.traces import nextflow_rows, snakemake_rows
from genscale.store.importers.wfformat import wfformat_rows
from genscale.store.rundir import RunDirectory

DATA = Path(__file__).parent / "data"
HOSTILE_TOKENS = ["nan", "NaN", "inf", "-inf", "-1", "-0.5", "1e400", "9" * 40, "", "x",
                  "1,5", "%", "\x00", "\udcff", "-", "NA", "0"]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` changed one to three ways, as real files get broken: a line lost, doubled or
    cut, a field swapped for a hostile token, tabs turned to spaces, the end cut off."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "double", "cut", "token", "spaces",
                                     "truncate", "junk"]))
        if kind == "drop":
            del lines[i]
        elif kind == "double":
            lines.insert(i, lines[i])
        elif kind == "cut":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        elif kind == "token":
            sep = "\t" if "\t" in lines[i] else ("," if "," in lines[i] else " ")
            fields = lines[i].split(sep)
            j = draw(st.integers(0, len(fields) - 1))
            fields[j] = draw(st.sampled_from(HOSTILE_TOKENS))
            lines[i] = sep.join(fields)
        elif kind == "spaces":
            lines[i] = lines[i].replace("\t", "  ")
        elif kind == "truncate":
            lines = lines[:i]
        else:
            lines.insert(i, draw(st.text(max_size=40)))
    return "\n".join(lines)


def assert_measures_clean(value: Any) -> None:
    """No NaN, inf or negative measurement anywhere in an importer's rows."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("exit_code",):
                assert_measures_clean(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_measures_clean(item)
    elif isinstance(value, float | int) and not isinstance(value, bool):
        assert math.isfinite(value) and value >= 0, value


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def reports(dnaseq_run: RunDirectory, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, str]:
    """name -> text of every QC report of the real dnaseq run (FastQC's from its zip)."""
    work = dnaseq_run.path / "work"
    out = {p.name: p.read_text() for p in sorted((work / "metrics").glob("*.txt"))}
    with zipfile.ZipFile(next((work / "qc").rglob("*_fastqc.zip"))) as archive:
        name = next(n for n in archive.namelist() if n.endswith("fastqc_data.txt"))
        out["fastqc_data.txt"] = archive.read(name).decode()
    out["trimmomatic.log"] = (dnaseq_run.path / "logs" / "trim.err").read_text()
    for fmt in ("tsv", "json"):  # flagstat's other formats, by the same samtools
        out[f"flagstat_{fmt}.txt"] = (DATA / "flagstat" / f"{fmt}.txt").read_text()
    out["trimmomatic_summary.txt"] = (DATA / "trimmomatic" / "pe_summary.txt").read_text()
    out["wgs_nonzero.txt"] = (DATA / "picard" / "wgs_nonzero_coverage.txt").read_text()
    out["gatk2.grp"] = (DATA / "gatk" / "bqsr_gatk2_documentation.grp").read_text()
    out["quality_distribution.txt"] = (DATA / "picard" / "quality_distribution.txt").read_text()
    out["fastqc_0.12.txt"] = (DATA / "fastqc" / "v0.12.1_variable_length.txt").read_text()
    out["falco.txt"] = out["fastqc_0.12.txt"].replace("##FastQC\t0.12.1", "##Falco\t1.2.1", 1)
    out["bcftools.stats"] = (DATA / "bcftools" / "five_records.stats").read_text()
    out["markdup.stats"] = (DATA / "samtools" / "markdup_stats.txt").read_text()
    for name in ("pe.log", "pe.json", "trim_galore_r1.txt"):
        out[f"cutadapt_{name}"] = (DATA / "cutadapt" / name).read_text()
    out["sentieon_qualcal.table"] = (DATA / "gatk" / "sentieon_qualcal_layout.table").read_text()
    out["depth.sample_summary"] = (
        DATA / "gatk" / "depth_of_coverage_gatk3.sample_summary").read_text()
    scratch = tmp_path_factory.mktemp("coverage")  # samtools' and mosdepth's own outputs
    bam = scratch / "in.bam"
    bam.symlink_to(work / "align" / "markdup.bam")
    subprocess.run(["samtools", "index", str(bam)], check=True)
    out["coverage.txt"] = subprocess.run(["samtools", "coverage", str(bam)], check=True,
                                         capture_output=True, text=True).stdout
    subprocess.run(["mosdepth", "-n", "m", str(bam)], check=True, cwd=scratch)
    out["mosdepth.summary.txt"] = (scratch / "m.mosdepth.summary.txt").read_text()
    markdup = out["markdup.txt"].splitlines()  # Sentieon's layout of the same table
    at = next(i for i, line in enumerate(markdup) if line.startswith("## METRICS CLASS"))
    out["sentieon_dedup.txt"] = "\n".join(
        ["#SentieonCommandLine: driver -i a.bam --algo Dedup m.txt", *markdup[at + 1:]])
    for name, text in out.items():  # the unmutated files parse
        parse_report(write_text(tmp_path_factory.mktemp("r") / name, text))
    return out


REPORT_NAMES = ["flagstat.txt", "flagstat_tsv.txt", "flagstat_json.txt", "markdup.txt",
                "insert_size.txt", "samtools_stats.txt", "alignment_summary.txt", "wgs.txt",
                "fastqc_data.txt", "trimmomatic.log", "trimmomatic_summary.txt",
                "wgs_nonzero.txt", "sentieon_dedup.txt", "gatk2.grp",
                "quality_distribution.txt", "fastqc_0.12.txt", "cutadapt_pe.log",
                "cutadapt_pe.json", "cutadapt_trim_galore_r1.txt", "bcftools.stats",
                "markdup.stats", "falco.txt", "sentieon_qualcal.table", "depth.sample_summary",
                "coverage.txt", "mosdepth.summary.txt"]


@pytest.mark.parametrize("name", REPORT_NAMES)
@FUZZ
@given(data=st.data())
def test_qc_report_parsers_on_mutated_real_reports(name: str, data: st.DataObject,
                                                   reports: dict[str, str],
                                                   tmp_path: Path) -> None:
    text = data.draw(mutated(reports[name]))
    path = write_text(tmp_path / name, text)
    try:
        parse_report(path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@FUZZ
@given(data=st.data())
def test_fastqc_zip_with_flipped_bytes(data: st.DataObject, dnaseq_run: RunDirectory,
                                       tmp_path: Path) -> None:
    original = next((dnaseq_run.path / "work" / "qc").rglob("*_fastqc.zip")).read_bytes()
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(damaged) - 1))
        damaged[i] = data.draw(st.integers(0, 255))
    path = tmp_path / "r_fastqc.zip"
    path.write_bytes(bytes(damaged[: data.draw(st.integers(1, len(damaged)))]))
    try:
        parse_report(path)
    except UserError as exc:
        assert "\n" not in str(exc)


IMPORTERS: dict[str, tuple[Path, Callable[[Path, str], Any]]] = {
    "pidstat one process": (DATA / "pidstat_one_process.txt",
                            lambda p, r: [pidstat_rows(p, r)]),
    "pidstat two processes": (DATA / "pidstat_two_processes.txt",
                              lambda p, r: [pidstat_rows(p, r)]),
    "pidstat --human": (DATA / "pidstat_human.txt", lambda p, r: [pidstat_rows(p, r)]),
    "nextflow raw": (DATA / "nextflow_trace_raw.txt", nextflow_rows),
    "nextflow human": (DATA / "nextflow_trace_human.csv", nextflow_rows),
    "snakemake": (next((DATA / "snakemake").rglob("*.tsv"), DATA / "snakemake" / "README"),
                  snakemake_rows),
    "snakemake extended": (DATA / "snakemake" / "v9-extended" / "pack" / "a.tsv",
                           snakemake_rows),
    "snakemake jsonl": (DATA / "snakemake" / "v9-extended" / "sort_numbers" / "a.jsonl",
                        snakemake_rows),
    "nextflow locale": (DATA / "nextflow_trace_locale.tsv", nextflow_rows),
    "nextflow script and env": (DATA / "nextflow_trace_script.txt", nextflow_rows),
    "nextflow tasks pending": (DATA / "nextflow_trace_interrupted.txt", nextflow_rows),
    "sacct": (DATA / "sacct" / "slurm-22.05.txt", sacct_rows),
}


@pytest.mark.parametrize("name", list(IMPORTERS))
@FUZZ
@given(data=st.data())
def test_importers_on_mutated_real_files(name: str, data: st.DataObject,
                                         tmp_path: Path) -> None:
    source, convert = IMPORTERS[name]
    text = data.draw(mutated(source.read_text()))
    assert_rows_or_one_line(convert, write_text(tmp_path / source.name, text))


def assert_rows_or_one_line(convert: Callable[[Path, str], Any], path: Path) -> None:
    """An importer's only outcomes: rows with clean measures, or the one-line user error."""
    try:
        rows = convert(path, "r")
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert_measures_clean(rows)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**20) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5)


def _nodes(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as the keys and indexes that lead to it."""
    places = [at]
    if isinstance(value, dict):
        for key, child in value.items():
            places += _nodes(child, (*at, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            places += _nodes(child, (*at, index))
    return places


@FUZZ
@given(data=st.data())
def test_wfformat_import_on_instances_of_the_wrong_shape(data: st.DataObject,
                                                          tmp_path: Path) -> None:
    """Any node of a real-layout instance replaced by any JSON value: a result or one line
    (0.10.x: tracebacks from a task's machines, a specification that is not an object, ...)."""
    document = json.loads((DATA / "wfformat" / "nextflow-bacass-1.6.json").read_text())
    place = data.draw(st.sampled_from(_nodes(document)[1:]))
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = data.draw(JSON_VALUES)
    assert_rows_or_one_line(wfformat_rows, write_text(tmp_path / "i.json", json.dumps(document)))
