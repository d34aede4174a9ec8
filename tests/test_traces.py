"""Nextflow trace and Snakemake benchmark importers.

The Nextflow traces in tests/data were written by hand to Nextflow's documented trace
format (no Nextflow here); the Snakemake benchmark files were written by real Snakemakes
(9.27.1 and 5.10.0), but for the layout before 3.13 (tests/data/snakemake/README).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genscale.errors import UserError
from genscale.store.importers.traces import (
    app_of,
    duration_s,
    memory_bytes,
    percent,
    requested_memory_bytes,
    total_mib,
)

from .conftest import GENSCALE, write

DATA = Path(__file__).parent / "data"


def imported(tmp_path: Path, kind: str, *files: Path) -> pd.DataFrame:
    out = tmp_path / "run"
    proc = subprocess.run([GENSCALE, "import", kind, *map(str, files), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    return pd.read_csv(out / "tasks.csv").set_index("task_id")


def test_raw_tsv_trace(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_raw.txt")
    star = tasks.loc["nextflow_trace_raw.2"]
    assert (star["app"], star["step"]) == ("star", "star_align")
    assert star["wall_s"] == 600.0
    assert star["cpu_time_s"] == pytest.approx(7.12 * 600)
    assert star["peak_rss_bytes"] == 31138512896
    assert star["read_chars"] == 21474836480 and star["write_bytes"] == 4200000000
    assert star["threads_requested"] == 8 and star["memory_requested_bytes"] == 34359738368
    assert star["host"] == "node-2" and star["start_time"] == 1700000032.0
    retry = tasks.loc[["nextflow_trace_raw.3", "nextflow_trace_raw.4"]]
    assert retry["status"].tolist() == ["failed", "succeeded"]
    assert retry["attempt"].tolist() == [1, 2] and retry["exit_code"].tolist() == [137, 0]
    assert pd.isna(retry.iloc[0]["read_bytes"])  # '-' is missing, not zero
    assert tasks.loc["nextflow_trace_raw.1", "app"] == "fastqc"


def test_human_readable_csv_trace(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_human.csv")
    bwa = tasks.loc["nextflow_trace_human.1"]
    assert bwa["app"] == "bwa" and bwa["wall_s"] == 3690.0
    assert bwa["cpu_time_s"] == pytest.approx(3.952 * 3690)
    assert bwa["peak_rss_bytes"] == round(12.5 * 2**30)
    assert tasks.loc["nextflow_trace_human.4", "wall_s"] == pytest.approx(0.85)
    assert tasks.loc["nextflow_trace_human.3", "status"] == "skipped"


def test_trace_with_decimal_commas(tmp_path: Path) -> None:
    """Nextflow before 19.02 wrote `%cpu` and memory in the machine's locale (nextflow-io/
    nextflow#986, #999: `99,3%`, under fr_FR), with that version's default fields (`rss`,
    `vmem`, no `peak_rss`). 0.10.x refused the file (`%cpu: expected could not convert
    string to float`)."""
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_locale.tsv")
    bwa = tasks.loc["nextflow_trace_locale.2"]
    assert bwa["wall_s"] == 3718.0
    assert bwa["cpu_time_s"] == pytest.approx(3.951 * 3718)
    assert bwa["read_chars"] == round(14.7 * 2**30) and bwa["write_chars"] == round(11.3 * 2**30)
    assert tasks.loc["nextflow_trace_locale.1", "mean_cores"] == pytest.approx(1.874)
    assert tasks.loc["nextflow_trace_locale.3", "write_chars"] == 317
    # `rss` is the last reading of ps, not the peak: left out, never passed off as it
    assert tasks["peak_rss_bytes"].isna().all()


def test_trace_of_a_run_that_stopped_with_tasks_pending(tmp_path: Path) -> None:
    """When a run stops (a task failed, or the user interrupted it), Nextflow writes the
    tasks still pending as they stand (TraceFileObserver.onFlowComplete): status `RUNNING`
    or `SUBMITTED` (the task's state), `-` for what was never measured. 0.10.x refused the
    whole trace (`status: expected one of COMPLETED, ...`); they are tasks that did not
    finish, `cancelled`, with nothing measured, beside the finished ones."""
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_interrupted.txt")
    stem = "nextflow_trace_interrupted"
    assert tasks["status"].tolist() == ["succeeded", "failed", "cancelled", "cancelled"]
    pending = tasks.loc[[f"{stem}.3", f"{stem}.4"]]
    assert pending[["wall_s", "cpu_time_s", "peak_rss_bytes", "exit_code"]].isna().all().all()
    assert pending["submit_time"].notna().all()
    assert tasks.loc[f"{stem}.2", "wall_s"] == 2 * 3600 + 2 * 60 + 58
    assert tasks.loc[f"{stem}.3", "step"] == "bwamem1_mem"


def test_trace_with_the_script_and_env_of_each_task(tmp_path: Path) -> None:
    """`trace.fields` may add `script` and `env`, which Nextflow writes as they are, line
    breaks and blank lines included (nextflow-io/nextflow#1765, closed without escaping):
    0.10.x stopped at the first one (`fewer fields than the header's`). A row is the lines
    that hold the header's fields; the same tasks with the script last read the same. A
    tab inside a script leaves the rows ambiguous: one line naming the row and the way
    out."""
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_script.txt")
    stem = "nextflow_trace_script"
    assert tasks["step"].tolist() == ["fastqc", "star_align", "samtools_sort"]
    assert tasks["status"].tolist() == ["succeeded", "succeeded", "failed"]
    assert tasks["wall_s"].tolist() == [41.2, 723.0, 1.2]
    assert tasks.loc[f"{stem}.2", "peak_rss_bytes"] == round(31.4 * 2**30)
    text = (DATA / "nextflow_trace_script.txt").read_text()
    no_env = re.sub(r"\t(PATH=[^\t]*?\n\n|-\n$)(?=\d|$)", "\n", text).replace("\tenv\n", "\n")
    assert no_env.count("\tPATH=") == 0 and "\tscript\n" in no_env
    last = imported(tmp_path / "last", "nextflow-trace",
                    write(tmp_path / "script_last.txt", no_env))
    assert last["wall_s"].tolist() == tasks["wall_s"].tolist()
    assert last["status"].tolist() == tasks["status"].tolist()
    tabbed = text.replace("fastqc --quiet", "fastqc\t--quiet")
    bad = write(tmp_path / "tab.txt", tabbed)
    proc = subprocess.run([GENSCALE, "import", "nextflow-trace", str(bad), "--out",
                           str(tmp_path / "tab_run")], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    # the row after the tab is where the count goes wrong: the env's line starts a row
    assert f"{bad}:8: more fields than the header's 10, or a row's script or env text" \
        in proc.stderr and "leave script and env out of trace.fields" in proc.stderr


def test_two_traces_in_one_run(tmp_path: Path) -> None:
    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_raw.txt",
                     DATA / "nextflow_trace_human.csv")
    assert len(tasks) == 8
    assert set(tasks["workflow_id"]) == {"nextflow_trace_raw", "nextflow_trace_human"}


@pytest.mark.parametrize(("text", "message"), [
    ("name\trealtime\nX\t10 parsecs\n", "trace.txt:2: realtime: expected a duration"),
    ("name\trealtime\tpeak_rss\nX\t100\t12 furlongs\n", "peak_rss: expected bytes"),
    ("wall\tcpu\n1\t2\n", "not a Nextflow trace"),
    ("name\trealtime\tstatus\nX\t100\tWHATEVER\n", "status: expected one of"),
    # found by the fuzz test: the header ran on to the end of the file, newlines and all
    ('"\ntask_id,name,realtime\n1,a,5\n', "trace.txt:1: a quote in the header is never"),
])
def test_bad_trace_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    bad = write(tmp_path / "trace.txt", text)
    proc = subprocess.run([GENSCALE, "import", "nextflow-trace", str(bad), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(bad) in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()  # nothing half-imported


@given(st.integers(0, 3), st.integers(0, 23), st.integers(0, 59),
       st.floats(0, 59.9, allow_nan=False).map(lambda x: round(x, 1)))
def test_duration_forms(days: int, hours: int, minutes: int, seconds: float) -> None:
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "",
             f"{minutes}m" if minutes else "", f"{seconds}s"]
    text = " ".join(p for p in parts if p)
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds
    assert duration_s(text) == pytest.approx(expected)
    assert duration_s(str(int(expected * 1000))) == pytest.approx(int(expected * 1000) / 1000)


def test_units_and_names() -> None:
    assert memory_bytes("1.5 KB") == 1536 and memory_bytes("7") == 7
    assert memory_bytes("1,5 KB") == 1536 and percent("99,3%") == percent("99.3") == 99.3
    with pytest.raises(ValueError, match="a percentage"):
        percent("1,234.5%")
    assert memory_bytes("2 GB") == 2 * 2**30
    with pytest.raises(ValueError):
        memory_bytes("2 parsecs")
    assert duration_s("45ms") == pytest.approx(0.045)
    assert app_of("NFCORE_RNASEQ:RNASEQ:FASTQC (S1)") == ("fastqc", "fastqc")
    assert app_of("NFCORE_SAREK:SAREK:GATK4_MARKDUPLICATES") == ("gatk4", "gatk4_markduplicates")


def test_snakemake_benchmarks(tmp_path: Path) -> None:
    files = sorted((DATA / "snakemake").glob("*/*.tsv"))
    assert files
    tasks = imported(tmp_path, "snakemake-benchmark", *files)
    raw = pd.concat([pd.read_csv(f, sep="\t") for f in files])
    assert len(tasks) == len(raw)
    assert tasks["wall_s"].sum() == pytest.approx(raw["s"].sum())
    assert tasks["cpu_time_s"].sum() == pytest.approx(raw["cpu_time"].sum())
    assert tasks["peak_rss_bytes"].max() == round(raw["max_rss"].max() * 2**20)
    assert set(tasks["step"]) == {f.parent.name for f in files}


def test_snakemake_benchmarks_of_every_layout(tmp_path: Path) -> None:
    """Every layout Snakemake has written (README in tests/data/snakemake): 0.10.x required
    `cpu_time` (refusing 3.x to 5.x files), read the 8.x extended `input_size_mb` dict as a
    number (refusing every extended file) and could not read `.jsonl` benchmark files."""
    layouts = DATA / "snakemake"
    old = imported(tmp_path / "3.11", "snakemake-benchmark",
                   layouts / "v3.11" / "sort_numbers" / "a.tsv")
    assert old["wall_s"].tolist() == pytest.approx([2.1342319011688233, 2.098706007003784])
    assert old["cpu_time_s"].isna().all() and old["peak_rss_bytes"].isna().all()
    assert set(old["step"]) == {"sort_numbers"}

    files = sorted((layouts / "v5.10").glob("*/*.tsv"))
    five = imported(tmp_path / "5.10", "snakemake-benchmark", *files)
    raw = pd.concat([pd.read_csv(f, sep="\t") for f in files])
    assert len(five) == len(raw) == 3
    assert five["peak_rss_bytes"].max() == round(raw["max_rss"].max() * 2**20)
    # no cpu_time before 6.0; its mean_load is not taken for it (see the importer)
    assert five["cpu_time_s"].isna().all() and five["mean_cores"].isna().all()

    extended = layouts / "v9-extended"
    tsv = imported(tmp_path / "tsv", "snakemake-benchmark", extended / "pack" / "a.tsv")
    assert len(tsv) == 2 and set(tsv["step"]) == {"pack"}
    assert (tsv["threads_requested"] == 2).all()
    assert (tsv["memory_requested_bytes"] == 500 * 10**6).all()
    assert (tsv["input_bytes"] == round(4.76837158203125 * 2**20)).all()
    jsonl = imported(tmp_path / "jsonl", "snakemake-benchmark",
                     extended / "sort_numbers" / "a.jsonl").iloc[0]
    assert jsonl["step"] == "sort_numbers" and jsonl["wall_s"] == 1.3011
    assert jsonl["cpu_time_s"] == 0.87 and jsonl["peak_rss_bytes"] == round(57.703125 * 2**20)
    assert jsonl["input_bytes"] == round(4.76837158203125 * 2**20)
    assert pd.isna(jsonl["memory_requested_bytes"])  # its resources name no memory


def test_snakemake_benchmarks_in_the_tutorials_flat_folder(tmp_path: Path) -> None:
    """The tutorial's layout, `benchmarks/{sample}.bwa.benchmark.txt`, one folder for every
    rule: the real 9.27.1 files copied there. Without --rule-pattern the rule is the file
    name up to its first dot (here the sample: 0.10.x's only choice); with the
    directive's pattern, the rule. A file the pattern does not fit, or a pattern without
    {rule}, is one line."""
    flat = tmp_path / "benchmarks"
    flat.mkdir()
    for rule in ("pack", "sort_numbers"):
        (flat / f"sample1.{rule}.benchmark.txt").write_bytes(
            (DATA / "snakemake" / rule / "sample1.tsv").read_bytes())
    files = sorted(flat.iterdir())
    assert set(imported(tmp_path / "plain", "snakemake-benchmark", *files)["step"]) == {
        "sample1"}
    out = tmp_path / "by-pattern"
    proc = subprocess.run([GENSCALE, "import", "snakemake-benchmark", *map(str, files),
                           "--out", str(out), "--rule-pattern",
                           "benchmarks/{sample,[a-z0-9]+}.{rule}.benchmark.txt"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tasks = pd.read_csv(out / "tasks.csv")
    assert sorted(tasks["step"]) == ["pack", "pack", "sort_numbers"]
    for pattern, message in (
            ("{sample}.{rule}.tsv", "sample1.pack.benchmark.txt: does not match "
                                    "--rule-pattern '{sample}.{rule}.tsv'"),
            ("{sample}.bwa.benchmark.txt", "expected a {rule} wildcard"),
            ("{sample.{rule}.txt", "a brace that opens no wildcard"),
            ("{sample,[a-z}.{rule}.txt", "not a valid constraint")):
        proc = subprocess.run([GENSCALE, "import", "snakemake-benchmark", str(files[0]),
                               "--out", str(tmp_path / "bad"), "--rule-pattern", pattern],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, (pattern, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()


def test_snakemake_extended_fields() -> None:
    assert total_mib("{'a.fq': 1.5, 'dir/b c.fq': 2}") == 3.5 and total_mib("7.25") == 7.25
    for bad in ("{'a': 'big'}", "{'a': 1", "__import__('os')", "[True]"):
        with pytest.raises(ValueError, match="MiB"):
            total_mib(bad)
    assert requested_memory_bytes("{'_cores': 2, 'mem_mb': 500, 'mem_mib': 477}") == 500 * 10**6
    assert requested_memory_bytes('{"mem_mib": 100}') == 100 * 2**20
    assert requested_memory_bytes("{'tmpdir': <TBDString>}") is None


@pytest.mark.parametrize(("name", "text", "message"), [
    ("x.tsv", "s\th:m:s\tmax_rss\n1.0\t0:00:01\tlots\n",
     "x.tsv:2: max_rss: expected a number, got 'lots'"),
    ("x.tsv", "s\th:m:s\tthreads\n1.0\t0:00:01\t2.5\n", "threads: expected a whole number"),
    ("x.tsv", "s\th:m:s\tinput_size_mb\n1\t0:00:01\t{'a': -1}\n",
     "input_size_mb: expected a number >= 0"),
    ("x.jsonl", '{"s": 1.0, "h:m:s": "0:00:01"}\n{"s": 2.0,\n', "x.jsonl:2: not JSON"),
    ("x.jsonl", "[1, 2]\n", "not a Snakemake benchmark file"),
    ("x.jsonl", '{"s": 1.0, "h:m:s": "0:00:01"}\n[1]\n', "x.jsonl:2: expected a JSON object"),
    ("x.jsonl", '{"s": NaN, "h:m:s": "0:00:01"}\n', "s: expected a finite number"),
    # a key holding a line break, quoted back: shown, not obeyed (any UserError)
    ("x.jsonl", '{"x": 1.0, "a\\nb": 3}\n', "found x, a\\nb"),
])
def test_bad_benchmark_file_is_one_line(tmp_path: Path, name: str, text: str,
                                        message: str) -> None:
    bad = write(tmp_path / name, text)
    proc = subprocess.run([GENSCALE, "import", "snakemake-benchmark", str(bad), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(bad) in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def test_not_a_benchmark_file(tmp_path: Path) -> None:
    from genscale.store.importers.traces import snakemake_rows

    with pytest.raises(UserError, match="not a Snakemake benchmark file"):
        snakemake_rows(write(tmp_path / "x.tsv", "a\tb\n1\t2\n"), "r")


def test_summary_columns_are_one_counter_each(tmp_path: Path) -> None:
    """0.10.0's "read MiB" was read calls and its "written MiB" storage writes, so a
    Nextflow trace (rchar, wchar, no storage counters) showed a blank beside its data."""
    from genscale.report.summary import summary_table

    tasks = imported(tmp_path, "nextflow-trace", DATA / "nextflow_trace_human.csv")
    table = summary_table(tasks.reset_index()).set_index("task")
    bwa = table.loc["nextflow_trace_human.1"]
    assert bwa["read() MiB"] == pytest.approx(30.1 * 1024)
    assert bwa["write() MiB"] == pytest.approx(8.2 * 1024)
    assert pd.isna(bwa["storage read MiB"]) and pd.isna(bwa["storage written MiB"])


@pytest.mark.parametrize(("kind", "name"), [
    ("nextflow-trace", "nextflow_trace_human.csv"),
    ("snakemake-benchmark", "snakemake/v5.10/sort_numbers/a.tsv"),
    ("pidstat", "pidstat_one_process.txt"),
    ("wfformat", "wfformat/nextflow-bacass-1.6.json"),
])
def test_files_saved_on_windows_import_the_same(tmp_path: Path, kind: str, name: str) -> None:
    """A trace opened and saved again by a spreadsheet or an editor on Windows (a UTF-8
    byte-order mark, CRLF line ends) imports as the original; the mark made the first column
    unknown (a Snakemake file was refused, a WfFormat file was "not JSON")."""
    original = DATA / name
    copy = tmp_path / "windows" / name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"\xef\xbb\xbf" + original.read_bytes().replace(b"\n", b"\r\n"))
    expected = imported(tmp_path / "original", kind, original)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(imported(tmp_path / "windows", kind, copy), expected)


def test_a_trace_saved_by_a_spreadsheet_in_a_decimal_comma_locale(tmp_path: Path) -> None:
    """`;` between fields and decimal commas in the numbers (a trace opened and saved as
    CSV by a spreadsheet set to such a locale): imported as the original; it was one
    column, refused for the fields it lacked."""
    original = DATA / "nextflow_trace_human.csv"
    lines = original.read_text().splitlines()
    submit = lines[0].split(",").index("submit")
    european = [lines[0].replace(",", ";")]
    for line in lines[1:]:
        fields = line.split(",")
        european.append(";".join(f if i == submit else f.replace(".", ",")
                                 for i, f in enumerate(fields)))
    copy = tmp_path / "saved" / original.name
    copy.parent.mkdir()
    copy.write_text("\n".join(european) + "\n")
    pd.testing.assert_frame_equal(imported(tmp_path / "saved", "nextflow-trace", copy),
                                  imported(tmp_path / "original", "nextflow-trace", original))


@pytest.mark.parametrize(("kind", "name"), [
    ("nextflow-trace", "nextflow_trace_raw.txt"),
    ("snakemake-benchmark", "snakemake/v5.10/sort_numbers/a.tsv"),
    ("pidstat", "pidstat_two_processes.txt"),
    ("wfformat", "wfformat/nextflow-bacass-1.6.json"),
])
def test_gzipped_files_import_the_same(tmp_path: Path, kind: str, name: str) -> None:
    """A trace or log kept gzipped (`trace.txt.gz`, as archives keep them) imports as the
    file itself, its ids without the `.gz` (0.10.x: "not a text file")."""
    import gzip

    original = DATA / name
    copy = tmp_path / "packed" / (name + ".gz")
    copy.parent.mkdir(parents=True)
    copy.write_bytes(gzip.compress(original.read_bytes()))
    pd.testing.assert_frame_equal(imported(tmp_path / "packed", kind, copy),
                                  imported(tmp_path / "original", kind, original))
    cut = tmp_path / "cut" / (name + ".gz")
    cut.parent.mkdir(parents=True)
    cut.write_bytes(copy.read_bytes()[:-12])  # the gzip trailer lost
    proc = subprocess.run([GENSCALE, "import", kind, str(cut), "--out", str(tmp_path / "no")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "a corrupt or truncated gzip file" in proc.stderr
    assert not (tmp_path / "no").exists()
