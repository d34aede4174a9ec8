"""Kubernetes dry run: the Jobs a run would submit, validated offline against the real
Kubernetes JSON schema (kubernetes-validate); no cluster is reachable here."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.executors.kubernetes import K8S_VERSION, pinned, validate
from genscale.store.rundir import RunDirectory
from genscale.workflow.spec import parse_bytes

from .conftest import GENSCALE, check_run_contract, write
from .kube_apiserver import NODE, Cluster, kubeconfig, serve

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dry_run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GENSCALE, "run", *args, "--executor", "kubernetes", "--dry-run",
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True,
                          text=True)


def test_dnaseq_jobs_validate_with_resources_and_pinned_images(dna_dataset: Dataset,
                                                               tmp_path: Path) -> None:
    proc = dry_run(["dnaseq", "--dataset", str(dna_dataset.path), "--retries", "2",
                    "--k8s-image", "step"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = RunDirectory(Path(proc.stdout.strip()))
    info = run.read_run_info()
    assert info["status"] == "dry-run"
    manifests = sorted((run.path / "manifests").glob("*.yaml"))
    planned = [t for t in info["workflow"]["spec"]["steps"]
               if t["name"] not in info["skipped"]]
    assert len(manifests) == len(planned) == 16  # GATK's two steps skipped here
    names = set()
    for path in manifests:
        job = yaml.safe_load(path.read_text())
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)
        step = next(s for s in planned if s["name"] == path.stem)
        task = job["spec"]["template"]["spec"]["containers"][0]
        assert pinned(task["image"]) and task["image"] == step["image"]
        limits = task["resources"]["limits"]
        assert task["resources"]["requests"] == limits
        assert limits["cpu"] == str(step["threads"])
        # the step's memory and the monitor's 128 MiB beside it
        assert parse_bytes(limits["memory"].replace("Mi", "M")) == step["memory"] + 128 * 2**20
        # the step runs under the monitor, writing its record to the volume
        assert task["command"][:2] == ["genscale", "monitor"]
        out = task["command"][task["command"].index("--out") + 1]
        assert out == f"/data/runs/{run.path.name}/pods/{path.stem}.a1"
        assert str(dna_dataset.path) not in task["command"][-1]  # dataset on the volume
        spec = job["spec"]
        # retries are the engine's: each attempt its own Job and pod directory
        assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] > 0
        pod = spec["template"]["spec"]
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "genscale-data"
        assert job["metadata"]["labels"]["genscale.io/task-id"] == path.stem
        assert DNS_1123.match(job["metadata"]["name"]) and len(job["metadata"]["name"]) <= 63
        names.add(job["metadata"]["name"])
    assert len(names) == len(manifests)
    assert not run.tasks_csv.exists()  # nothing ran


def test_unpinned_image_is_refused(tmp_path: Path) -> None:
    spec = write(tmp_path / "wf.yaml", """\
name: wf
steps:
  - name: s
    app: sh
    image: ubuntu:latest
    outputs: {o: o}
    command: touch {outputs.o}
