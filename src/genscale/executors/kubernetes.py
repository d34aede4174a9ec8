"""Kubernetes: one Job per task. This version writes and validates the Jobs (`--dry-run`);
submitting them to a live cluster is not built yet.

Each Job:
- runs the step's pinned image, with its threads and memory as requests and limits;
- mounts the shared PVC holding datasets and run directories;
- sets backoffLimit from `--retries` and a TTL after it finishes;
- carries labels tying each pod to its run, workflow and task.

The monitor is meant to run beside the tool as a sidecar sharing the pod's process
namespace, and to write its samples to the run directory on the volume. Its attach mode
(`genscale monitor --attach-container`) is part of the design that is not built yet, and
the README says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from genscale import __version__
from genscale.errors import UserError
from genscale.store.rundir import atomic_write_text
from genscale.workflow.plan import Plan, PlannedTask

K8S_VERSION = "1.37.0"  # the newest schema kubernetes-validate ships with


@dataclass
class KubernetesSettings:
    """Where the Jobs go; each field is documented in the README."""

    namespace: str = field(default="genscale", metadata={"help": "namespace of the Jobs"})
    pvc: str = field(default="genscale-data", metadata={
        "help": "PersistentVolumeClaim holding datasets and run directories"})
    mount_path: str = field(default="/data", metadata={"help": "where the PVC is mounted"})
    monitor_image: str = field(default=f"genscale:{__version__}", metadata={
        "help": "image with genscale, for the monitor sidecar (docker/Dockerfile)"})
    ttl_s: int = field(default=86_400, metadata={
        "help": "seconds a finished Job is kept (ttlSecondsAfterFinished)"})


_LABEL = re.compile(r"[^A-Za-z0-9._-]")


def label(value: str) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric."""
    clean = _LABEL.sub("-", value)[:63].strip("-._")
    return clean or "x"


def job_name(run_id: str, task_id: str) -> str:
    """DNS-1123 and unique per run and task: a readable part and a hash."""
    digest = hashlib.sha256(f"{run_id}/{task_id}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^a-z0-9-]", "-", task_id.lower())[:40].strip("-")
    return f"gs-{readable}-{digest}"


def pinned(image: str) -> bool:
    """A digest, or an explicit tag other than latest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def job_manifest(task: PlannedTask, plan: Plan, run_id: str, workflow_id: str,
                 settings: KubernetesSettings, retries: int, interval_s: float,
                 run_dir_in_pod: str) -> dict[str, Any]:
    if not task.image:
        raise UserError(f"step {task.step}: no image; the kubernetes executor needs one")
    if not pinned(task.image):
        raise UserError(f"step {task.step}: image {task.image} is not pinned (give a tag "
                        "other than latest, or a digest)")
    workdir = task.workdir or plan.workdir
    rel_work = workdir.relative_to(plan.workdir.parent)
    labels = {"app.kubernetes.io/name": "genscale", "app.kubernetes.io/part-of": "genscale",
              "genscale.io/run-id": label(run_id), "genscale.io/workflow-id": label(workflow_id),
              "genscale.io/task-id": label(task.task_id), "genscale.io/app": label(task.app)}
    memory = f"{max(task.memory_bytes // 2**20, 16)}Mi"
    volume = [{"name": "data", "mountPath": settings.mount_path}]
    out = f"{run_dir_in_pod}/pods/{task.task_id}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(run_id, task.task_id), "namespace": settings.namespace,
                     "labels": labels,
                     "annotations": {"genscale.io/run-id": run_id,
                                     "genscale.io/task-id": task.task_id,
                                     "genscale.io/depends-on": ",".join(task.deps)}},
        "spec": {
            "backoffLimit": retries,
            "ttlSecondsAfterFinished": settings.ttl_s,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "shareProcessNamespace": True,  # the monitor sees the tool's processes
                    "volumes": [{"name": "data",
                                 "persistentVolumeClaim": {"claimName": settings.pvc}}],
                    "containers": [
                        {"name": "task", "image": task.image,
                         "command": ["/bin/bash", "-o", "pipefail", "-e", "-c",
                                     _in_pod(task.command, plan, settings)],
                         "workingDir": f"{run_dir_in_pod}/{rel_work}",
                         "resources": {"requests": {"cpu": str(task.threads),
                                                    "memory": memory},
                                       "limits": {"cpu": str(task.threads),
                                                  "memory": memory}},
                         "volumeMounts": volume},
                        {"name": "monitor", "image": settings.monitor_image,
                         "command": ["genscale", "monitor", "--attach-container", "task",
                                     "--interval", str(interval_s), "--out", out,
                                     "--task-id", task.task_id, "--app", task.app],
                         "env": [{"name": "GENSCALE_NODE",
                                  "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                         "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                                       "limits": {"cpu": "200m", "memory": "256Mi"}},
                         "volumeMounts": volume},
                    ],
                },
            },
        },
    }


def dataset_in_pod(plan: Plan, settings: KubernetesSettings) -> str | None:
    """Where the dataset is expected on the volume: MOUNT/datasets/NAME."""
    if plan.dataset is None:
        return None
    return f"{settings.mount_path}/datasets/{plan.dataset.path.name}"


def _in_pod(command: str, plan: Plan, settings: KubernetesSettings) -> str:
    """The command with the dataset's host path replaced by its place on the volume."""
    target = dataset_in_pod(plan, settings)
    if target is None:
        return command
    return command.replace(str(plan.dataset.path), target)  # type: ignore[union-attr]


def validate(manifest: dict[str, Any], where: str) -> None:
    """Against the Kubernetes JSON schema, offline, strictly (unknown fields rejected)."""
    try:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise UserError(f"{where}: not a valid Job at {path or '(top)'}: {exc.message}"
                        ) from None


def write_manifests(plan: Plan, run_dir: Path, run_id: str, settings: KubernetesSettings,
                    retries: int, interval_s: float, workflow_id: str) -> list[Path]:
    """One validated Job per task that would run, as manifests/<task_id>.yaml."""
    folder = run_dir / "manifests"
    folder.mkdir(exist_ok=True)
    in_pod = f"{settings.mount_path}/runs/{run_id}"
    written = []
    for task in plan.tasks:
        if task.skip_reason:
            continue
        manifest = job_manifest(task, plan, run_id, task.workflow_id or workflow_id,
                                settings, retries, interval_s, in_pod)
        path = folder / f"{task.task_id}.yaml"
        validate(manifest, str(path))
        atomic_write_text(path, yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written
