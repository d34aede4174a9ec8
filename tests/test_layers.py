"""The subpackages depend on each other one way: no import cycle, function-level imports
included (issue 18). `genscale.forecast` is what needs both a model and a run."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "genscale"
IMPORT = re.compile(r"^\s*(?:from|import) genscale\.(\w+)|^\s*from genscale import (\w+)",
                    re.MULTILINE)


def dependencies() -> dict[str, set[str]]:
    """Each subpackage (or top-level module) to the others it imports, anywhere in it."""
    out: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).parts
        unit = parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")
        names = {a or b for a, b in IMPORT.findall(path.read_text(encoding="utf-8"))}
        # names of subpackages and modules only (not `__version__` and the like)
        out.setdefault(unit, set()).update(
            n for n in names if n != unit and ((SRC / n).is_dir() or (SRC / f"{n}.py").exists()))
    return out


def test_no_import_cycle_between_subpackages() -> None:
    graph = dependencies()

    def reaches(start: str, goal: str) -> list[str] | None:
        stack, seen = [(start, [start])], {start}
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == goal:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [reaches(b, a) for a in graph for b in graph[a] if reaches(b, a)]
    assert not cycles, f"import cycles: {cycles}"
    assert "model" in graph["forecast"] and "engine" in graph["forecast"]
    assert "engine" not in graph["model"] and "forecast" not in graph["engine"]