""")
    proc = dry_run([str(spec), "--k8s-image", "step"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("genscale: error: step s: image ubuntu:latest is not pinned "
                                   "(give a tag other than latest, or a digest)")


def test_schema_violations_are_caught() -> None:
    broken = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
              "spec": {"backoffLimit": "many", "template": {"spec": {"containers": []}}}}
    with pytest.raises(UserError, match="not a valid Job"):
        validate(broken, "x.yaml")


@pytest.mark.parametrize(("args", "message"), [
    (["--executor", "kubernetes"], "is not under --k8s-mount-path /data"),
    (["--executor", "pbs"], "expected one of local, slurm, kubernetes"),
    (["--dry-run"], "--dry-run goes with --executor kubernetes"),
])
def test_executor_choices_are_explained(tmp_path: Path, args: list[str], message: str) -> None:
    spec = write(tmp_path / "wf.yaml", "name: wf\nsteps:\n  - {name: s, app: sh, "
                                       "outputs: {o: o}, command: 'touch o'}\n")
    proc = subprocess.run([GENSCALE, "run", str(spec), *args], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr


def test_pinned() -> None:
    assert pinned("quay.io/biocontainers/bwa:0.7.17--h7132678_9")
    assert pinned("repo/x@sha256:" + "0" * 64)
    assert not pinned("ubuntu") and not pinned("ubuntu:latest")
    assert not pinned("localhost:5000/ubuntu")


# -- live: the official client against the loopback API server of kube_apiserver.py ------------
TOKEN = "k8s-test-token-3f9c1e"  # must never reach a file, a log or an error


@pytest.fixture
def cluster() -> Iterator[tuple[Cluster, str]]:
    state = Cluster(TOKEN, cores=os.cpu_count() or 2)
    server, url = serve(state)
    yield state, url
    server.shutdown()
    state.stop()


def live_argv(args: list[str], kubeconfig_path: Path, mount: Path, runs: Path) -> list[str]:
    return [GENSCALE, "run", *args, "--executor", "kubernetes", "--k8s-kubeconfig",
            str(kubeconfig_path), "--k8s-mount-path", str(mount), "--k8s-poll", "0.2",
            "--k8s-record-wait", "3", "--interval", "0.2", "--runs-dir", str(runs),
            "--no-plots"]


def live_run(args: list[str], kubeconfig_path: Path, mount: Path, runs: Path,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(live_argv(args, kubeconfig_path, mount, runs), capture_output=True,
                          text=True, timeout=600)


def no_token_in(run_dir: Path, *texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
    for path in run_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert TOKEN.encode() not in path.read_bytes(), path


def test_dnaseq_through_the_kubernetes_api(cluster: tuple[Cluster, str], dna_dataset: Dataset,
                                           tmp_path: Path) -> None:
    state, url = cluster
    config = kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
    # the volume: one directory that holds the dataset and the runs, as the pods see it
    mount = Path(os.path.commonpath([dna_dataset.path, tmp_path]))
    proc = live_run(["dnaseq", "--dataset", str(dna_dataset.path)], config, mount,
                    tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = RunDirectory(Path(proc.stdout.strip()))
    check_run_contract(run, "dnaseq")
    tasks = run.tasks()
    ran = tasks[tasks["status"] == "succeeded"]
    assert len(ran) >= 12
    assert set(ran["executor"]) == {"kubernetes"} and set(ran["host"]) == {NODE}
    # one Job per task that ran, each valid, labelled, with its resources
    assert len(state.created) == len(ran)
    for job in state.created:
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)
        labels = job["metadata"]["labels"]
        assert labels["genscale.io/run-id"] == run.path.name[:63].strip("-._")
        task = ran.set_index("task_id").loc[labels["genscale.io/task-id"]]
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["requests"]["cpu"] == str(task["threads_requested"])
        assert pinned(container["image"])
    # finished Jobs are left to their TTL, nothing deleted; the token went to the server only
    assert state.deleted == [] and state.auth_seen == {f"Bearer {TOKEN}"}
    no_token_in(run.path, proc.stdout, proc.stderr)
    # the pods' samples are the run's: a series for every task, at the pods' interval
    samples = run.samples()
    assert set(samples["task_id"]) == set(ran["task_id"])


LOSABLE = """\
name: two
steps:
  - name: first
    app: sh
    outputs: {o: first.txt}
    command: sleep 1.5 && echo one > {outputs.o}
  - name: second
    app: sh
    inputs: {i: first.txt}
    outputs: {o: second.txt}
    command: cat {inputs.i} > {outputs.o} && echo two >> {outputs.o}
