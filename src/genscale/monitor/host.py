"""Facts about the machine a run happened on, for run.json."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def host_facts() -> dict[str, object]:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
    }


def tool_version(command: str, timeout_s: float = 60) -> str:
    """First non-empty line a version command prints (many print to stderr, some exit 1)."""
    try:
        result = subprocess.run(["/bin/bash", "-c", command], capture_output=True, text=True,
                                timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "unknown (version command timed out)"
    for stream in (result.stdout, result.stderr):
        for line in stream.splitlines():
            if line.strip():
                return line.strip()
    return "unknown"


def tool_versions(commands: dict[str, str]) -> dict[str, str]:
    """Run each distinct version command once, concurrently: {key: version}."""
    distinct = sorted(set(commands.values()))
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(zip(distinct, pool.map(tool_version, distinct), strict=True))
    return {key: found[cmd] for key, cmd in commands.items()}
