"""Live metrics, scraped by a real Prometheus server on loopback and read back through its
HTTP query API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from genscale.monitor.prometheus import NODE_METRICS, TASK_METRICS

from .conftest import GENSCALE, ROOT

pytestmark = pytest.mark.slow  # starts a real Prometheus server (14 s)

DASHBOARD = ROOT / "dashboards" / "genscale.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real Prometheus scraping 127.0.0.1:<target port> every second: (API URL, port)."""
    exe = shutil.which("prometheus")
    assert exe, "prometheus not installed: run 'make setup' (Debian package prometheus)"
    target, api = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: genscale
    static_configs:
      - targets: ["127.0.0.1:{target}"]
""")
    server = subprocess.Popen([exe, f"--config.file={config}",
                               f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{api}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{api}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("prometheus did not become ready")
            time.sleep(0.2)
    # targets are applied on the next discovery reload: wait until one scrape was tried
    while time.monotonic() < deadline:
        active = get_json(f"{url}/api/v1/targets")["data"]["activeTargets"]
        if active and not active[0]["lastScrape"].startswith("0001"):
            break
        time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("prometheus never tried its target")
    yield url, target
    server.terminate()
    server.wait(timeout=10)


def query(url: str, expr: str) -> list[dict]:  # type: ignore[type-arg]
    answer = get_json(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert answer["status"] == "success", answer
    return answer["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_a_monitored_run(prometheus: tuple[str, int],
                                            tmp_path: Path) -> None:
    url, port = prometheus
    burn = (f"{sys.executable} -c 'import time\nb=bytearray(64*2**20)\n"
            "t=time.process_time()\nwhile time.process_time()-t<5: pass'")
    proc = subprocess.run([GENSCALE, "monitor", "--interval", "0.2", "--prometheus-port",
                           str(port), "--task-id", "burner", "--out", str(tmp_path / "run"),
                           "--", "bash", "-c", burn], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    time.sleep(1.5)  # the last scrape
    cpu = query(url, 'max_over_time(genscale_task_cpu_cores{task_id="burner"}[5m])')
    assert len(cpu) == 1
    assert cpu[0]["metric"]["app"] == "bash" and cpu[0]["metric"]["job"] == "genscale"
    assert 0.7 <= float(cpu[0]["value"][1]) <= 1.3  # one core busy
    rss = query(url, 'max_over_time(genscale_task_rss_bytes{task_id="burner"}[5m])')
    assert float(rss[0]["value"][1]) >= 64 * 2**20
    scrapes = query(url, 'count_over_time(genscale_task_cpu_cores{task_id="burner"}[5m])')
    assert float(scrapes[0]["value"][1]) >= 3  # scraped while the run went
    node = query(url, "max_over_time(genscale_node_cpu_cores[5m])")
    assert node and float(node[0]["value"][1]) > 0.5


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([GENSCALE, "monitor", "--prometheus-port", str(port), "--out",
                               str(tmp_path / "run"), "--", "true"], capture_output=True,
                              text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"genscale: error: --prometheus-port {port}: cannot listen")
    assert not (tmp_path / "run").exists()  # nothing written before the port was had


def test_dashboard_queries_only_metrics_we_export() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 6
    known = set(TASK_METRICS) | set(NODE_METRICS) | {"genscale_task_running"}
    for expr in exprs:
        names = {w for w in expr.replace("(", " ").replace("{", " ").replace("[", " ").split()
                 if w.startswith("genscale_")}
        assert names and names <= known, expr
