"""The workflow spec: what a YAML file in the catalog (or a user's) may say.

A step names its inputs and outputs as paths; which step depends on which is inferred from
those paths, never declared. Paths are relative to the run's work directory, except
`{dataset.NAME}`, which names a file of the dataset manifest.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
          "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
          "TIB": 2**40}
LARGEST_BYTES = 2**60
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_bytes(value: object) -> int:
    """'4G', '512 MiB', 1048576 -> bytes (binary units: G means GiB, as schedulers mean it).
    At most 1 EiB: a larger size is a typo, and would not fit the tables' integers."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512M or 4G")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a size such as 512M or 4G, got {value!r}")
        if value < 0:
            raise ValueError("a size cannot be negative")
        size = int(value)
    else:
        match = _SIZE.match(str(value))
        if not match or match.group(2).upper() not in _UNITS:
            raise ValueError(f"expected a size such as 512M or 4G, got {value!r}")
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size > LARGEST_BYTES:
        raise ValueError(f"expected a size of at most 1 EiB, got {value!r}")
    return size


def size_flag(text: str, flag: str) -> int:
    """Bytes of a size flag's value such as 16G (`parse_bytes`); one UserError naming the
    flag for anything else or 0."""
    from genscale.errors import UserError

    try:
        value = parse_bytes(text)
    except ValueError as exc:
        raise UserError(f"{flag} {text!r}: {exc}") from None
    if value <= 0:
        raise UserError(f"{flag} {text!r}: expected a size above 0, such as 16G")
    return value


Bytes = Annotated[int, BeforeValidator(parse_bytes)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


class Step(BaseModel):
    """One step: a shell command template run as one monitored task."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    app: Annotated[str, Field(min_length=1)]
    command: Annotated[str, Field(min_length=1)]
    inputs: dict[Name, str] = {}
    outputs: dict[Name, str] = {}
    threads: Annotated[int, Field(ge=1, le=4096, strict=True)] = 1
    memory: Bytes = 1 * 2**30
    tools: list[str] = []
    version: str | None = None
    image: str | None = None
    optional: bool = False
    cache: bool = False
    description: str = ""


class Workflow(BaseModel):
    """A whole workflow: dataset inputs it needs, parameters with defaults, and its steps."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = ""
    inputs: dict[Name, str] = {}
    params: dict[Name, str | int | float] = {}
    steps: Annotated[list[Step], Field(min_length=1)]

    def with_max_threads(self, max_threads: int | None) -> Workflow:
        """This workflow with no step given more than `max_threads` threads (nf-core's
        `--max_cpus`); itself when None."""
        if max_threads is None:
            return self
        return self.model_copy(update={"steps": [
            s.model_copy(update={"threads": min(s.threads, max_threads)})
            for s in self.steps]})