"""


def test_lost_pod_is_marked_and_retried(cluster: tuple[Cluster, str], tmp_path: Path) -> None:
    state, url = cluster
    config = kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
    spec = write(tmp_path / "two.yaml", LOSABLE)
    state.lose("first")  # its first pod dies with SIGKILL, monitor and all
    proc = live_run([str(spec), "--retries", "1"], config, tmp_path, tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = RunDirectory(Path(proc.stdout.strip()))
    info = run.read_run_info()
    [retried] = info["retried"]["first"]
    assert retried["lost"] is True
    # why, from the Job's condition, and where, from the pod
    assert retried["stderr_tail"][0].startswith("kubernetes Job gs-first-a1-")
    assert "failed (BackoffLimitExceeded), Error on node-1 without the monitor's record" in \
        retried["stderr_tail"][0]
    tasks = run.tasks().set_index("task_id")
    assert tasks.loc["first", "attempt"] == 2 and tasks.loc["second", "status"] == "succeeded"
    names = [j["metadata"]["name"] for j in state.created]
    assert len(names) == 3 and len(set(names)) == 3  # a new Job for the new attempt
    assert (run.work / "second.txt").read_text() == "one\ntwo\n"


def test_api_errors_are_one_line_without_the_token(cluster: tuple[Cluster, str],
                                                    tmp_path: Path) -> None:
    _, url = cluster
    config = kubeconfig(tmp_path / "kubeconfig", url, "not-the-token")
    spec = write(tmp_path / "one.yaml", "name: one\nsteps:\n  - {name: s, app: sh, "
                                        "outputs: {o: o}, command: 'touch o'}\n")
    proc = live_run([str(spec)], config, tmp_path, tmp_path / "runs")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"genscale: error: kubernetes API at {url}: list Nodes: "
                                   "401 Unauthorized: Unauthorized")
    assert "not-the-token" not in proc.stderr


SLOW = """\
name: slow
steps:
  - name: slow
    app: sh
    outputs: {o: slow.txt}
    command: sleep 4 && echo done > {outputs.o}
"""


def start_live(args: list[str], kubeconfig_path: Path, mount: Path, runs: Path
               ) -> subprocess.Popen[str]:
    return subprocess.Popen(live_argv(args, kubeconfig_path, mount, runs),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_pod(runs: Path) -> Path:
    for _ in range(300):
        found = list(runs.glob("*/pods/slow.a1/samples.csv"))
        if found and found[0].stat().st_size > 0:
            return found[0].parents[2]
        time.sleep(0.05)
    raise AssertionError("the pod never started sampling")


def test_interrupt_deletes_the_jobs_and_keeps_the_record(cluster: tuple[Cluster, str],
                                                         tmp_path: Path) -> None:
    state, url = cluster
    config = kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
    spec = write(tmp_path / "slow.yaml", SLOW)
    manager = start_live([str(spec)], config, tmp_path, tmp_path / "runs")
    run_dir = wait_for_pod(tmp_path / "runs")
    time.sleep(1.0)  # a few samples at 0.2 s
    manager.send_signal(signal.SIGINT)
    _, err = manager.communicate(timeout=120)
    assert manager.returncode == 130, err[-2000:]
    [(name, policy)] = state.deleted
    assert name.startswith("gs-slow-a1-") and policy == "Background"
    row = RunDirectory(run_dir).tasks().set_index("task_id").loc["slow"]
    # the monitor got SIGTERM with its pod, passed it on, and still wrote its record
    assert row["status"] == "cancelled" and row["wall_s"] > 0
    assert len(RunDirectory(run_dir).samples()) > 1


def test_resume_after_the_manager_was_killed(cluster: tuple[Cluster, str],
                                             tmp_path: Path) -> None:
    state, url = cluster
    config = kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
    spec = write(tmp_path / "slow.yaml", SLOW)
    manager = start_live([str(spec)], config, tmp_path, tmp_path / "runs")
    run_dir = wait_for_pod(tmp_path / "runs")
    manager.kill()
    manager.communicate(timeout=60)
    resumed = subprocess.run([GENSCALE, "run", "--resume", str(run_dir), "--no-plots"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # the dead manager's Job was deleted, and the task ran again as a new Job
    assert [n for n, _ in state.deleted] == [state.created[0]["metadata"]["name"]]
    assert len(state.created) == 2
    run = RunDirectory(run_dir)
    row = run.tasks().set_index("task_id").loc["slow"]
    assert row["status"] == "succeeded" and row["attempt"] == 2
    assert (run.work / "slow.txt").read_text() == "done\n"
    assert run.read_run_info()["resumed"][0]["leftover_processes_stopped"] >= 1
