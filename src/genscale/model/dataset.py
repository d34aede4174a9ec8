"""The model dataset: what is known before a task runs, joined to what it then used.

`model_table(corpus_dir)` reads a corpus (see `store.corpus`) and returns one row per task
that ran, plus one row per workflow run (`step` = `app` = WORKFLOW_STEP) whose targets are
the run's makespan, summed CPU and largest peak memory. Columns:

- keys: `run_id`, `dataset_id` (the campaign point without its repeat: the runs of one
  dataset, which grouped cross-validation keeps together), `workflow`, `step`, `app`,
  `kind`, and the design (`preset`, `pairs`, `dataset_seed`, `knob.*`), kept to slice the
  data but never default features: a user's real data has no preset;
- targets: `wall_s`, `cpu_time_s`, `peak_rss_bytes` (and the other measured columns);
- pre-run features (`PRE_RUN_PREFIXES`): the dataset's size (`read_bases`, both mates'
  bases, the default size of the models; `dataset_input_bytes`, reads and reference as
  stored), the FASTQ features of its reads (`fastq_1.*`, `fastq_2.*`), its reference
  (`reference.bases`, and a synthetic human-model reference's repeat knobs,
  `quality.table.reference_features`), known before anything runs, and, when the corpus
  spans machines, which machine ran it
  (`machine.cpu_model=NAME`, 1 or 0: the same workflow took up to 1.6x longer per step on
  one of this project's two machine types than on the other);
- pilot features (`pilot.*`, see `engine.pilot`), where the corpus has them: each step's
  time on a few thousand of the input's pairs, measured before the run. They are kept
  apart from the pre-run features (`pre_run_features(..., pilot=True)` adds them): a
  model that uses them needs a pilot run for every prediction;
- with `post_step=True`, also the QC reports upstream steps wrote (`fastqc_1.*`,
  `trimmomatic.*`, `picard.*`, `samtools_stats.*`, `flagstat.*`, `star.*`), for
  predicting later steps as a workflow progresses.

Leakage is guarded against by construction: a report's columns are filled in only on rows
of tasks that started after the step that wrote it ended, in the same run; everything else
gets NaN. So no task sees a number measured during itself or after it, and a whole-workflow
row sees no report at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genscale.errors import UserError
from genscale.store.corpus import dataset_of

WORKFLOW_STEP = "(workflow)"
PILOT_PREFIX = "pilot."  # the columns engine.pilot measures
PRE_RUN_PREFIXES = ("read_bases", "dataset_input_bytes", "fastq_1.", "fastq_2.", "machine.",
                    "reference.")
MACHINE = "machine.cpu_model="
# which step writes each report source of `quality.table.run_features`
REPORT_STEP = {
    "fastqc_1": "fastqc_1", "fastqc_2": "fastqc_2", "trimmomatic": "trim",
    "picard.DuplicationMetrics": "mark_duplicates",
    "picard.AlignmentSummaryMetrics": "alignment_summary_metrics",
    "picard.WgsMetrics": "wgs_metrics", "picard.InsertSizeMetrics": "insert_size_metrics",
    "flagstat": "flagstat", "samtools_stats": "stats", "star": "star_align",
}
MEASURED = ("exit_code", "submit_time", "start_time", "end_time", "wall_s", "cpu_user_s",
            "cpu_system_s", "cpu_time_s", "mean_cores", "peak_rss_bytes", "read_bytes",
            "write_bytes", "read_chars", "write_chars", "read_ops", "write_ops", "max_procs",
            "max_threads", "output_bytes", "peak_pss_bytes", "cgroup_memory_peak_bytes",
            "leftover_procs", "makespan_s")


def report_source(column: str) -> str | None:
    """The report source of a feature column (`picard.WgsMetrics.MEAN_COVERAGE` ->
    `picard.WgsMetrics`), or None for a pre-run or unknown column."""
    for source in REPORT_STEP:
        if column.startswith(source + "."):
            return source
    return None


def pre_run_features(columns: list[str], pilot: bool = False) -> list[str]:
    prefixes = (*PRE_RUN_PREFIXES, PILOT_PREFIX) if pilot else PRE_RUN_PREFIXES
    return [c for c in columns if c.startswith(prefixes)]


def post_step_features(columns: list[str]) -> list[str]:
    return [c for c in columns if report_source(c) is not None]


def size_features(features: pd.DataFrame) -> pd.DataFrame:
    """The dataset's sizes under the models' names: `dataset_input_bytes` (reads and
    reference as stored, `input_bytes` of the features table) and `read_bases` (both
    mates' bases)."""
    out = features.rename(columns={"input_bytes": "dataset_input_bytes"})
    out["read_bases"] = out.get("fastq_1.bases", 0) + out.get("fastq_2.bases", 0)
    return out


def model_table(corpus_dir: Path, post_step: bool = False) -> pd.DataFrame:
    for name in ("tasks.csv", "workflows.csv", "features.csv"):
        if not (corpus_dir / name).is_file():
            raise UserError(f"{corpus_dir}: not a corpus directory (no {name}); write one "
                            "with 'genscale campaign SPEC --export DIR'")
    tasks = pd.read_csv(corpus_dir / "tasks.csv", low_memory=False)
    workflows = pd.read_csv(corpus_dir / "workflows.csv")
    features = size_features(pd.read_csv(corpus_dir / "features.csv"))
    # the dataset's kind (dna, rna) decides which models a new dataset is predicted with
    kind = tasks.groupby("run_id", as_index=False)["kind"].first()
    ran = tasks[tasks["status"] == "succeeded"].copy()
    whole = workflows[workflows["status"] == "succeeded"].copy()
    whole = whole.assign(step=WORKFLOW_STEP, app=WORKFLOW_STEP,
                         wall_s=whole["makespan_s"])
    rows = pd.concat([ran.drop(columns=["kind"]), whole.drop(columns=["kind"], errors="ignore")],
                     ignore_index=True, sort=False)
    rows["dataset_id"] = (rows["point_id"].map(dataset_of, na_action="ignore")
                          .fillna(rows["run_id"]) if "point_id" in rows.columns
                          else rows["run_id"])
    pre = features[["run_id", *pre_run_features(list(features.columns), pilot=True)]]
    table = rows.merge(pre, on="run_id", how="left").merge(kind, on="run_id", how="left")
    if "cpu_model" in table.columns and table["cpu_model"].nunique() > 1:
        for cpu in sorted(table["cpu_model"].dropna().unique()):
            table[f"{MACHINE}{cpu}"] = (table["cpu_model"] == cpu).astype(float)
    if post_step:
        table = _join_reports(table, tasks, features)
    return table


def _join_reports(table: pd.DataFrame, tasks: pd.DataFrame,
                  features: pd.DataFrame) -> pd.DataFrame:
    """Add the report columns, each only where its producer ended before the row's task
    started (same run)."""
    ends = tasks[tasks["status"] == "succeeded"].set_index(["run_id", "step"])["end_time"]
    report_columns = post_step_features(list(features.columns))
    joined = table.merge(features[["run_id", *report_columns]], on="run_id", how="left")
    for source in {report_source(c) for c in report_columns}:
        assert source is not None
        columns = [c for c in report_columns if report_source(c) == source]
        producer_end = pd.Series(
            [ends.get((run, REPORT_STEP[source]), np.nan) for run in joined["run_id"]],
            index=joined.index, dtype="float64")
        # whole-workflow rows have no start of their own: they see no report
        visible = producer_end.notna() & joined["start_time"].notna() & (
            producer_end <= joined["start_time"]) & (joined["step"] != WORKFLOW_STEP)
        joined.loc[~visible, columns] = np.nan
    return joined


def machine_features(columns: list[str], cpu_model: str) -> dict[str, float]:
    """The machine indicators of `columns` for a run on a CPU named `cpu_model`: all 0 for
    a machine the corpus never saw."""
    return {c: float(c == f"{MACHINE}{cpu_model}") for c in columns if c.startswith(MACHINE)}
