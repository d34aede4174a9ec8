"""Kubernetes: one Job per task attempt, through the official Python client.

Each Job:
- runs the task under `genscale monitor` (the wrapper, as on a SLURM node) in an image that
  holds GenScale and the step's tools: by default the GenScale image of docker/Dockerfile,
  which installs the Debian packages the catalog's commands are written for; `--k8s-image
  step` uses each step's own image instead, which must then hold GenScale too. The image
  must be pinned (a tag other than latest, or a digest);
- asks for the step's threads and memory (plus the monitor's) as requests and limits;
- mounts the PersistentVolumeClaim that holds datasets and run directories. The monitor
  writes its samples to `RUN/pods/TASK.aN` on it as it takes them;
- has backoffLimit 0 and a TTL after it finishes. Retries are the engine's (`--retries`):
  each attempt is a new Job writing to a new pod directory, where Kubernetes' own retry
  would run again into the same directory behind the engine's back;
- carries labels tying its pod to its run, workflow, task, attempt and application.

The manager must see the volume at the same path as the pods (`--k8s-mount-path`), like
SLURM's shared storage: it reads each finished pod's record from there, and takes the node
from the pod's `spec.nodeName`. `--dry-run` writes the Jobs to `manifests/*.yaml` and
submits nothing; paths outside the mount path are then shown where the pods would expect
them (`MOUNT/datasets/NAME`, `MOUNT/runs/RUN_ID`).

Credentials stay in the client's configuration (a kubeconfig or the pod's service account):
nothing here prints, logs or stores them, and an API error is reported by its status and
message only.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

from genscale import __version__
from genscale.errors import UserError
from genscale.executors.base import ExecutorContext, Job, JobResult, Resources, read_registry
from genscale.executors.pods import monitor_argv, pod_dir
from genscale.executors.remote import RemoteExecutor, Submitted
from genscale.store.rundir import RunDirectory, atomic_write_text
from genscale.workflow.plan import Plan

K8S_VERSION = "1.37.0"  # the newest schema kubernetes-validate ships with
SUBMITTED_REGISTRY = ".k8s-jobs.json"
MIB = 2**20


@dataclass
class KubernetesSettings:
    """Where and how the Jobs go; each field is a `--k8s-*` flag of `genscale run`."""

    namespace: str = field(default="genscale", metadata={
        "help": "kubernetes: namespace of the Jobs", "flag": "--k8s-namespace"})
    pvc: str = field(default="genscale-data", metadata={
        "help": "kubernetes: PersistentVolumeClaim holding datasets and run directories",
        "flag": "--k8s-pvc"})
    mount_path: str = field(default="/data", metadata={
        "help": "kubernetes: where the PVC is mounted, in the pods and on this machine",
        "flag": "--k8s-mount-path"})
    image: str = field(default=f"genscale:{__version__}", metadata={
        "help": "kubernetes: image every task runs in (GenScale and the tools, from "
                "docker/Dockerfile), or 'step' for each step's own image",
        "flag": "--k8s-image"})
    ttl_s: int = field(default=86_400, metadata={
        "help": "kubernetes: seconds a finished Job is kept (ttlSecondsAfterFinished)",
        "flag": "--k8s-ttl"})
    poll_s: float = field(default=2.0, metadata={
        "help": "kubernetes: seconds between two listings of the run's Jobs",
        "flag": "--k8s-poll"})
    monitor_memory_mib: int = field(default=128, metadata={
        "help": "kubernetes: MiB added to each step's memory for the monitor beside the tool",
        "flag": "--k8s-monitor-memory"})
    record_wait_s: float = field(default=30.0, metadata={
        "help": "kubernetes: how long a finished Job's record may take to appear on the "
                "volume before the task counts as lost", "flag": "--k8s-record-wait"})
    kubeconfig: str | None = field(default=None, metadata={
        "help": "kubernetes: kubeconfig file (default: $KUBECONFIG or ~/.kube/config; "
                "in a pod, its service account)", "flag": "--k8s-kubeconfig"})
    context: str | None = field(default=None, metadata={
        "help": "kubernetes: kubeconfig context (default: the current one)",
        "flag": "--k8s-context"})


# -- names, labels and images ------------------------------------------------------------------
_LABEL = re.compile(r"[^A-Za-z0-9._-]")


def label(value: str) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric."""
    clean = _LABEL.sub("-", value)[:63].strip("-._")
    return clean or "x"


