"""A Kubernetes API server on loopback for the executor's tests, with a kubelet that really
runs each Job's container command on this machine.

No cluster can run here, and no recording of a real API server's answers is at hand, so
this server answers the few calls GenScale makes (create, list and delete Jobs; list Pods
and Nodes) as the Kubernetes API documents them: every object it serves is validated
against the Kubernetes 1.37 JSON schema (kubernetes-validate, strict) before it is sent,
and every Job it is sent is validated likewise. The official client talks to it over real
HTTP, with a bearer token it must present.

The kubelet runs a Job's container `command` in its `workingDir`, with `genscale` resolved
to this environment's, and moves the Job through the states the Job controller reports:
active, then Complete (with SuccessCriteriaMet) or Failed (with FailureTarget, reason
BackoffLimitExceeded). `lose(task_id)` makes the next pod of that task die with SIGKILL,
as on a lost node.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

from genscale.executors.kubernetes import K8S_VERSION

NODE = "node-1"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked(obj: dict[str, Any]) -> dict[str, Any]:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    return obj


def condition(kind: str, reason: str, message: str, at: str) -> dict[str, str]:
    """A Job condition that has become true, as the Job controller writes it."""
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": at, "lastTransitionTime": at}


def matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors (`a=b,c=d`), the only kind GenScale sends."""
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class Cluster:
    """The API server's state, and its kubelet."""

    def __init__(self, token: str, cores: int, memory: str = "16Gi") -> None:
        self.token = token
        self.cores = cores
        self.memory = memory
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.created: list[dict[str, Any]] = []  # every Job body received
        self.deleted: list[tuple[str, str]] = []  # (name, propagationPolicy)
        self.auth_seen: set[str] = set()
        self.to_lose: set[str] = set()
        self.lock = threading.Lock()
        self._rv = 0

    def version(self) -> str:
        self._rv += 1
        return str(self._rv)

    def lose(self, task_id: str) -> None:
        self.to_lose.add(task_id)

    # -- the API ---------------------------------------------------------------------------
    def create_job(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        checked(body)
        self.created.append(json.loads(json.dumps(body)))
        name = body["metadata"]["name"]
        uid = str(uuid.uuid4())
        job = json.loads(json.dumps(body))
        job["metadata"].update(namespace=namespace, uid=uid, creationTimestamp=now(),
                               resourceVersion=self.version(), generation=1)
        # what the Job controller adds: its selector and the pods' labels
        controller = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                      "batch.kubernetes.io/job-name": name, "job-name": name}
        job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        job["spec"]["template"]["metadata"]["labels"].update(controller)
        job["spec"].update(completions=1, parallelism=1, completionMode="NonIndexed",
                           suspend=False, podReplacementPolicy="TerminatingOrFailed")
        job["status"] = {}
        with self.lock:
            if name in self.jobs:
                raise FileExistsError(name)
            self.jobs[name] = checked(job)
        threading.Thread(target=self._kubelet, args=(name,), daemon=True).start()
        return job

    def list_jobs(self, selector: str) -> dict[str, Any]:
        with self.lock:
            items = [json.loads(json.dumps(j)) for j in self.jobs.values()
                     if matches(j["metadata"]["labels"], selector)]
        return checked({"apiVersion": "batch/v1", "kind": "JobList",
                        "metadata": {"resourceVersion": self.version()}, "items": items})

    def list_pods(self, selector: str) -> dict[str, Any]:
        with self.lock:
            items = [json.loads(json.dumps(p)) for p in self.pods.values()
                     if matches(p["metadata"]["labels"], selector)]
        return checked({"apiVersion": "v1", "kind": "PodList",
                        "metadata": {"resourceVersion": self.version()}, "items": items})

    def list_nodes(self) -> dict[str, Any]:
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
                "spec": {},
                "status": {"allocatable": {"cpu": str(self.cores), "memory": self.memory,
                                           "pods": "110"},
                           "capacity": {"cpu": str(self.cores), "memory": self.memory,
                                        "pods": "110"}}}
        return checked({"apiVersion": "v1", "kind": "NodeList",
                        "metadata": {"resourceVersion": self.version()},
                        "items": [checked(node)]})

    def delete_job(self, name: str, policy: str) -> dict[str, Any] | None:
        with self.lock:
            job = self.jobs.pop(name, None)
            proc = self.procs.get(name)
        if job is None:
            return None
        self.deleted.append((name, policy))
        if proc is not None and proc.poll() is None and policy != "Orphan":
            proc.send_signal(signal.SIGTERM)  # the pod's graceful termination
        return {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": "batch", "kind": "jobs",
                            "uid": job["metadata"]["uid"]}}

    # -- the kubelet -----------------------------------------------------------------------
    def _kubelet(self, name: str) -> None:
        time.sleep(0.1)  # scheduling
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                return
            template = job["spec"]["template"]
            container = template["spec"]["containers"][0]
            pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod_name, "namespace": job["metadata"]["namespace"],
                                "labels": dict(template["metadata"]["labels"])},
                   "spec": {**json.loads(json.dumps(template["spec"])), "nodeName": NODE},
                   "status": {"phase": "Running", "startTime": now()}}
            self.pods[pod_name] = checked(pod)
            job["status"] = {"active": 1, "ready": 1, "startTime": now(), "terminating": 0,
                             "uncountedTerminatedPods": {}}
            job["metadata"]["resourceVersion"] = self.version()
            argv = list(container["command"])
            if argv[0] == "genscale":
                argv[0] = str(Path(sys.executable).with_name("genscale"))
            env = {**os.environ, "GENSCALE_NODE": NODE}
            proc = subprocess.Popen(argv, cwd=container["workingDir"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs[name] = proc
            uid = job["metadata"]["uid"]
            task = job["metadata"]["annotations"]["genscale.io/task-id"]
            lose = task in self.to_lose
            self.to_lose.discard(task)
        if lose:
            time.sleep(0.5)
            proc.send_signal(signal.SIGKILL)  # the node is gone, with the monitor
        code = proc.wait()
        ended = now()
        with self.lock:
            terminated = {"exitCode": code if code >= 0 else 128 - code,
                          "reason": "Completed" if code == 0 else "Error",
                          "startedAt": pod["status"]["startTime"], "finishedAt": ended}
            pod["status"] = {
                "phase": "Succeeded" if code == 0 else "Failed",
                "startTime": pod["status"]["startTime"],
                "containerStatuses": [{"name": container["name"], "image": container["image"],
                                       "imageID": "", "ready": False, "restartCount": 0,
                                       "started": False,
                                       "state": {"terminated": terminated}}]}
            checked(pod)
            job = self.jobs.get(name)
            if job is None or job["metadata"]["uid"] != uid:  # deleted: its pod goes too
                self.pods.pop(pod_name, None)
                return
            if code == 0:
                conditions = [condition(kind, "CompletionsReached", "Reached expected "
                                        "number of succeeded pods", ended)
                              for kind in ("SuccessCriteriaMet", "Complete")]
                counts = {"succeeded": 1}
            else:
                conditions = [condition(kind, "BackoffLimitExceeded", "Job has reached the "
                                        "specified backoff limit", ended)
                              for kind in ("FailureTarget", "Failed")]
                counts = {"failed": 1}
            job["status"] = {**counts, "ready": 0, "terminating": 0,
                             "startTime": job["status"]["startTime"],
                             "conditions": conditions, "uncountedTerminatedPods": {}}
            if code == 0:
                job["status"]["completionTime"] = ended
            job["metadata"]["resourceVersion"] = self.version()
            checked(job)

    def stop(self) -> None:
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def serve(cluster: Cluster) -> tuple[ThreadingHTTPServer, str]:
    """Start the API server on a free loopback port; (server, its URL)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status(self, code: int, reason: str, message: str) -> None:
            self._send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Failure", "message": message, "reason": reason,
                              "code": code})

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            cluster.auth_seen.add(header)
            if header != f"Bearer {cluster.token}":
                self._status(401, "Unauthorized", "Unauthorized")
                return False
            return True

        def _route(self) -> tuple[list[str], dict[str, list[str]]]:
            url = urlsplit(self.path)
            return [p for p in url.path.split("/") if p], parse_qs(url.query)

        def do_GET(self) -> None:
            if not self._authorized():
                return
            parts, query = self._route()
            selector = query.get("labelSelector", [""])[0]
            if parts == ["api", "v1", "nodes"]:
                self._send(200, cluster.list_nodes())
            elif parts[:3] == ["apis", "batch", "v1"] and parts[-1] == "jobs":
                self._send(200, cluster.list_jobs(selector))
            elif parts[:2] == ["api", "v1"] and parts[-1] == "pods":
                self._send(200, cluster.list_pods(selector))
            else:
                self._status(404, "NotFound", "the server could not find the requested "
                             "resource")

        def do_POST(self) -> None:
            if not self._authorized():
                return
            parts, _ = self._route()
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if parts[:3] == ["apis", "batch", "v1"] and parts[-1] == "jobs":
                try:
                    job = cluster.create_job(parts[4], body)
                except FileExistsError as exc:
                    self._status(409, "AlreadyExists", f'jobs.batch "{exc}" already exists')
                    return
                except kubernetes_validate.ValidationError as exc:
                    self._status(422, "Invalid", f"Job is invalid: {exc.message}")
                    return
                self._send(201, job)
            else:
                self._status(404, "NotFound", "not found")

        def do_DELETE(self) -> None:
            if not self._authorized():
                return
            parts, query = self._route()
            length = int(self.headers.get("Content-Length", 0) or 0)
            options = json.loads(self.rfile.read(length)) if length else {}
            policy = (query.get("propagationPolicy", [""])[0]
                      or options.get("propagationPolicy", ""))
            status = cluster.delete_job(parts[-1], policy)
            if status is None:
                self._status(404, "NotFound", f'jobs.batch "{parts[-1]}" not found')
            else:
                self._send(200, status)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def kubeconfig(path: Path, url: str, token: str) -> Path:
    """A kubeconfig for the server, with a bearer token."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "tester",
                                                  "namespace": "genscale"}}]}))
    return path
