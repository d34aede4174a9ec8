"""Kubernetes dry run: the Jobs a run would submit, validated offline against the real
Kubernetes JSON schema (kubernetes-validate); no cluster is reachable here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from genscale.data.manifest import Dataset
from genscale.errors import UserError
from genscale.executors.kubernetes import K8S_VERSION, pinned, validate
from genscale.store.rundir import RunDirectory
from genscale.workflow.spec import parse_bytes

from .conftest import GENSCALE, write

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dry_run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GENSCALE, "run", *args, "--executor", "kubernetes", "--dry-run",
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True,
                          text=True)


def test_dnaseq_jobs_validate_with_resources_and_pinned_images(dna_dataset: Dataset,
                                                               tmp_path: Path) -> None:
    proc = dry_run(["dnaseq", "--dataset", str(dna_dataset.path), "--retries", "2"], tmp_path)
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
        assert parse_bytes(limits["memory"].replace("Mi", "M")) == step["memory"]
        assert str(dna_dataset.path) not in task["command"][-1]  # dataset on the volume
        spec = job["spec"]
        assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] > 0
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
    proc = dry_run([str(spec)], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("genscale: error: step s: image ubuntu:latest is not pinned "
                                   "(give a tag other than latest, or a digest)")


def test_schema_violations_are_caught() -> None:
    broken = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
              "spec": {"backoffLimit": "many", "template": {"spec": {"containers": []}}}}
    with pytest.raises(UserError, match="not a valid Job"):
        validate(broken, "x.yaml")


@pytest.mark.parametrize(("args", "message"), [
    (["--executor", "kubernetes"], "only --dry-run is available"),
    (["--executor", "pbs"], "expected local, slurm, or kubernetes with --dry-run"),
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