def job_name(run_id: str, task_id: str, attempt: int = 1) -> str:
    """DNS-1123 and unique per run, task and attempt: a readable part and a hash."""
    digest = hashlib.sha256(f"{run_id}/{task_id}/{attempt}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^a-z0-9-]", "-", task_id.lower())[:36].strip("-")
    return f"gs-{readable}-a{attempt}-{digest}"


def pinned(image: str) -> bool:
    """A digest, or an explicit tag other than latest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def run_selector(run_id: str) -> str:
    return f"genscale.io/run-id={label(run_id)}"


# -- manifests ---------------------------------------------------------------------------------
def job_manifest(job: Job, run_id: str, workflow_id: str, settings: KubernetesSettings,
                 interval_s: float, pod: str, depends_on: tuple[str, ...] = ()
                 ) -> dict[str, Any]:
    """The Job that runs `job` under the monitor, writing to `pod`. `job`'s command and
    working directory are as the pod sees them."""
    image = job.image if settings.image == "step" else settings.image
    if not image:
        raise UserError(f"step {job.task_id}: no image; give --k8s-image or an image in the "
                        "step")
    if not pinned(image):
        raise UserError(f"step {job.task_id}: image {image} is not pinned (give a tag other "
                        "than latest, or a digest)")
    labels = {"app.kubernetes.io/name": "genscale", "app.kubernetes.io/part-of": "genscale",
              "genscale.io/run-id": label(run_id), "genscale.io/workflow-id": label(workflow_id),
              "genscale.io/task-id": label(job.task_id), "genscale.io/attempt": str(job.attempt),
              "genscale.io/app": label(job.app)}
    memory = f"{max(job.memory_bytes // MIB, 16) + settings.monitor_memory_mib}Mi"
    resources = {"cpu": str(job.threads), "memory": memory}
    annotations = {"genscale.io/run-id": run_id, "genscale.io/task-id": job.task_id,
                   "genscale.io/depends-on": ",".join(depends_on)}
    if job.image:
        annotations["genscale.io/step-image"] = job.image
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(run_id, job.task_id, job.attempt),
                     "namespace": settings.namespace, "labels": labels,
                     "annotations": annotations},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": settings.ttl_s,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    # the monitor forwards SIGTERM to the tool, then writes its record
                    "terminationGracePeriodSeconds": 60,
                    "volumes": [{"name": "data",
                                 "persistentVolumeClaim": {"claimName": settings.pvc}}],
                    "containers": [{
                        "name": "task", "image": image,
                        "command": monitor_argv(job, Path(pod), interval_s, cgroups=True,
                                                genscale=["genscale"]),
                        "workingDir": str(job.cwd),
                        "env": [{"name": "GENSCALE_NODE", "valueFrom": {
                            "fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "resources": {"requests": resources, "limits": dict(resources)},
                        "volumeMounts": [{"name": "data",
                                          "mountPath": settings.mount_path}]}],
                },
            },
        },
    }


def validate(manifest: dict[str, Any], where: str) -> None:
    """Against the Kubernetes JSON schema, offline, strictly (unknown fields rejected)."""
    try:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise UserError(f"{where}: not a valid Job at {path or '(top)'}: {exc.message}"
                        ) from None


def _under(path: Path, mount: str) -> bool:
    return path.resolve().is_relative_to(Path(mount))


@dataclass(frozen=True)
class PodPaths:
    """Host paths as the pods see them: unchanged under the mount path; in a dry run,
    others are shown where the pods would expect them."""

    swaps: tuple[tuple[str, str], ...] = ()

    def __call__(self, text: str) -> str:
        for host, pod in self.swaps:
            text = text.replace(host, pod)
        return text


def pod_paths(plan: Plan, run_dir: Path, run_id: str, settings: KubernetesSettings,
              dry_run: bool) -> PodPaths:
    """How host paths map into the pods; a live run refuses paths off the volume."""
    swaps = []
    places = [(run_dir, f"{settings.mount_path}/runs/{run_id}", "the run directory "
               "(--runs-dir)")]
    if plan.dataset is not None:
        places.append((plan.dataset.path, f"{settings.mount_path}/datasets/"
                       f"{plan.dataset.path.name}", "the dataset"))
    for host, pod, what in places:
        if _under(host, settings.mount_path):
            continue
        if not dry_run:
            raise UserError(f"--executor kubernetes: {what} {host} is not under "
                            f"--k8s-mount-path {settings.mount_path}; the pods and this "
                            "machine must see the volume at the same path")
        swaps.append((str(host.resolve()), pod))
    return PodPaths(tuple(swaps))


def _in_pod(job: Job, paths: PodPaths) -> Job:
    return replace(job, command=paths(job.command), cwd=Path(paths(str(job.cwd))))


def write_manifests(plan: Plan, run_dir: Path, run_id: str, settings: KubernetesSettings,
                    interval_s: float, workflow_id: str) -> list[Path]:
    """The dry run: one validated Job per task that would run, as manifests/TASK.yaml."""
    folder = run_dir / "manifests"
    folder.mkdir(exist_ok=True)
    paths = pod_paths(plan, run_dir, run_id, settings, dry_run=True)
    written = []
    for task in plan.tasks:
        if task.skip_reason:
            continue
        job = Job(task.task_id, task.app, task.command, task.workdir or plan.workdir,
                  Path(), Path(), task.threads, task.memory_bytes, task.image)
        pod = paths(str(pod_dir(run_dir / "pods", job)))
        manifest = job_manifest(_in_pod(job, paths), run_id, task.workflow_id or workflow_id,
                                settings, interval_s, pod, tuple(task.deps))
        path = folder / f"{task.task_id}.yaml"
        validate(manifest, str(path))
        atomic_write_text(path, yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written


# -- the API -----------------------------------------------------------------------------------
class KubeApi:
    """The few calls GenScale makes, through the official client; an API error becomes one
    line with its status and message (never a header, a token or a URL's user part)."""

    def __init__(self, settings: KubernetesSettings) -> None:
        from kubernetes import client, config  # only when a cluster is used

        try:
            if settings.kubeconfig is None and _in_cluster():
                config.load_incluster_config()
                api_client = client.ApiClient()
            else:
                api_client = config.new_client_from_config(config_file=settings.kubeconfig,
                                                           context=settings.context)
        except Exception as exc:  # the client raises its own ConfigException and others
            raise UserError(f"--executor kubernetes: no usable cluster configuration "
                            f"({type(exc).__name__}: {_first_line(exc)})") from None
        self.host = _without_userinfo(api_client.configuration.host)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self._models = client

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return func(*args, **kwargs)
        except ApiException as exc:
            raise UserError(f"kubernetes API at {self.host}: {what}: {exc.status} "
                            f"{exc.reason}: {_status_message(exc.body)}") from None
        except OSError as exc:  # urllib3's connection errors are OSErrors
            raise UserError(f"kubernetes API at {self.host}: {what}: cannot connect "
                            f"({type(exc).__name__})") from None

    def create_job(self, namespace: str, manifest: dict[str, Any]) -> None:
        self._call("create Job", self.batch.create_namespaced_job, namespace,
                   self._models.V1Job.from_dict(manifest))

    def list_jobs(self, namespace: str, selector: str) -> dict[str, Any]:
        """The Jobs matching `selector`, by name."""
        listed = self._call("list Jobs", self.batch.list_namespaced_job, namespace,
                            label_selector=selector)
        return {j.metadata.name: j for j in listed.items}

    def job_pods(self, namespace: str, name: str) -> list[Any]:
        listed = self._call("list Pods", self.core.list_namespaced_pod, namespace,
                            label_selector=f"job-name={name}")
        return list(listed.items)

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete a Job and, in the background, its pods (SIGTERM, then the grace period)."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:  # gone already is what was asked
                raise UserError(f"kubernetes API at {self.host}: delete Job {name}: "
                                f"{exc.status} {exc.reason}: {_status_message(exc.body)}"
                                ) from None

    def capacity(self) -> Resources:
        """The allocatable CPUs and memory of the cluster's schedulable nodes."""
        from kubernetes.utils import parse_quantity

        nodes = self._call("list Nodes", self.core.list_node).items
        usable = [n for n in nodes if not (n.spec and n.spec.unschedulable)]
        if not usable:
            raise UserError(f"kubernetes API at {self.host}: no schedulable node")
        cores = sum(int(parse_quantity(n.status.allocatable["cpu"])) for n in usable)
        memory = sum(int(parse_quantity(n.status.allocatable["memory"])) for n in usable)
        return Resources(cores, memory)


def _in_cluster() -> bool:
    return Path("/var/run/secrets/kubernetes.io/serviceaccount/token").is_file()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")
                          ).geturl() if parts.hostname else url


