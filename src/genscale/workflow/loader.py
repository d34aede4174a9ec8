"""Loading a workflow spec from YAML, with every problem tied to its file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from genscale.errors import SpecError, UserError
from genscale.workflow.spec import Workflow

Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each field of a spec stands in its file."""

    file: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """Line of `loc`, or of its nearest enclosing field that has one."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Loc, message: str) -> str:
        return f"{self.file}:{self.line(loc)}: {dotted(loc)}: {message}"


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _index(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[str]) -> None:
    """Line of every key and item under `node`; a key given twice in one mapping (YAML
    forbids it; PyYAML would keep the last silently) goes to `duplicates`."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            sub = (*loc, str(key.value))
            line = key.start_mark.line + 1
            if str(key.value) in seen:
                duplicates.append(f"{line}: {dotted(sub)}: key given twice (first on line "
                                  f"{seen[str(key.value)]})")
            seen.setdefault(str(key.value), line)
            lines[sub] = line
            _index(value, sub, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), lines, duplicates)


def catalog_names() -> list[str]:
    folder = resources.files("genscale.workflow") / "catalog"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve(name_or_path: str) -> tuple[str, str]:
    """(display name, YAML text) of a catalog name or a path to a YAML file."""
    if name_or_path in catalog_names():
        res = resources.files("genscale.workflow") / "catalog" / f"{name_or_path}.yaml"
        return f"catalog/{name_or_path}.yaml", res.read_text(encoding="utf-8")
    path = Path(name_or_path)
    if not path.is_file():
        raise UserError(f"{name_or_path}: no such workflow file, and not a catalog name "
                        f"(catalog: {', '.join(catalog_names())})")
    return str(path), read_spec_text(path)


def read_spec_text(path: Path) -> str:
    """A spec file's text; UserError naming the line of a byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at "
                        f"offset {exc.start})") from None


M = TypeVar("M", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (the wheels are): the pure-Python one
# took 3 ms per step of a spec, most of a 1,000-task run's dispatch time (issue 22)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[yaml.Node | None, object]:
    """The document's node tree (for its lines) and its data, from one parse."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_model(file: str, text: str, model: type[M], what: str) -> tuple[M, SourceMap]:
    """YAML `text` validated as `model`; SpecError lists every problem with its line."""
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SpecError([f"{file}:{line}: not valid YAML: "
                         f"{getattr(exc, 'problem', None) or exc}"]) from None
    source = SourceMap(file)
    if node is not None:
        duplicates: list[str] = []
        _index(node, (), source.lines, duplicates)
        if duplicates:
            raise SpecError([f"{file}:{d}" for d in duplicates])
    if not isinstance(data, dict):
        raise SpecError([f"{file}:1: {what} is a YAML mapping"])
    try:
        return model.model_validate(data), source
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            elif err["type"] == "missing":
                message = "required field is missing"
            problems.append(source.problem(loc, message))
        raise SpecError(problems) from None


def load_workflow(name_or_path: str) -> tuple[Workflow, SourceMap]:
    """Parse and validate a spec's structure; raises SpecError listing every problem."""
    file, text = resolve(name_or_path)
    return load_model(file, text, Workflow, "a workflow spec (name and steps)")
