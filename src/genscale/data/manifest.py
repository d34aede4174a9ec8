"""The dataset manifest: `manifest.json` in a dataset directory, naming its files (with sizes
and checksums), the parameters that made it, and facts workflows need (read length, ...)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genscale.errors import UserError
from genscale.store.rundir import atomic_write_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Dataset:
    """A dataset directory and what its manifest says (`Dataset.load(path)`).

        dataset = genscale.Dataset.load(Path("datasets/small"))
        dataset.kind, dataset.path
    """

    path: Path
    kind: str
    files: dict[str, dict[str, Any]]  # name -> {"path", "bytes", "sha256"}
    params: dict[str, str | int | float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        return (self.path / self.files[name]["path"]).resolve()

    @property
    def input_bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files.values())

    @property
    def genome_bases(self) -> int | None:
        """The reference's length in bases, as its maker counted it (synth, import), if it
        did."""
        value = (self.info.get("stats") or {}).get("genome_bases")
        return int(value) if value is not None else None

    @property
    def pairs(self) -> int | None:
        """The read pairs its maker counted (synth, subsample, import), if it did."""
        pairs = self.info.get("stats", {}).get("pairs")
        return None if pairs is None else int(pairs)

    @classmethod
    def build(cls, path: Path, kind: str, files: dict[str, str],
              params: dict[str, str | int | float], info: dict[str, Any]) -> Dataset:
        """Describe files already in `path` (name -> relative path) and write the manifest."""
        entries = {}
        for name, rel in files.items():
            full = path / rel
            entries[name] = {"path": rel, "bytes": full.stat().st_size,
                             "sha256": file_sha256(full)}
        dataset = cls(path, kind, entries, params, info)
        dataset.write()
        return dataset

    def write(self) -> None:
        atomic_write_json(self.path / MANIFEST, {
            "genscale_dataset": FORMAT_VERSION, "kind": self.kind, "files": self.files,
            "params": self.params, **self.info,
        })

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "files": self.files,
                "params": self.params, **self.info}

    @classmethod
    def load(cls, path: Path) -> Dataset:
        manifest = Path(path) / MANIFEST
        if not manifest.is_file():
            raise UserError(f"{path}: not a dataset directory (no {MANIFEST}); make one with "
                            "'genscale data synth'")
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{manifest}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        except UnicodeDecodeError:
            raise UserError(f"{manifest}: not UTF-8 text") from None
        if not isinstance(data, dict):
            raise UserError(f"{manifest}: expected a JSON object")
        for key in ("kind", "files"):
            if key not in data:
                raise UserError(f"{manifest}: field '{key}' is missing")
        files = data.pop("files")
        if not isinstance(files, dict):
            raise UserError(f"{manifest}: files: expected an object of name: {{path: ...}}")
        if not isinstance(data.get("params", {}), dict):
            raise UserError(f"{manifest}: params: expected an object")
        for name, entry in files.items():
            if not isinstance(entry, dict) or "path" not in entry:
                raise UserError(f"{manifest}: files.{name}: expected an object with 'path'")
            if not (Path(path) / entry["path"]).exists():
                raise UserError(f"{manifest}: files.{name}: {entry['path']} does not exist")
        data.pop("genscale_dataset", None)
        return cls(Path(path).resolve(), data.pop("kind"), files, data.pop("params", {}), data)
