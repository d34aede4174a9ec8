"""Every command, fed the mistakes real users make: the probe behind the docs' table.

Each case runs `genscale ARGS...` in this process (the CLI's own `main`, so hundreds of
cases take seconds) against files it makes in a scratch directory. The only acceptable
outcome of a mistake is exit status 2 (1 for `quality`, which reads on past a bad file)
with every stderr line starting `genscale: error:`, no traceback, and no output left
behind where the case names one. Anything else is a finding, printed as a table row.

    .venv/bin/python tests/hostile_probe.py [--only SUBSTRING] [--markdown]

tests/test_hostile_probe.py runs every case and fails on any finding.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import sys
import tempfile
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Setup = Callable[[Path], None]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "corpus-v1-wall_s"


@dataclass
class Case:
    group: str
    name: str
    args: list[str]  # "{d}" stands for the case's scratch directory
    setup: Setup | None = None
    leaves_nothing: list[str] = field(default_factory=list)  # paths that must not exist
    ok_codes: tuple[int, ...] = (2,)


def write(rel: str, text: str | bytes) -> Setup:
    def make(d: Path) -> None:
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return make


def both(*setups: Setup) -> Setup:
    def make(d: Path) -> None:
        for s in setups:
            s(d)
    return make


# -- files: each a small, realistic instance of a format, then broken one way ----------

SPEC_OK = """\
name: tiny
params: {min_len: 36}
steps:
  - name: count
    app: awk
    tools: [awk]
    outputs: {n: n.txt}
    command: echo {params.min_len} > {outputs.n}
"""
PIDSTAT_HEAD = ("Linux 6.1.0 (vm) \t11/21/26 \t_x86_64_\t(2 CPU)\n\n"
                "# Time        UID      TGID       TID    %usr %system  %guest   %wait    %CPU"
                "   CPU  minflt/s  majflt/s     VSZ     RSS   %MEM   kB_rd/s   kB_wr/s "
                "kB_ccwr/s iodelay  Command\n")


def pidstat_line(time: str = "08:00:44", cpu: str = "56.19", rss: str = "14076",
                 rd: str = "0.00") -> str:
    return (f"{time}        0     23793         -   56.19    0.00    0.00    0.00   {cpu}"
            f"     1      0.00      0.00  164308   {rss}   0.06      {rd}      0.00      "
            "0.00       0  python3\n")


NEXTFLOW_HEAD = "task_id\thash\tname\tstatus\texit\trealtime\t%cpu\tpeak_rss\trchar\n"
SACCT_HEAD = "JobID|JobName|State|ExitCode|ElapsedRaw|TotalCPU|ReqCPUS|ReqMem|MaxRSS\n"
SNAKEMAKE_HEAD = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load"
                  "\tcpu_time\n")
PICARD_DUP = """\
## htsjdk.samtools.metrics.StringHeader
# MarkDuplicates INPUT=[a.bam] OUTPUT=b.bam --METRICS_FILE m.txt
## METRICS CLASS\tpicard.sam.DuplicationMetrics
LIBRARY\tUNPAIRED_READS_EXAMINED\tREAD_PAIRS_EXAMINED\tSECONDARY_OR_SUPPLEMENTARY_RDS\t\
UNMAPPED_READS\tUNPAIRED_READ_DUPLICATES\tREAD_PAIR_DUPLICATES\tREAD_PAIR_OPTICAL_DUPLICATES\t\
PERCENT_DUPLICATION\tESTIMATED_LIBRARY_SIZE
{row}
"""
PICARD_ROW = "lib1\t12\t98000\t0\t40\t3\t29000\t14000\t0.295934\t120543"
FASTQC = """\
##FastQC\t0.11.9
>>Basic Statistics\tpass
#Measure\tValue
Filename\tr1.fq.gz
File type\tConventional base calls
Encoding\tSanger / Illumina 1.9
Total Sequences\t{total}
Sequences flagged as poor quality\t0
Sequence length\t100
%GC\t41
>>END_MODULE
"""
FASTQ = "@r1\nACGTACGTAC\n+\nIIIIIIIIII\n@r2\nTTGCATGCAA\n+\nIIIIIIIIII\n"
FASTA = ">chr1\n" + "ACGT" * 50 + "\n"
VCF = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


CUTADAPT = """This is cutadapt 4.2 with Python 3.11.2
Command line parameters: -a AGATCGGAAGAGC -o o.fq r.fq
Processing single-end reads on 1 core ...

=== Summary ===

Total reads processed:                   4,000
Reads with adapters:                     1,259 (31.5%)
Reads written (passing filters):         4,000 (100.0%)

