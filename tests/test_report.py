"""The interactive report in a real browser (Debian's Chromium, driven by Playwright): every
panel drawn, no console error, no request leaves the file, the file works when moved."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from genscale.report.figures import app_colors
from genscale.report.html import not_succeeded, saturation
from genscale.report.page import number
from genscale.store.rundir import RunDirectory

from .conftest import GENSCALE

CHROMIUM = "/usr/bin/chromium"
# as root, without a sandbox; no background traffic to hosts this machine cannot reach
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), "Debian's chromium is missing: make setup installs it"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def open_offline(browser: Browser, page_file: Path, tmp_path: Path) -> dict[str, Any]:
    """Open `page_file` with every request other than the file itself refused; what the
    page logged, asked for, and drew, and a screenshot of the whole page."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def refuse(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.goto(page_file.resolve().as_uri())
    page.wait_for_load_state("load")
    panels = page.evaluate("""() => [...document.querySelectorAll('section.panel')].map(s => ({
        title: s.querySelector('h2').textContent, kind: s.dataset.kind,
        drawn: s.querySelectorAll('.js-plotly-plot .main-svg').length,
        traces: s.querySelector('.js-plotly-plot') ?
            s.querySelector('.js-plotly-plot').data.length : 0,
        rows: s.querySelectorAll('table.data tbody tr').length}))""")
    alerts = page.evaluate("[...document.querySelectorAll('.alert')].map(a => a.textContent)")
    text = page.inner_text("body")
    shot = tmp_path / f"{page_file.parent.name}-{page_file.stem}.png"
    page.screenshot(path=str(shot), full_page=True)
    timeline = None
    if page.query_selector("#fig-timeline"):
        timeline = tmp_path / "timeline.png"
        page.locator("#fig-timeline").screenshot(path=str(timeline))
    page.close()
    return {"errors": errors, "requests": requests, "panels": panels, "alerts": alerts,
            "text": text, "screenshot": shot, "timeline": timeline}