def _status_message(body: Any) -> str:
    """The `message` of a Kubernetes Status body; the body itself is never echoed."""
    try:
        return str(json.loads(body).get("message", "no message"))[:300]
    except (TypeError, ValueError, AttributeError):
        return "no message"


# -- the executor ------------------------------------------------------------------------------
def job_state(job: Any) -> str:
    """'succeeded', 'failed' (with the condition's reason), or '' while it runs."""
    status = job.status
    if status is None:
        return ""
    for condition in status.conditions or []:
        if condition.status == "True" and condition.type in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if condition.status == "True" and condition.type in ("Failed", "FailureTarget"):
            return f"failed ({condition.reason})" if condition.reason else "failed"
    if status.succeeded:
        return "succeeded"
    if status.failed:
        return "failed"
    return ""


class KubernetesExecutor(RemoteExecutor):
    """Each task a Kubernetes Job, its end learnt from the API."""

    name = "kubernetes"
    settings_class = KubernetesSettings
    flag_prefix = "k8s_"
    dry_run_supported = True
    registry_name = SUBMITTED_REGISTRY
    host_is_node = True

    def __init__(self, run: RunDirectory, run_id: str, workflow_id: str, sink: Any,
                 interval_s: float, paths: PodPaths, settings: KubernetesSettings,
                 cores: int | None = None, memory_bytes: int | None = None,
                 api: KubeApi | None = None) -> None:
        """`sink` takes the folded sample rows, as for the SLURM executor. Without
        `cores` and `memory_bytes`, the capacity is the cluster's allocatable total."""
        self.workflow_id = workflow_id
        self.paths = paths
        self.settings = settings
        self.api = api or KubeApi(settings)
        if cores is None or memory_bytes is None:
            cluster = self.api.capacity()
            cores = cores or cluster.cores
            memory_bytes = memory_bytes or cluster.memory_bytes
        super().__init__(run, run_id, sink, interval_s, settings.poll_s,
                         Resources(cores, memory_bytes))

    @classmethod
    def create(cls, context: ExecutorContext, settings: Any) -> KubernetesExecutor:
        # the tasks are sampled in their pods; the session samples this (manager) host
        paths = pod_paths(context.plan, context.run.path, context.run_id, settings,
                          dry_run=False)
        return cls(context.run, context.run_id, context.workflow_id,
                   context.session.sampler.sink, context.interval_s, paths, settings,
                   context.cores, context.memory_bytes)

    @classmethod
    def check_plan(cls, plan: Plan, run_dir: Path, run_id: str, settings: Any,
                   dry_run: bool) -> None:
        pod_paths(plan, run_dir, run_id, settings, dry_run)  # paths off the volume fail

    @classmethod
    def write_dry_run(cls, plan: Plan, run_dir: Path, run_id: str, settings: Any,
                      interval_s: float, workflow_id: str) -> list[Path]:
        return write_manifests(plan, run_dir, run_id, settings, interval_s, workflow_id)

    @classmethod
    def stop_leftovers(cls, run: RunDirectory, run_id: str, settings: Any) -> int:
        return delete_leftovers(run, settings)

    def manifest(self, job: Job, pod: Path) -> dict[str, Any]:
        return job_manifest(replace(job, command=self.paths(job.command),
                                    cwd=Path(self.paths(str(job.cwd)))),
                            self.run_id, self.workflow_id, self.settings, self.interval_s,
                            self.paths(str(pod)))

    def submit(self, job: Job) -> None:
        pod = self.new_pod(job)
        manifest = self.manifest(job, pod)
        validate(manifest, f"the Job of {job.task_id}")
        self.api.create_job(self.settings.namespace, manifest)
        self._submitted(job, manifest["metadata"]["name"], pod)

    def _registry_json(self, entries: dict[str, dict[str, Any]]) -> Any:
        return {"namespace": self.settings.namespace, "jobs": entries}

    def _collect(self, jobs: dict[str, Submitted]) -> list[JobResult]:
        listed = self.api.list_jobs(self.settings.namespace, run_selector(self.run_id))
        now = time.monotonic()
        results = []
        for name, sub in jobs.items():
            current = listed.get(name)
            state = job_state(current) if current is not None else "deleted"
            if not state:
                continue
            if sub.ended_mono is None:
                sub.ended_mono, sub.state = now, state
            has_record = (sub.pod / "tasks.csv").is_file()
            # the record is written before the container exits; on a network volume it may
            # show here a little later
            if not has_record and now - sub.ended_mono < self.settings.record_wait_s:
                continue
            node, reason = self._node(name) if current is not None else ("", "")
            why = f", {reason}" if reason else ""
            results.append(self._ended(
                sub, node, f"kubernetes Job {name} {sub.state}{why} on {node or 'no node'} "
                           "without the monitor's record"))
        return results

    def _node(self, name: str) -> tuple[str, str]:
        """The node the Job's pod ran on, and why its container ended (OOMKilled, ...)."""
        pods = self.api.job_pods(self.settings.namespace, name)
        if not pods:
            return "", ""
        pod = pods[-1]
        node = (pod.spec.node_name if pod.spec else None) or ""
        reason = (pod.status.reason if pod.status else None) or ""
        for status in (pod.status.container_statuses if pod.status else None) or []:
            terminated = status.state.terminated if status.state else None
            if terminated is not None and terminated.reason not in (None, "Completed"):
                reason = terminated.reason
        return node, reason

    def _stop(self, keys: list[str]) -> None:
        for name in keys:
            self.api.delete_job(self.settings.namespace, name)

    def _shutdown_wait_s(self) -> float:
        return self.settings.record_wait_s + 5


def delete_leftovers(run: RunDirectory, settings: KubernetesSettings) -> int:
    """Delete the Jobs a dead manager left (its registry): they run again on resume, and
    their pod directories stay."""
    recorded = read_registry(run.path / SUBMITTED_REGISTRY) or {}
    names = list(recorded.get("jobs", {}))
    if names:
        api = KubeApi(settings)
        for name in names:
            api.delete_job(str(recorded.get("namespace", settings.namespace)), name)
    return len(names)