Total basepairs processed:       400,000 bp
Total written (filtered):        386,521 bp (96.6%)
"""


def zip_bomb(d: Path) -> None:
    block = b"##FastQC\t0.11.9\n" + b"A" * (2**20 - 16)
    with zipfile.ZipFile(d / "bomb_fastqc.zip", "w", zipfile.ZIP_DEFLATED) as z, \
            z.open("bomb_fastqc/fastqc_data.txt", "w", force_zip64=True) as f:
        for _ in range(300):  # 300 MiB inflated, 0.3 MiB on disk
            f.write(block)


def bundle_copy(mutate: Callable[[Path], None]) -> Setup:
    def make(d: Path) -> None:
        shutil.copytree(BUNDLE, d / "bundle")
        mutate(d / "bundle")
    return make


def truncate(name: str, keep: float) -> Callable[[Path], None]:
    def cut(b: Path) -> None:
        data = (b / name).read_bytes()
        (b / name).write_bytes(data[:int(len(data) * keep)])
    return cut


def flip(name: str) -> Callable[[Path], None]:
    def change(b: Path) -> None:
        data = bytearray((b / name).read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        (b / name).write_bytes(bytes(data))
    return change


def pickle_in_place(b: Path) -> None:
    import pickle

    # a pickle that would run code if loaded: writes a marker beside it
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {b}/PWNED",))
    (b / "model.groups.json.gz").unlink()  # a bundle of 0.10's layout: read through skops
    (b / "model.skops").write_bytes(pickle.dumps(Boom()))


def gzip_bomb(b: Path) -> None:
    import gzip

    # 257 MiB of JSON-ish text inflated from 0.3 MiB: past what a groups file may inflate to
    (b / "model.groups.json.gz").write_bytes(gzip.compress(b" " * (257 << 20), 1))


def groups_json(text: str) -> Callable[[Path], None]:
    def change(b: Path) -> None:
        import gzip

        (b / "model.groups.json.gz").write_bytes(gzip.compress(text.encode()))
    return change


def rewrite(name: str, text: str) -> Callable[[Path], None]:
    def change(b: Path) -> None:
        (b / name).write_text(text)
    return change


def dataset(d: Path) -> None:
    from genscale.data.manifest import Dataset

    (d / "ds").mkdir()
    (d / "ds" / "reads_1.fq").write_text(FASTQ)
    Dataset.build(d / "ds", "dna", {"reads_1": "reads_1.fq"}, {}, {})


def run_dir(info: str | None = None, tasks: str | None = None) -> Setup:
    def make(d: Path) -> None:
        r = d / "run"
        (r / "logs").mkdir(parents=True)
        (r / "run.json").write_text(info if info is not None else json.dumps(
            {"run_id": "run", "status": "succeeded", "executor": "local"}))
        if tasks is not None:
            (r / "tasks.csv").write_text(tasks)
    return make


# -- the cases ---------------------------------------------------------------------------

def cases() -> list[Case]:
    out: list[Case] = []

    def add(group: str, name: str, args: list[str], setup: Setup | None = None,
            leaves: list[str] | None = None, ok: tuple[int, ...] = (2,)) -> None:
        out.append(Case(group, name, args, setup, leaves or [], ok))

    spec = write("tiny.yaml", SPEC_OK)
    runs = ["--runs-dir", "{d}/runs"]
    # run: flags
    for flag, values in {
        "--cores": ["0", "-1", "x", "1.5", "99999999999"],
        "--retries": ["-1", "x", "1e3"],
        "--memory": ["16Q", "lots", "-5G", "0", "0G", "1e400", "inf", "nan", "99999999999T",
                     ""],
        "--interval": ["inf", "nan", "-1", "0", "x", "1e9", "-inf", ""],
        "--prometheus-port": ["70000", "-1", "0", "x", "65536"],
        "--run-id": ["../../x", "/abs/x", ".hidden", "a b", "", "a/b", "..", "x" * 300],
        "--executor": ["pbs", "", "LOCAL"],
        "--repeat": ["-1", "-3"],
    }.items():
        for value in values:
            add("run flags", f"{flag} {value!r}",
                ["run", "{d}/tiny.yaml", *runs, flag, value], spec, leaves=["runs"])
    add("run flags", "--repeat without --only", ["run", "{d}/tiny.yaml", *runs, "--repeat",
                                                 "2"], spec, leaves=["runs"])
    add("run flags", "--only no such step", ["run", "{d}/tiny.yaml", *runs, "--only", "nope"],
        spec, leaves=["runs"])
    add("run flags", "--dry-run with local", ["run", "{d}/tiny.yaml", *runs, "--dry-run"],
        spec, leaves=["runs"])
    for value in ["noeq", "=1", "nokey=1", "min_len=x", "min_len=1; touch {d}/PWNED",
                  "min_len=1.5"]:
        add("run flags", f"--param {value!r}", ["run", "{d}/tiny.yaml", *runs, "--param",
                                                 value], spec, leaves=["runs", "PWNED"])
    add("run flags", "--runs-dir is a file", ["run", "{d}/tiny.yaml", "--runs-dir",
                                              "{d}/afile"], both(spec, write("afile", "x")))
    add("run flags", "--runs-dir under a file", ["run", "{d}/tiny.yaml", "--runs-dir",
                                                 "{d}/afile/runs"],
        both(spec, write("afile", "x")))
    add("run flags", "no workflow", ["run", *runs])
    add("run flags", "two workflows", ["run", "dnaseq", "rnaseq", *runs])
    add("run flags", "unknown flag", ["run", "{d}/tiny.yaml", "--coars", "2"], spec)
    # run: datasets
    add("run dataset", "--dataset missing", ["run", "dnaseq", *runs, "--dataset", "{d}/no"],
        leaves=["runs"])
    add("run dataset", "--dataset is a file", ["run", "dnaseq", *runs, "--dataset",
                                               "{d}/f"], write("f", "x"), leaves=["runs"])
    add("run dataset", "--dataset has no manifest", ["run", "dnaseq", *runs, "--dataset",
                                                     "{d}/ds"], write("ds/x", "x"),
        leaves=["runs"])
    for name, text in {"not JSON": "{", "a list": "[]", "no files": '{"kind": "dna"}',
                       "files not a mapping": '{"kind": "dna", "files": 3}',
                       "binary": "\udcff"}.items():
        add("run dataset", f"manifest {name}", ["run", "dnaseq", *runs, "--dataset", "{d}/ds"],
            write("ds/manifest.json", text.encode("utf-8", "surrogateescape")),
            leaves=["runs"])
    add("run dataset", "manifest names a missing file", ["run", "dnaseq", *runs,
                                                         "--dataset", "{d}/ds"],
        write("ds/manifest.json", '{"kind": "dna", "files": {"reads_1": {"path": "r.fq"}},'
                                  ' "params": {}, "info": {}}'), leaves=["runs"])
    # run: resume
    for name, setup in {
        "missing": None, "a file": write("run", "x"), "no run.json": write("run/x", "x"),
        "run.json not JSON": run_dir("{"), "run.json a list": run_dir("[]"),
        "run.json binary": write("run/run.json", b"\xff\xfe\x00"),
        "run.json of an import": run_dir(json.dumps({"run_id": "r", "status": "imported",
                                                     "executor": "pidstat-import"})),
        "run.json without settings": run_dir(json.dumps(
            {"run_id": "r", "status": "running", "executor": "local",
             "workflow": {"spec": {}}})),
    }.items():
        add("run resume", f"--resume {name}", ["run", "--resume", "{d}/run"], setup)
    add("run resume", "--resume with a workflow", ["run", "dnaseq", "--resume", "{d}/run"],
        run_dir())
    # specs
    for name, text in {
        "not UTF-8": b"name: x\xff\nsteps: []\n",
        "duplicate key": SPEC_OK.replace("  - name: count\n", "  - name: count\n    name: c\n"),
        "duplicate top key": SPEC_OK + "name: again\n",
        "threads 1e29": SPEC_OK.replace("    tools:", "    threads: 1.0e+29\n    tools:"),
        "threads -1": SPEC_OK.replace("    tools:", "    threads: -1\n    tools:"),
        "threads text": SPEC_OK.replace("    tools:", "    threads: many\n    tools:"),
        "threads .inf": SPEC_OK.replace("    tools:", "    threads: .inf\n    tools:"),
        "memory 99999999999T": SPEC_OK.replace("    tools:",
                                               "    memory: 99999999999T\n    tools:"),
        "memory .inf": SPEC_OK.replace("    tools:", "    memory: .inf\n    tools:"),
        "memory .nan": SPEC_OK.replace("    tools:", "    memory: .nan\n    tools:"),
        "memory -1": SPEC_OK.replace("    tools:", "    memory: -1\n    tools:"),
        "memory 1e400": SPEC_OK.replace("    tools:", "    memory: 1e400\n    tools:"),
        "unknown key": SPEC_OK.replace("    tools:", "    thread: 2\n    tools:"),
        "empty": "", "a list": "- a\n", "a string": "hello\n", "YAML error": "name: [\n",
        "tabs": "name:\tx\n\tsteps: []\n", "no steps": "name: x\nsteps: []\n",
        "bad name": SPEC_OK.replace("name: tiny", "name: 'ti ny'"),
        "output ..": SPEC_OK.replace("{n: n.txt}", "{n: ../../escape.txt}"),
        "output absolute": SPEC_OK.replace("{n: n.txt}", "{n: /tmp/escape.txt}"),
        "backquote placeholder": SPEC_OK.replace("echo {params.min_len}",
                                                 "echo `echo {params.min_len}`"),
        "heredoc placeholder": SPEC_OK.replace(
            "command: echo {params.min_len} > {outputs.n}",
            "command: |\n      cat > {outputs.n} <<EOF\n      {params.min_len}\n      EOF"),
        "undefined variable": SPEC_OK.replace("{params.min_len}", "{params.nope}"),
        "format spec": SPEC_OK.replace("{params.min_len}", "{params.min_len:>5}"),
        "lone brace": SPEC_OK.replace("{params.min_len}", "{params.min_len"),
        "cycle": SPEC_OK + "  - name: b\n    app: x\n    inputs: {i: n.txt}\n"
                           "    outputs: {o: m.txt}\n    command: cat {inputs.i} > {outputs.o}\n"
                           "  - name: c\n    app: x\n    inputs: {i: m.txt}\n"
                           "    outputs: {o: n.txt}\n    command: cat {inputs.i} > {outputs.o}\n",
        "tool missing": SPEC_OK.replace("tools: [awk]", "tools: [no-such-tool-xyz]"),
        "input missing": SPEC_OK.replace("    outputs:", "    inputs: {i: nowhere.txt}\n"
                                                       "    outputs:"),
        "a number as command": SPEC_OK.replace("command: echo {params.min_len} > {outputs.n}",
                                               "command: 42"),
        "param a list": SPEC_OK.replace("{min_len: 36}", "{min_len: [1, 2]}"),
    }.items():
        add("spec", name, ["run", "{d}/bad.yaml", *runs], write("bad.yaml", text),
            leaves=["runs", "escape.txt"])
    add("spec", "a directory", ["run", "{d}", *runs])
    # monitor
    for flag, value in [("--interval", "inf"), ("--interval", "nan"), ("--interval", "0"),
                        ("--interval", "-1"), ("--interval", "x"),
                        ("--prometheus-port", "70000"), ("--prometheus-port", "-5")]:
        add("monitor", f"{flag} {value}", ["monitor", flag, value, "--out", "{d}/m", "--",
                                           "true"], leaves=["m"])
    add("monitor", "--out is a file", ["monitor", "--out", "{d}/f", "--", "true"],
        write("f", "x"))
    add("monitor", "no command", ["monitor", "--out", "{d}/m"], leaves=["m"])
    add("monitor", "--out exists with a run", ["monitor", "--out", "{d}/run", "--", "true"],
        run_dir())
    # imports
    for kind, head, good in [("pidstat", PIDSTAT_HEAD, pidstat_line()),
                             ("nextflow-trace", NEXTFLOW_HEAD,
                              "1\tab/12\tBWA (s1)\tCOMPLETED\t0\t1000\t100%\t1 GB\t2 GB\n"),
                             ("snakemake-benchmark", SNAKEMAKE_HEAD,
                              "1.5\t0:00:01\t10\t20\t5\t6\t1\t2\t90\t1.3\n"),
                             ("sacct", SACCT_HEAD,
                              "7|bwa|COMPLETED|0:0|60|00:59.1|1|4G|\n7.batch|batch|COMPLETED|"
                              "0:0|60|00:59.1|1||1.2G\n")]:
        bad_rows: dict[str, str] = {
            "empty": "", "header only": head, "binary": "\x00\x01\x02",
            "not this format": "hello,world\n1,2\n",
            "truncated row": head + good[: len(good) // 2] + "\n",
        }
        if kind == "pidstat":
            bad_rows.update({
                "NaN %CPU": head + pidstat_line(cpu="nan"),
                "inf %CPU": head + pidstat_line(cpu="inf"),
                "negative %CPU": head + pidstat_line(cpu="-5.00"),
                "40-digit RSS": head + pidstat_line(rss="1" * 40),
                "negative RSS": head + pidstat_line(rss="-1"),
                "text RSS": head + pidstat_line(rss="lots"),
                "40-digit epoch": head.replace("Time", "Time") + pidstat_line(time="1" * 40),
                "bad clock": head + pidstat_line(time="25:99:99"),
                "1e400 read rate": head + pidstat_line(rd="1e400"),
                "no header": pidstat_line(),
                "header lacks RSS": head.replace(" RSS ", " XSS ") + pidstat_line(),
            })
        elif kind == "nextflow-trace":
            for label, row in {
                "negative realtime": "1\tab\tBWA\tCOMPLETED\t0\t-2160\t100%\t1 GB\t2 GB\n",
                "NaN %cpu": "1\tab\tBWA\tCOMPLETED\t0\t1000\tnan%\t1 GB\t2 GB\n",
                "inf memory": "1\tab\tBWA\tCOMPLETED\t0\t1000\t100%\tinf GB\t2 GB\n",
                "40-digit rchar": "1\tab\tBWA\tCOMPLETED\t0\t1000\t100%\t1 GB\t" + "9" * 40
                                  + "\n",
                "negative %cpu": "1\tab\tBWA\tCOMPLETED\t0\t1000\t-50%\t1 GB\t2 GB\n",
                "bad status": "1\tab\tBWA\tDONE\t0\t1000\t100%\t1 GB\t2 GB\n",
                "text realtime": "1\tab\tBWA\tCOMPLETED\t0\tlong\t100%\t1 GB\t2 GB\n",
                "bad unit": "1\tab\tBWA\tCOMPLETED\t0\t1000\t100%\t1 QB\t2 GB\n",
                "40-digit realtime": "1\tab\tBWA\tCOMPLETED\t0\t" + "9" * 40
                                     + "\t100%\t1 GB\t2 GB\n",
            }.items():
                bad_rows[label] = head + row
            bad_rows["no realtime column"] = "task_id\tname\n1\tBWA\n"
            bad_rows["a tab in a script"] = ("task_id\tname\trealtime\tscript\tenv\n"
                                             "1\tBWA (s1)\t1000\t\n  bwa\tmem a.fa\n\t"
                                             "PATH=/bin\n2\tBWA (s2)\t1000\t\n  bwa\n\t"
                                             "PATH=/bin\n")
            bad_rows["a script cut short"] = ("task_id\tname\trealtime\tscript\n1\tBWA"
                                              " (s1)\n  bwa mem\n")
        elif kind == "sacct":
            for label, row in {
                "negative ElapsedRaw": "7|bwa|COMPLETED|0:0|-5|00:59.1|1|4G|\n",
                "NaN ElapsedRaw": "7|bwa|COMPLETED|0:0|nan|00:59.1|1|4G|\n",
                "text TotalCPU": "7|bwa|COMPLETED|0:0|60|a minute|1|4G|\n",
                "40-digit ReqMem": "7|bwa|COMPLETED|0:0|60|00:59.1|1|" + "9" * 40 + "M|\n",
                "bad ReqMem unit": "7|bwa|COMPLETED|0:0|60|00:59.1|1|4Q|\n",
                "unknown state": "7|bwa|FINISHED|0:0|60|00:59.1|1|4G|\n",
                "bad exit code": "7|bwa|COMPLETED|zero|60|00:59.1|1|4G|\n",
                "a step before its job": "7.batch|batch|COMPLETED|0:0|60|00:59.1|1||1G\n",
                "text MaxRSS": "7|bwa|COMPLETED|0:0|60|00:59.1|1|4G|\n7.batch|batch|"
                               "COMPLETED|0:0|60|00:59.1|1||much\n",
                "empty JobID": "|bwa|COMPLETED|0:0|60|00:59.1|1|4G|\n",
            }.items():
                bad_rows[label] = head + row
            bad_rows["fixed-width table"] = ("JobID           JobName      State\n"
                                             "------------ ---------- ----------\n"
                                             "7                  bwa  COMPLETED\n")
            bad_rows["no Elapsed field"] = "JobID|State\n7|COMPLETED\n"
        else:
            for label, row in {
                "negative s": "-2.16\t0:00:01\t10\t20\t5\t6\t1\t2\t90\t1.3\n",
                "NaN cpu_time": "1.5\t0:00:01\t10\t20\t5\t6\t1\t2\t90\tnan\n",
                "inf max_rss": "1.5\t0:00:01\tinf\t20\t5\t6\t1\t2\t90\t1.3\n",
                "40-digit io_in": "1.5\t0:00:01\t10\t20\t5\t6\t" + "9" * 40
                                  + "\t2\t90\t1.3\n",
                "text s": "fast\t0:00:01\t10\t20\t5\t6\t1\t2\t90\t1.3\n",
                "negative cpu_time": "1.5\t0:00:01\t10\t20\t5\t6\t1\t2\t90\t-1\n",
            }.items():
                bad_rows[label] = head + row
            bad_rows["no h:m:s column"] = "s\tmax_rss\n1\t2\n"
            one = '{"s": 1.5, "h:m:s": "0:00:01", "max_rss": 10}'
            bad_rows.update({
                "JSON lines, one cut": one + "\n" + one[:20] + "\n",
                "JSON lines, NaN s": one.replace("1.5", "NaN") + "\n",
                "JSON lines, a list": one + "\n[1, 2]\n",
                "input_size_mb not a dict": "s\th:m:s\tinput_size_mb\n1.5\t0:00:01\t{'a': x}\n",
            })
        for label, text in bad_rows.items():
            add(f"import {kind}", label, ["import", kind, "{d}/in.txt", "--out", "{d}/out"],
                write("in.txt", text.encode("utf-8", "surrogateescape")), leaves=["out"])
        if kind == "snakemake-benchmark":
            for label, pattern in [("--rule-pattern without {rule}", "{sample}.txt"),
                                   ("--rule-pattern unmatched", "{rule}.tsv"),
                                   ("--rule-pattern open brace", "{rule.txt"),
                                   ("--rule-pattern bad constraint", "{rule,(}.txt")]:
                add(f"import {kind}", label, ["import", kind, "{d}/in.txt", "--out",
                                              "{d}/out", "--rule-pattern", pattern],
                    write("in.txt", head + good), leaves=["out"])
        add(f"import {kind}", "missing file", ["import", kind, "{d}/nope.txt", "--out",
                                               "{d}/out"], leaves=["out"])
        add(f"import {kind}", "a directory", ["import", kind, "{d}/dir", "--out", "{d}/out"],
            write("dir/x", "x"), leaves=["out"])
        add(f"import {kind}", "--out not empty", ["import", kind, "{d}/in.txt", "--out",
                                                  "{d}/out"],
            both(write("in.txt", head + good), write("out/keep", "x")))
        add(f"import {kind}", "--out is a file", ["import", kind, "{d}/in.txt", "--out",
                                                  "{d}/outf"],
            both(write("in.txt", head + good), write("outf", "x")))
        add(f"import {kind}", "a good file then a bad one",
            ["import", kind, "{d}/good.txt", "{d}/in.txt", "--out", "{d}/out"],
            both(write("good.txt", head + good), write("in.txt", "\x00")), leaves=["out"])
    # quality reports
    q_ok = (1,)
    for label, setup in {
        "missing file": None, "empty file": write("r.txt", ""),
        "binary": write("r.txt", b"\x00\xff\x00\xfe"),
        "unknown text": write("r.txt", "hello\n"),
        "zip bomb": zip_bomb,
        "corrupt zip": write("r.txt", b"PK\x03\x04" + b"\x00" * 40),
        "zip without fastqc_data": write("r.txt", b""),
        "picard columns shifted": write("r.txt", PICARD_DUP.format(
            row=PICARD_ROW.replace("lib1\t", ""))),
        "picard extra column": write("r.txt", PICARD_DUP.format(row=PICARD_ROW + "\t7")),
        "picard text as number": write("r.txt", PICARD_DUP.format(
            row=PICARD_ROW.replace("0.295934", "lots"))),
        "picard no rows": write("r.txt", PICARD_DUP.format(row="")),
        "picard truncated header": write("r.txt", "## METRICS CLASS\tpicard.sam.X\n"),
        "fastqc text Total Sequences": write("r.txt", FASTQC.format(total="many")),
        "fastqc truncated module": write("r.txt", FASTQC.format(total="10").replace(
            ">>END_MODULE\n", "")),
        "fastqc no basic statistics": write("r.txt", "##FastQC\t0.11.9\n"),
        "flagstat tsv text count": write("r.txt", "7\t1\ttotal (QC-passed reads + QC-failed "
                                         "reads)\nlots\t0\tmapped\n"),
        "flagstat json no total": write("r.txt", '{"QC-passed reads": {"mapped": 2}, '
                                        '"QC-failed reads": {}}'),
        "fastp section a list": write("r.txt", '{"summary": {"fastp_version": "0.23.2", '
                                      '"before_filtering": [1, 2]}}'),
        "sentieon command line only": write("r.txt", "#SentieonCommandLine: driver --algo "
                                            "Dedup m.txt\n"),
        "sentieon text as number": write("r.txt", "#SentieonCommandLine: driver --algo Dedup "
                                         "m.txt\n" + PICARD_DUP.format(row=PICARD_ROW.replace(
                                             "0.295934", "lots")).split(
                                             "picard.sam.DuplicationMetrics\n", 1)[1]),
        "gatk errors over observations": write("r.txt", "#:GATKReport.v1.1:1\n"
                                               "#:GATKTable:6:2:%s:%s:%.4f:%.4f:%d:%.2f:;\n"
                                               "#:GATKTable:RecalTable0:\nReadGroup EventType "
                                               "EmpiricalQuality EstimatedQReported "
                                               "Observations Errors\na M 30 30 10 99\n"
                                               "b M 30 30 10 1\n\n"),
        "picard files concatenated": write("r.txt", PICARD_DUP.format(row=PICARD_ROW) + "\n"
                                           + PICARD_DUP.format(row=PICARD_ROW)),
        "flagstat outputs concatenated": write("r.txt", "==> a <==\n7 + 1 in total (QC-passed "
                                               "reads + QC-failed reads)\n==> b <==\n7 + 1 in "
                                               "total (QC-passed reads + QC-failed reads)\n"),
        "cutadapt two runs in one log": write("r.txt", CUTADAPT + CUTADAPT),
        "cutadapt summary cut off": write("r.txt", CUTADAPT.split("=== Summary")[0]),
        "cutadapt json negative count": write("r.txt", '{"tag": "Cutadapt report", '
                                              '"read_counts": {"input": -5}, '
                                              '"basepair_counts": {"input": 10}}'),
        "cutadapt minimal two rows": write("r.txt", "status\tin_reads\tin_bp\tout_reads\t"
                                           "w/adapters\tqualtrim_bp\tout_bp\n"
                                           "OK\t4\t400\t4\t1\t0\t390\n"
                                           "OK\t5\t500\t5\t1\t0\t490\n"),
        "cutadapt minimal text count": write("r.txt", "status\tin_reads\tin_bp\tout_reads\t"
                                             "w/adapters\tqualtrim_bp\tout_bp\n"
                                             "OK\tfour\t400\t4\t1\t0\t390\n"),
        "cutadapt json counts a list": write("r.txt", '{"tag": "Cutadapt report", '
                                             '"read_counts": [1], "basepair_counts": {}}'),
        "fastqc total bases not a size": write("r.txt", FASTQC.format(total="10").replace(
            "Sequences flagged", "Total Bases\tlots\nSequences flagged")),
        "picard histogram with text": write("r.txt", "## htsjdk.samtools.metrics.StringHeader"
                                            "\n\n## HISTOGRAM\tjava.lang.Byte\nQUALITY\t"
                                            "COUNT_OF_Q\n30\tmany\n"),
        "picard histogram negative count": write("r.txt", "## htsjdk.samtools.metrics."
                                                 "StringHeader\n\n## HISTOGRAM\tjava.lang."
                                                 "Byte\nQUALITY\tCOUNT_OF_Q\n30\t-4\n"),
        "bcftools stats text count": write("r.txt", "# This file was produced by bcftools "
                                           "stats (1.16)\nSN\t0\tnumber of SNPs:\tmany\n"),
        "bcftools stats no summary": write("r.txt", "# This file was produced by bcftools "
                                           "stats (1.16)\nID\t0\ta.vcf\n"),
        "gzip cut short": write("r.txt", gzip.compress(b"7 + 0 in total (QC-passed reads + "
                                                       b"QC-failed reads)\n" * 20)[:-12]),
        "samtools markdup text count": write("r.txt", "COMMAND: samtools markdup -s a b\n"
                                             "READ: 10\nEXAMINED: many\n"
                                             "DUPLICATE PRIMARY TOTAL: 2\n"),
        "samtools markdup cut short": write("r.txt", "COMMAND: samtools markdup -s a b\n"
                                            "READ: 10\n"),
        "bed file": write("r.txt", "chr1\t100\t200\tgeneA\nchr1\t300\t400\tgeneB\n"),
        "idxstats cut short": write("r.txt", "chr1\t1000\t50\t2\nchr2\t800\t40\t1\n"),
        "a folder with no reports": write("folder/notes.txt", "hello\n"),
        "sentieon recal table cut short": write("r.txt", "#:SENTIEON_QCAL_TABLE.V1:1\n"
                                                "#:SENTIEON_QCAL_TABLE:6:3\n"
                                                "#:SENTIEON_QCAL_TABLE:RecalTable0:\n"
                                                "ReadGroup\tEventType\tEmpiricalQuality\t"
                                                "EstimatedQReported\tObservations\tErrors\n"
                                                "a\tM\t30\t30\t10\t1\n"),
        "depth of coverage without Total": write("r.txt", "sample_id,total,mean,granular_"
                                                 "third_quartile,granular_median,granular_"
                                                 "first_quartile\ns,10,0.5,1,1,1\n"),
        "depth of coverage decimal comma csv": write("r.txt", "sample_id,total,mean,granular"
                                                     "_third_quartile,granular_median,"
                                                     "granular_first_quartile\ns,10,0,5,1,1,"
                                                     "1\nTotal,10,0,5,N/A,N/A,N/A\n"),
        "samtools coverage text depth": write("r.txt", "#rname\tstartpos\tendpos\tnumreads\t"
                                              "covbases\tcoverage\tmeandepth\tmeanbaseq\t"
                                              "meanmapq\nchr1\t1\t100\t5\t90\t90\tdeep\t30\t"
                                              "60\n"),
        "samtools coverage header only": write("r.txt", "#rname\tstartpos\tendpos\tnumreads"
                                               "\tcovbases\tcoverage\tmeandepth\tmeanbaseq\t"
                                               "meanmapq\n"),
        "mosdepth summary without total": write("r.txt", "chrom\tlength\tbases\tmean\tmin\t"
                                                "max\nchr1\t100\t2000\t20.00\t0\t38\n"),
    }.items():
        target = "{d}/bomb_fastqc.zip" if label == "zip bomb" else (
            "{d}/folder" if "folder" in label else "{d}/r.txt")
        if label == "zip without fastqc_data":
            def make_zip(d: Path) -> None:
                with zipfile.ZipFile(d / "r.txt", "w") as z:
                    z.writestr("other.txt", "x")
            setup = make_zip
        add("quality", label, ["quality", target], setup,
            ok=(2,) if "folder" in label else q_ok)
    add("quality", "fastq: not FASTQ", ["quality", "fastq", "{d}/r.fq"],
        write("r.fq", "hello\n"), ok=q_ok)
    add("quality", "fastq: binary", ["quality", "fastq", "{d}/r.fq"],
        write("r.fq", b"\x00\xff"), ok=q_ok)
    add("quality", "fastq: truncated record", ["quality", "fastq", "{d}/r.fq"],
        write("r.fq", FASTQ[:-8]), ok=q_ok)
    add("quality", "fastq: no files", ["quality", "fastq"])
    add("quality", "table: not a run", ["quality", "table", "{d}/x", "--out", "{d}/t.csv"],
        write("x/y", "z"), leaves=["t.csv"])
    add("quality", "table: no --out", ["quality", "table", "{d}/x"], write("x/y", "z"))
    # model bundles
    for label, mutate in {
        "groups file truncated": truncate("model.groups.json.gz", 0.5),
        "groups file empty": truncate("model.groups.json.gz", 0.0),
        "groups file flipped bytes": flip("model.groups.json.gz"),
        "groups file a gzip bomb": gzip_bomb,
        "groups file not JSON": groups_json("{"),
        "groups file of another format": groups_json('{"groups": {}}'),
        "groups file: a group not a mapping": groups_json(
            '{"format": "genscale-groups/1", "groups": {"dnaseq | bwa": 1}}'),
        "groups file: a law of text": groups_json(
            '{"format": "genscale-groups/1", "groups": {"dnaseq | bwa": '
            '{"law": ["a", "b", "c"], "quantiles": {}}}}'),
        "a pickle in place of a 0.10 bundle's model.skops": pickle_in_place,
        "model.json broken": rewrite("model.json", "{"),
        "model.json a list": rewrite("model.json", "[]"),
        "model.json empty object": rewrite("model.json", "{}"),
        "model.json truncated": truncate("model.json", 0.5),
        "model.json binary": lambda b: (b / "model.json").write_bytes(b"\xff\x00"),
        "groups file missing": lambda b: (b / "model.groups.json.gz").unlink(),
    }.items():
        add("model", f"predict: {label}", ["model", "predict", "{d}/bundle", "--table",
                                           "{d}/t.csv", "--out", "{d}/p.csv"],
            both(bundle_copy(mutate), write("t.csv", "workflow,step\ndnaseq,bwa\n")),
            leaves=["p.csv", "bundle/PWNED"])
        if "model.json" in label:  # show reads model.json alone
            add("model", f"show: {label}", ["model", "show", "{d}/bundle"],
                bundle_copy(mutate))
    for label, text in {"empty": "", "header only": "a,b\n", "binary": "\x00\x01",
                        "no target": "workflow,step,read_bases\ndnaseq,bwa,10\n",
                        "text target": "workflow,step,read_bases,wall_s\n"
                                       "dnaseq,bwa,10,x\n"}.items():
        add("model", f"train: table {label}", ["model", "train", "{d}/t.csv", "--target",
                                               "wall_s", "--out", "{d}/b"],
            write("t.csv", text.encode("utf-8", "surrogateescape")), leaves=["b"])
    add("model", "train: missing table", ["model", "train", "{d}/none.csv", "--out", "{d}/b"],
        leaves=["b"])
    add("model", "train: --extrapolation straight",
        ["model", "train", "--table", "{d}/t.csv", "--target", "wall_s", "--extrapolation",
         "straight", "--out", "{d}/b"],
        write("t.csv", "workflow,step,read_bases,wall_s\ndnaseq,bwa,10,1\n"), leaves=["b"])
    add("model", "predict: no bundle", ["model", "predict", "{d}/none", "--table", "{d}/t.csv"],
        write("t.csv", "a\n1\n"))
    # data synth
    for flag, value in [("--pairs", "0"), ("--pairs", "-1"), ("--pairs", "x"),
                        ("--pairs", "1e20"), ("--gc", "0.95"), ("--gc", "nan"),
                        ("--gc", "-0.1"), ("--read-length", "400"), ("--read-length", "0"),
                        ("--genome-bases", "0"), ("--genome-bases", "-5"),
                        ("--preset", "nosuch"), ("--seed", "x"), ("--kind", "protein"),
                        ("--duplicate-fraction", "2"), ("--duplicate-fraction", "-0.1"),
                        ("--duplicate-fraction", "nan"), ("--adapter-fraction", "inf"),
                        ("--quality-shift", "nan"), ("--contamination-fraction", "1.5")]:
        add("data synth", f"{flag} {value}", ["data", "synth", "--out", "{d}/s", flag, value],
            leaves=["s"])
    add("data synth", "--out is a file", ["data", "synth", "--out", "{d}/f", "--pairs", "10"],
        write("f", "x"))
    # data import
    base = both(write("ref.fa", FASTA), write("r1.fq", FASTQ), write("r2.fq", FASTQ))
    imp = ["data", "import", "--out", "{d}/imp", "--reference", "{d}/ref.fa"]
    for label, extra, setup in [
        ("reads missing", ["--reads", "{d}/none.fq"], base),
        ("reads not FASTQ", ["--reads", "{d}/ref.fa"], base),
        ("reads binary", ["--reads", "{d}/bin.fq"], both(base, write("bin.fq", b"\x00\xff"))),
        ("three --reads", ["--reads", "{d}/r1.fq", "--reads", "{d}/r2.fq", "--reads",
                           "{d}/r1.fq"], base),
        ("plain text .vcf.gz", ["--reads", "{d}/r1.fq", "--known-sites", "{d}/k.vcf.gz"],
         both(base, write("k.vcf.gz", VCF))),
        ("gzip but not VCF", ["--reads", "{d}/r1.fq", "--known-sites", "{d}/k.vcf.gz"],
         both(base, write("k.vcf.gz", gzip.compress(b"hello\n")))),
        ("truncated gzip VCF", ["--reads", "{d}/r1.fq", "--known-sites", "{d}/k.vcf.gz"],
         both(base, write("k.vcf.gz", gzip.compress(VCF.encode())[:12]))),
        ("known sites missing", ["--reads", "{d}/r1.fq", "--known-sites", "{d}/none.vcf"],
         base),
        ("no reads", [], base),
        ("--bam not BAM", ["--bam", "{d}/r1.fq"], base),
        ("annotation not GTF", ["--reads", "{d}/r1.fq", "--annotation", "{d}/r1.fq"], base),
    ]:
        add("data import", label, [*imp, *extra], setup, leaves=["imp"])
    add("data import", "reference not FASTA", ["data", "import", "--out", "{d}/imp",
                                               "--reference", "{d}/r1.fq", "--reads",
                                               "{d}/r1.fq"], base, leaves=["imp"])
    add("data import", "--out not empty", [*imp, "--reads", "{d}/r1.fq"],
        both(base, write("imp/keep", "x")))
    # data subsample and materialize
    for value in ["0", "2", "nan", "-1", "x", "inf"]:
        add("data subsample", f"--fraction {value}", ["data", "subsample", "{d}/ds",
                                                      "--fraction", value, "--out",
                                                      "{d}/sub"], dataset, leaves=["sub"])
    add("data subsample", "not a dataset", ["data", "subsample", "{d}/x", "--fraction", "0.5",
                                            "--out", "{d}/sub"], write("x/y", "z"),
        leaves=["sub"])
    add("data materialize", "no such step", ["data", "materialize", "dnaseq", "nope",
                                             "--dataset", "{d}/ds"], dataset)
    # report
    for label, setup in {
        "missing": None, "a file": write("run", "x"), "no run.json": write("run/x", "x"),
        "run.json not JSON": run_dir("{"),
        "tasks.csv binary": run_dir(tasks="\x00\x01\x02"),
        "tasks.csv wrong columns": run_dir(tasks="a,b\n1,2\n"),
        "tasks.csv binary, samples.csv": both(run_dir(tasks="\x00\x01\x02"),
                                              write("run/samples.csv", "run_id,task_id\n")),
        "tasks.csv wrong columns, samples.csv": both(run_dir(tasks="a,b\n1,2\n"),
                                                     write("run/samples.csv", "task_id\n")),
        "samples.csv wrong columns": both(run_dir(tasks="task_id,status\n"),
                                          write("run/samples.csv", "a\n")),
    }.items():
        add("report", label, ["report", "{d}/run"], setup)
    simulation = both(write("sim/summary.json", json.dumps({"policy": "fifo"})),
                      write("sim/tasks.parquet", "not parquet"))
    for label, setup in {
        "simulation summary not JSON": both(write("sim/summary.json", "{"),
                                            write("sim/tasks.parquet", "x")),
        "simulation summary a list": both(write("sim/summary.json", "[]"),
                                          write("sim/tasks.parquet", "x")),
        "simulation tasks not Parquet": simulation,
    }.items():
        add("report", label, ["report", "{d}/sim"], setup)
    add("report", "a simulation among runs", ["report", "{d}/sim", "{d}/sim"], simulation)
    add("report", "--model missing", ["report", "{d}/sim", "--model", "{d}/nope"], simulation)
    # workloads and campaigns
    for label, text in {"empty": "", "unknown key": "nope: 1\n", "YAML error": "a: [\n",
                        "not UTF-8": b"name: \xff\n"}.items():
        add("workload", f"spec {label}", ["workload", "run", "{d}/w.yaml", *runs],
            write("w.yaml", text), leaves=["runs"])
        add("campaign", f"spec {label}", ["campaign", "{d}/c.yaml", "--out", "{d}/c"],
            write("c.yaml", text), leaves=["c"])
    add("workload", "missing spec", ["workload", "run", "{d}/none.yaml", *runs])
    add("workload", "--policy nosuch", ["workload", "run", str(ROOT / "workloads" /
                                                               "dnaseq-poisson.yaml"),
                                        *runs, "--policy", "nosuch"], leaves=["runs"])
    add("campaign", "missing spec", ["campaign", "{d}/none.yaml", "--out", "{d}/c"])
    add("campaign", "--limit -1", ["campaign", str(ROOT / "campaigns" / "corpus-v1.yaml"),
                                   "--out", "{d}/c", "--limit", "-1"], leaves=["c"])
    add("campaign", "--only matching nothing", ["campaign", str(ROOT / "campaigns" /
                                                                 "corpus-v1.yaml"),
                                                "--out", "{d}/c", "--only", "nope-*"],
        leaves=["c"])
    # project
    sizes = {"--pairs": "24M", "--read-length": "100", "--reference-bases": "3.1G"}
    for flag, value in [("--pairs", "0"), ("--pairs", "-3"), ("--pairs", "nan"),
                        ("--pairs", "1e400"), ("--pairs", "lots"), ("--pairs", "24Q"),
                        ("--read-length", "inf"), ("--read-length", ""),
                        ("--reference-bases", "-1G"), ("--threads", "0"),
                        ("--threads", "x"), ("--cores", "-2"), ("--memory", "16Q"),
                        ("--memory", "0"), ("--preset", "awful")]:
        given = {**sizes, flag: value}
        add("project", f"{flag} {value!r}", ["project", "dnaseq",
                                              *[a for kv in given.items() for a in kv],
                                              "--out", "{d}/p.csv"], leaves=["p.csv"])
    add("project", "no sizes", ["project", "dnaseq"])
    add("project", "unknown workflow", ["project", "nosuch", *[a for kv in sizes.items()
                                                               for a in kv]])
    add("project", "--preset and --dataset", ["project", "dnaseq", "--preset", "clean",
                                              "--dataset", "{d}/ds"], dataset)
    add("project", "--dataset not a dataset", ["project", "dnaseq", "--dataset", "{d}/x"],
        write("x/y", "z"))
    for label, text in {"missing": None, "not JSON": "{", "another format": '{"format": 1}',
                        "no workflows": '{"format": "genscale-scaling-1"}'}.items():
        add("project", f"--model {label}", ["project", "dnaseq", *[a for kv in sizes.items()
                                                                   for a in kv],
                                            "--model", "{d}/m.json"],
            write("m.json", text) if text is not None else None)
    # synth trace
    for flag, value in [("--workflows", "0"), ("--workflows", "-5"), ("--seed", "-1"),
                        ("--format", "xml"), ("--format", ","), ("--series-points", "-1")]:
        args = {"--workflows": "10", "--out": "{d}/t", flag: value}
        add("synth trace", f"{flag} {value!r}", ["synth", "trace",
                                                  *[a for kv in args.items() for a in kv]],
            leaves=["t"])
    for label, text in {"empty": "", "no workflows": "workflows: []\n",
                        "bad median": "workflows:\n  - {workflow: dnaseq, share: 1, "
                                      "pairs: {median: lots}}\n",
                        "negative share": "workflows:\n  - {workflow: dnaseq, share: -1, "
                                          "pairs: {median: 1M}}\n",
                        "unknown workflow": "workflows:\n  - {workflow: nope, share: 1, "
                                            "pairs: {median: 1M}}\n",
                        "replay without file": "arrivals: {process: replay}\nworkflows:\n"
                                               "  - {workflow: dnaseq, share: 1, pairs: "
                                               "{median: 1M}}\n",
                        "not UTF-8": b"span_days: \xff\n"}.items():
        add("synth trace", f"mix {label}", ["synth", "trace", "--workflows", "10", "--out",
                                            "{d}/t", "--mix", "{d}/mix.yaml"],
            write("mix.yaml", text), leaves=["t"])
    add("synth trace", "--out exists", ["synth", "trace", "--workflows", "10", "--out",
                                        "{d}/t"], write("t/x", "x"))
    # sim
    trace_ok = write("tr/tasks.csv", "workflow_id,task_id,arrival_s,parents,threads,"
                     "memory_bytes,wall_s\nw,a,0,,1,0,5\nw,b,0,a,1,0,5\n")
    cluster = ["--nodes", "2", "--cores-per-node", "4", "--memory-per-node", "8G"]
    for label, text in {"no columns": "a,b\n1,2\n",
                        "negative wall": "workflow_id,task_id,arrival_s,parents,threads,"
                                         "memory_bytes,wall_s\nw,a,0,,1,0,-5\n",
                        "unknown parent": "workflow_id,task_id,arrival_s,parents,threads,"
                                          "memory_bytes,wall_s\nw,a,0,zz,1,0,5\n",
                        "cycle": "workflow_id,task_id,arrival_s,parents,threads,"
                                 "memory_bytes,wall_s\nw,a,0,b,1,0,5\nw,b,0,a,1,0,5\n",
                        "text threads": "workflow_id,task_id,arrival_s,parents,threads,"
                                        "memory_bytes,wall_s\nw,a,0,,many,0,5\n"}.items():
        add("sim", f"trace {label}", ["sim", "{d}/tr", *cluster, "--out", "{d}/o"],
            write("tr/tasks.csv", text), leaves=["o"])
    for flag, value in [("--nodes", "0"), ("--cores-per-node", "-1"),
                        ("--memory-per-node", "lots"), ("--memory-per-node", "0"),
                        ("--policy", "random")]:
        args = [*cluster, "--policy", "fifo"]
        args[args.index(flag) + 1] = value
        add("sim", f"{flag} {value!r}", ["sim", "{d}/tr", *args, "--out", "{d}/o"],
            trace_ok, leaves=["o"])
    add("sim", "not a trace", ["sim", "{d}/x", *cluster], write("x/y", "z"))
    add("sim", "instance not JSON", ["sim", "{d}/i.json", *cluster], write("i.json", "{oops"))
    add("sim", "instance with a parents cycle", ["sim", "{d}/i.json", *cluster], write(
        "i.json", json.dumps({"schemaVersion": "1.4", "workflow": {"tasks": [
            {"name": "a", "runtimeInSeconds": 1, "parents": ["b"]},
            {"name": "b", "runtimeInSeconds": 1, "parents": ["a"]}]}})))
    add("sim", "an import without dependencies", ["sim", "{d}/run", *cluster], run_dir(
        json.dumps({"run_id": "run", "status": "imported", "executor": "nextflow-import"}),
        "run_id,workflow_id,task_id,step,status,submit_time,start_time,end_time,wall_s,"
        "threads_requested,memory_requested_bytes,cpu_time_s,peak_rss_bytes\n"
        "run,w,a,a,succeeded,1,1,6,5,1,,,\n"))
    add("sim", "tail-aware without tail_probability", ["sim", "{d}/tr", *cluster,
                                                       "--policy", "tail-aware"], trace_ok)
    # export and import wfformat
    for fmt in ["csv", "wfformat", "nextflow-trace"]:
        add("export", f"{fmt}: not a run", ["export", "{d}/x", "--format", fmt, "--out",
                                            "{d}/e.out"], write("x/y", "z"), leaves=["e.out"])
    add("export", "--format yaml", ["export", "{d}/run", "--format", "yaml", "--out",
                                    "{d}/e.out"], run_dir(), leaves=["e.out"])
    add("export", "run.json not JSON", ["export", "{d}/run", "--format", "csv", "--out",
                                        "{d}/e.out"], run_dir("{"), leaves=["e.out"])
    for label, text in {"not JSON": "{", "a list": "[]", "no workflow": '{"name": "x"}',
                        "negative runtime": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "execution": {"tasks": [{"id": "a", "runtimeInSeconds": -1}]}}}),
                        "text runtime": json.dumps({"schemaVersion": "1.4", "workflow": {
                            "tasks": [{"name": "a", "runtimeInSeconds": "slow"}]}}),
                        "no runtime": json.dumps({"schemaVersion": "1.3", "workflow": {
                            "tasks": [{"name": "a"}]}}),
                        "bad executedAt": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "execution": {"tasks": [{"id": "a", "runtimeInSeconds": 1,
                                                     "executedAt": "yesterday"}]}}}),
                        "specification a list": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "specification": [], "execution": {"tasks": [
                                {"id": "a", "runtimeInSeconds": 1}]}}}),
                        "runtime 1e300": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "execution": {"tasks": [{"id": "a", "runtimeInSeconds": 1e300}]}}}),
                        "executedAt a number": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "execution": {"tasks": [{"id": "a", "runtimeInSeconds": 1,
                                                     "executedAt": 1700000000}]}}}),
                        "no tasks": json.dumps({"schemaVersion": "1.5", "workflow": {
                            "execution": {"tasks": []}}})}.items():
        add("import wfformat", label, ["import", "wfformat", "{d}/i.json", "--out", "{d}/imp"],
            write("i.json", text), leaves=["imp"])
    add("import wfformat", "parents not a list", ["import", "wfformat", "{d}/i.json", "--out",
                                                  "{d}/imp"],
        write("i.json", json.dumps({"schemaVersion": "1.4", "workflow": {"tasks": [
            {"name": "a", "runtimeInSeconds": 1, "parents": "b"}]}})), leaves=["imp"])
    for kind in ("nextflow-trace", "pidstat", "wfformat"):
        add(f"import {kind}", "gzip cut short", ["import", kind, "{d}/t.gz", "--out",
                                                 "{d}/imp"],
            write("t.gz", gzip.compress(b"task_id\tname\n" * 50)[:-12]), leaves=["imp"])
    return out


# -- running a case ----------------------------------------------------------------------

@dataclass
class Outcome:
    case: Case
    code: int | None
    stderr: str
    finding: str | None


def run_case(case: Case, scratch: Path) -> Outcome:
    from genscale.cli.main import main

    d = scratch / f"case{abs(hash((case.group, case.name))) % 10**8}"
    d.mkdir()
    if case.setup is not None:
        case.setup(d)
    argv = [a.replace("{d}", str(d)) for a in case.args]
    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    crashed = None
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["genscale", *argv]
    os.chdir(d)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        crashed = traceback.format_exc()
        code = None
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    stderr = err.getvalue()
    lines = [line for line in stderr.splitlines() if line.strip()]
    finding = None
    if crashed is not None:
        finding = "traceback: " + crashed.strip().splitlines()[-1]
    elif code == 0:
        finding = "exit 0 for a mistake"
    elif code not in case.ok_codes:
        finding = f"exit {code}"
    elif not lines:
        finding = "no message"
    elif any(not line.startswith("genscale: error:") for line in lines):
        finding = "not one-line errors: " + " | ".join(lines[:3])[:200]
    elif "Traceback" in stderr:
        finding = "traceback in stderr"
    left = [p for p in case.leaves_nothing if (d / p).exists()]
    if left and finding is None:
        finding = f"left behind: {', '.join(left)}"
    return Outcome(case, code, stderr, finding)


def run_all(only: str = "") -> list[Outcome]:
    scratch = Path(tempfile.mkdtemp(prefix="genscale-probe-"))
    try:
        return [run_case(c, scratch) for c in cases()
                if only in f"{c.group} {c.name}"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="cases whose group or name has this")
    parser.add_argument("--markdown", action="store_true", help="the docs' table")
    args = parser.parse_args()
    outcomes = run_all(args.only)
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.case.group, []).append(o)
    if args.markdown:
        print("| command | bad inputs | one-line error | findings |")
        print("|---|---:|---:|---:|")
    for group, items in groups.items():
        bad = [o for o in items if o.finding]
        if args.markdown:
            print(f"| {group} | {len(items)} | {len(items) - len(bad)} | {len(bad)} |")
        else:
            print(f"{group:<28} {len(items):>4} cases, {len(bad)} findings")
        for o in bad:
            print(f"    {o.case.name}: {o.finding}", file=sys.stderr)
    total_bad = sum(1 for o in outcomes if o.finding)
    summary = f"{len(outcomes)} bad inputs, {total_bad} findings"
    print(f"| all | {len(outcomes)} | {len(outcomes) - total_bad} | {total_bad} |"
          if args.markdown else summary)
    sys.exit(1 if total_bad else 0)


if __name__ == "__main__":
    main()