def colours_in(image: Path) -> set[tuple[int, int, int]]:
    pixels = np.asarray(Image.open(image).convert("RGB")).reshape(-1, 3)
    return {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_a_runs_report_is_one_file_drawn_offline_in_chromium(
        dnaseq_run: RunDirectory, browser: Browser, tmp_path: Path, env_no_color) -> None:
    proc = subprocess.run([GENSCALE, "report", str(dnaseq_run.path)], capture_output=True,
                          text=True, env=env_no_color, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page_file = Path(proc.stdout.strip().splitlines()[-1])
    assert page_file == dnaseq_run.path / "report.html"
    html = page_file.read_text()
    # self-contained: no script, style or picture fetched from anywhere
    assert "<script src=" not in html and 'src="http' not in html and "<NA>" not in html
    moved = tmp_path / "elsewhere" / "report.html"  # the file alone, mailed or moved
    moved.parent.mkdir()
    shutil.copy(page_file, moved)
    seen = open_offline(browser, moved, tmp_path)
    assert seen["errors"] == [] and seen["requests"] == []
    panels = {p["title"]: p for p in seen["panels"]}
    assert {"Timeline", "Tasks", "Applications", "Node", "Quality control"} <= set(panels)
    for panel in panels.values():
        if panel["kind"] == "figure":
            assert panel["drawn"] >= 1 and panel["traces"] >= 1, panel
    tasks = dnaseq_run.tasks()
    assert panels["Tasks"]["rows"] == len(tasks)
    # the QC summary holds the run's FastQC, Picard, samtools and Trimmomatic reports
    for kind in ("fastqc", "picard DuplicationMetrics", "picard WgsMetrics",
                 "samtools-flagstat", "trimmomatic"):
        assert kind in seen["text"], kind
    # every task that did not succeed is listed with why
    missing = tasks[tasks["status"] != "succeeded"]
    if len(missing):
        assert panels["Not succeeded"]["rows"] == len(missing)
        assert all(t in seen["text"] for t in missing["task_id"])
    # the timeline's bars are drawn in each application's colour
    colours = colours_in(seen["timeline"])
    ran = tasks[tasks["status"] == "succeeded"]
    for app, colour in app_colors(list(tasks["app"].unique())).items():
        if app in set(ran["app"]):
            assert hex_rgb(colour) in colours, app
    assert Image.open(seen["screenshot"]).size[1] > 2000  # every panel laid out


def test_predicted_against_measured_with_the_packaged_scaling_model(
        dnaseq_run: RunDirectory, browser: Browser, tmp_path: Path) -> None:
    from genscale.forecast import run_predictions
    from genscale.model.scaling import PACKAGED
    from genscale.report.html import run_report

    table = run_predictions(dnaseq_run.path, PACKAGED)
    assert set(table["target"]) == {"wall_s", "cpu_time_s", "peak_rss_bytes"}
    assert {"bwa_mem", "sort", "mark_duplicates"} <= set(table["step"])
    assert (table["predicted"] > 0).all() and (table["p90"] >= table["predicted"]).all()
    measured = dnaseq_run.tasks().set_index("step")
    row = table[(table["step"] == "bwa_mem") & (table["target"] == "cpu_time_s")].iloc[0]
    assert row["measured"] == pytest.approx(float(measured.loc["bwa_mem", "cpu_time_s"]))
    page_file = run_report(dnaseq_run.path, PACKAGED)
    seen = open_offline(browser, page_file, tmp_path)
    assert seen["errors"] == []
    titles = {p["title"] for p in seen["panels"]}
    assert {"Predicted wall_s", "Predicted cpu_time_s", "Predicted peak_rss_bytes"} <= titles


def test_several_runs_compared_and_a_simulation(dnaseq_run: RunDirectory,
                                                rnaseq_run: RunDirectory, browser: Browser,
                                                tmp_path: Path, env_no_color) -> None:
    out = tmp_path / "compare.html"
    proc = subprocess.run([GENSCALE, "report", str(dnaseq_run.path), str(rnaseq_run.path),
                           "--out", str(out), "--csv", str(tmp_path / "compare.csv")],
                          capture_output=True, text=True, env=env_no_color, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == str(out)
    assert "makespan_s" in proc.stdout  # the table, on stdout as before
    assert len(pd.read_csv(tmp_path / "compare.csv")) == 2
    seen = open_offline(browser, out, tmp_path)
    assert seen["errors"] == [] and seen["requests"] == []
    comparison = next(p for p in seen["panels"] if p["title"] == "Comparison")
    assert comparison["drawn"] >= 1 and comparison["traces"] == 4  # 2 bars, 2 boxes
    # a simulation's output directory
    sim = tmp_path / "sim"
    proc = subprocess.run([GENSCALE, "sim", str(dnaseq_run.path), "--nodes", "2",
                           "--cores-per-node", "2", "--memory-per-node", "8G", "--out",
                           str(sim)], capture_output=True, text=True, env=env_no_color,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([GENSCALE, "report", str(sim)], capture_output=True, text=True,
                          env=env_no_color, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = open_offline(browser, sim / "report.html", tmp_path)
    assert seen["errors"] == []
    figures = [p for p in seen["panels"] if p["kind"] == "figure"]
    assert len(figures) == 3 and all(p["drawn"] >= 1 for p in figures)
    summary = json.loads((sim / "summary.json").read_text())
    assert f"{summary['tasks_simulated']:,} tasks" in seen["text"]


def test_report_mistakes_are_one_line(dnaseq_run: RunDirectory, tmp_path: Path,
                                      env_no_color) -> None:
    cases = [([str(tmp_path)], "not a run directory"),
             ([str(dnaseq_run.path), "--model", str(tmp_path / "nope")], "--model"),
             ([str(dnaseq_run.path), "--out", str(tmp_path / "x.html")], "several runs")]
    for args, expected in cases:
        proc = subprocess.run([GENSCALE, "report", *args], capture_output=True, text=True,
                              env=env_no_color, timeout=60)
        assert proc.returncode != 0 and expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_saturation_is_said_only_when_it_lasted() -> None:
    busy = pd.DataFrame({"cpu_cores": [2.0] * 8 + [0.5] * 2,
                         "memory_used_bytes": [1e9] * 10})
    alerts = saturation(busy, cores=2, memory_bytes=8e9)
    assert len(alerts) == 1 and "CPU" in alerts[0].text and "80%" in alerts[0].text
    quiet = busy.assign(cpu_cores=[2.0] * 2 + [0.5] * 8)
    assert saturation(quiet, cores=2, memory_bytes=8e9) == []
    full = busy.assign(memory_used_bytes=[7.9e9] * 10)
    assert any("memory" in a.text for a in saturation(full, cores=2, memory_bytes=8e9))


def test_why_a_task_did_not_succeed() -> None:
    tasks = pd.DataFrame({"task_id": ["a", "b", "c", "d"], "app": ["x"] * 4,
                          "status": ["succeeded", "skipped", "failed", "cancelled"]})
    info = {"skipped": {"b": "gatk not found on this machine"},
            "failures": [{"task_id": "c", "exit_code": 3, "stderr_tail": ["boom"]}]}
    table = not_succeeded(info, tasks).set_index("task")
    assert list(table.index) == ["b", "c", "d"]
    assert table.loc["b", "why"] == "gatk not found on this machine"
    assert table.loc["c", "why"] == "exit 3: boom"
    assert "resume" in table.loc["d", "why"]


@pytest.mark.parametrize(("value", "shown"), [(0.0, "0"), (0.002456, "0.00246"),
                                              (12.726, "12.73"), (123456.7, "123,457")])
def test_numbers_keep_their_digits(value: float, shown: str) -> None:
    assert number(value) == shown


def test_an_imported_runs_facts_leave_out_what_it_does_not_have() -> None:
    from genscale.report.html import _facts

    tasks = pd.DataFrame({"status": ["succeeded", "skipped"]})
    imported = {"run_id": "nf", "status": "imported", "executor": "nextflow-import"}
    line = _facts(imported, tasks)
    assert "None" not in line and "?" not in line
    assert line == "status imported; executor nextflow-import; 1 skipped, 1 succeeded"
    full = {**imported, "workflow": {"name": "dnaseq"}, "start_time": 0.0, "end_time": 12.5,
            "sample_interval_s": 1.0,
            "host": {"hostname": "vm", "cores": 2, "memory_bytes": 2**31, "cpu_model": "X"}}
    assert _facts(full, tasks).endswith("sampled every 1.0 s; on vm (2 cores, 2.0 GiB, X)")
