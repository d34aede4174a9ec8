"""Content-keyed cache of step outputs, for steps marked `cache: true` (index builds).

The key covers the step's command template and parameter values, the contents of its
inputs and the tool's version, so a changed reference (or a new bwa) misses and rebuilds,
and nothing else does. Cached outputs live under `<runs-dir>/.cache/steps/<key>/` and are
symlinked into a run's work directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

from genscale.data.manifest import file_sha256
from genscale.store.rundir import atomic_write_json
from genscale.workflow.plan import PlannedTask

COMPLETE = ".complete"


class StepCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.steps = root / "steps"
        self._hashes_path = root / "hashes.json"
        self._lock = threading.Lock()
        try:
            self._hashes: dict[str, str] = json.loads(self._hashes_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            self._hashes = {}

    def content_hash(self, path: Path) -> str:
        """sha256 of a file, or of a directory's files and names; memoised by identity."""
        real = path.resolve()
        st = real.stat()
        memo = f"{real}:{st.st_size}:{st.st_mtime_ns}"
        with self._lock:
            if memo in self._hashes:
                return self._hashes[memo]
        if real.is_dir():
            digest = hashlib.sha256()
            for sub in sorted(p for p in real.rglob("*") if p.is_file()):
                digest.update(str(sub.relative_to(real)).encode() + b"\0")
                digest.update(file_sha256(sub).encode())
            value = digest.hexdigest()
        else:
            value = file_sha256(real)
        with self._lock:
            self._hashes[memo] = value
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self._hashes_path, self._hashes)
        return value

    def key(self, task: PlannedTask, tool_version: str) -> str:
        basis = {
            "basis": task.cache_basis,
            "inputs": {name: self.content_hash(p) for name, p in sorted(task.inputs.items())},
            "version": tool_version,
        }
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:32]

    def restore(self, key: str, task: PlannedTask) -> bool:
        """Link a cached result's outputs into place; False on a miss."""
        entry = self.steps / key
        if not (entry / COMPLETE).exists():
            return False
        for name, path in task.outputs.items():
            _replace_with_link(path, entry / name)
        return True

    def store(self, key: str, task: PlannedTask) -> None:
        """Move a fresh result's outputs into the cache and link them back."""
        entry = self.steps / key
        if (entry / COMPLETE).exists():
            return
        tmp = self.steps / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, path in task.outputs.items():
            if path.is_symlink():  # already a link into the cache: copy what it points to
                shutil.copy2(path.resolve(), tmp / name)
            else:
                shutil.move(str(path), tmp / name)
        (tmp / COMPLETE).touch()
        try:
            os.rename(tmp, entry)
        except OSError:  # another run stored the same key first; use theirs
            shutil.rmtree(tmp, ignore_errors=True)
        for name, path in task.outputs.items():
            _replace_with_link(path, entry / name)


def _replace_with_link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.symlink_to(target.resolve())
