"""The one-screen summary of a run and its HTML report."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from genscale.store.rundir import RunDirectory, atomic_write_text

SUMMARY_COLUMNS = {
    "task_id": "task", "app": "app", "status": "status", "wall_s": "wall s",
    "mean_cores": "mean cores", "peak_rss_mib": "peak MiB",
    "read_mib": "storage read MiB", "write_mib": "storage written MiB",
    "read_chars_mib": "read() MiB", "write_chars_mib": "write() MiB",
}


def summary_table(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per task: wall time, mean cores, peak memory, and bytes in MiB of each kind, each
    column one counter: read from and written to storage (`read_bytes`, `write_bytes`),
    and through read and write calls (`read_chars`, `write_chars`; small inputs are served
    from the page cache, so storage reads can be 0 where read calls are not). A counter a
    source does not have stays blank.
    """
    out = tasks.copy()
    for column, source in (("peak_rss_mib", "peak_rss_bytes"), ("read_mib", "read_bytes"),
                           ("write_mib", "write_bytes"), ("read_chars_mib", "read_chars"),
                           ("write_chars_mib", "write_chars")):
        values = out[source] if source in out else pd.Series(pd.NA, index=out.index)
        out[column] = pd.to_numeric(values, errors="coerce").astype("Float64") / 2**20
    out = out.sort_values("start_time", na_position="last")
    return out[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)


def build_report(run_dir: Path) -> Path:
    """Plots and report.html for a run directory; returns the HTML path."""
    from genscale.report.plots import plot_run  # matplotlib only when drawing

    run = RunDirectory(run_dir)
    info = run.read_run_info()
    samples = run.samples()
    plots = plot_run(run_dir, samples, info.get("run_id", run_dir.name))
    table = summary_table(run.tasks())
    rows = table.to_html(index=False, float_format=lambda v: f"{v:,.2f}", na_rep="",
                         border=0, classes="tasks")
    images = "\n".join(f'<h2>{html.escape(p.stem)}</h2><img src="plots/{p.name}" '
                       f'alt="{html.escape(p.stem)}">' for p in plots)
    host = info.get("host", {})
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(str(info.get('run_id')))}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}
table.tasks{{border-collapse:collapse}} .tasks td,.tasks th{{padding:2px 10px;
text-align:right;border-bottom:1px solid #ddd}} img{{max-width:100%}}</style></head><body>
<h1>{html.escape(str(info.get('run_id')))}</h1>
<p>workflow <b>{html.escape(str(info.get('workflow', {}).get('name')))}</b>,
status <b>{html.escape(str(info.get('status')))}</b>,
executor {html.escape(str(info.get('executor')))},
sampled every {info.get('sample_interval_s')} s on {html.escape(str(host.get('hostname')))}
({host.get('cores')} cores, {html.escape(str(host.get('cpu_model')))})</p>
{rows}
{images}
</body></html>
"""
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out
