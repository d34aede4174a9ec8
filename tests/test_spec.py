"""The validator on bad specs, and shell quoting of substituted values."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genscale.errors import SpecError
from genscale.workflow.loader import catalog_names, load_workflow
from genscale.workflow.plan import make_plan, render
from genscale.workflow.spec import parse_bytes

from .conftest import write

GOOD = """\
name: tiny
params:
  word: hello
steps:
  - name: first
    app: sh
    tools: [sh]
    outputs: {text: a.txt}
    command: printf '%s' {params.word} > {outputs.text}
  - name: second
    app: sh
    tools: [cat]
    inputs: {text: a.txt}
    outputs: {copy: b.txt}
    command: cat {inputs.text} > {outputs.copy}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    spec = write(tmp_path / "wf.yaml", text)
    with pytest.raises(SpecError) as err:
        workflow, source = load_workflow(str(spec))
        make_plan(workflow, source, None, tmp_path / "work")
    return err.value.problems


def test_good_spec_infers_dependencies(tmp_path: Path) -> None:
    workflow, source = load_workflow(str(write(tmp_path / "wf.yaml", GOOD)))
    plan = make_plan(workflow, source, None, tmp_path / "work")
    assert [t.task_id for t in plan.tasks] == ["first", "second"]
    assert plan.task("second").deps == ["first"]
    assert plan.task("first").command == "printf '%s' hello > a.txt"


def test_catalog_workflows_load() -> None:
    assert {"dnaseq", "rnaseq"} <= set(catalog_names())
    for name in catalog_names():
        workflow, _ = load_workflow(name)
        assert workflow.steps


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace("    tools: [cat]\n", "    tools: [cat]\n    thread: 4\n")
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'wf.yaml'}:13: steps[1].thread: unknown key"]


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("    app: sh\n    tools: [cat]",
                                            "    app: sh\n    threads: many\n    tools: [cat]"))
    assert len(found) == 1 and ":12: steps[1].threads:" in found[0]


def test_missing_input_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("inputs: {text: a.txt}", "inputs: {text: nope.txt}"))
    assert len(found) == 1
    assert ":13: steps[1].inputs.text:" in found[0] and "produced by no step" in found[0]


def test_cycle_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("    outputs: {text: a.txt}\n",
                        "    inputs: {back: b.txt}\n    outputs: {text: a.txt}\n")
    found = problems(tmp_path, text)
    assert any("dependency cycle among steps: first -> second" in p for p in found)


def test_undefined_variable_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("{params.word}", "{params.wrod}"))
    assert len(found) == 1
    assert ":9: steps[0].command: undefined variable {params.wrod} in command" in found[0]


def test_executable_not_found(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("tools: [sh]", "tools: [no-such-aligner]"))
    assert found == [f"{tmp_path / 'wf.yaml'}:7: steps[0].tools: executable not found: "
                     "no-such-aligner"]


def test_optional_step_with_missing_tool_is_skipped_with_dependents(tmp_path: Path) -> None:
    text = GOOD.replace("    tools: [sh]", "    optional: true\n    tools: [no-such-aligner]")
    workflow, source = load_workflow(str(write(tmp_path / "wf.yaml", text)))
    plan = make_plan(workflow, source, None, tmp_path / "work")
    assert plan.skipped == {"first": "no-such-aligner not found on this machine",
                            "second": "depends on skipped first"}


def test_two_steps_writing_one_file(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("outputs: {copy: b.txt}", "outputs: {copy: a.txt}"))
    assert any("is also written by step first" in p for p in found)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("{params.word}", "{params.wrod}").replace("tools: [cat]",
                                                                  "tools: [no-such-x]")
    assert len(problems(tmp_path, text)) == 2


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "name: x\nsteps:\n  - name: [unclosed\n")
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'wf.yaml'}:")
    assert "not valid YAML" in found[0]


def test_unknown_param_override(tmp_path: Path) -> None:
    workflow, source = load_workflow(str(write(tmp_path / "wf.yaml", GOOD)))
    with pytest.raises(SpecError, match="--param wrod: the workflow has no such parameter"):
        make_plan(workflow, source, None, tmp_path / "work", {"wrod": "x"})


def test_hostile_values_neither_break_nor_inject(tmp_path: Path) -> None:
    import subprocess

    workflow, source = load_workflow(str(write(tmp_path / "wf.yaml", GOOD)))
    hostile = "it's a; touch INJECTED $(touch INJECTED2) `touch INJECTED3`"
    plan = make_plan(workflow, source, None, tmp_path / "work", {"word": hostile})
    (tmp_path / "work").mkdir()
    subprocess.run(["bash", "-c", plan.task("first").command], cwd=tmp_path / "work",
                   check=True)
    assert (tmp_path / "work" / "a.txt").read_text() == hostile
    assert not list((tmp_path / "work").glob("INJECTED*"))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=40))
def test_rendered_values_round_trip_through_the_shell_lexer(value: str) -> None:
    command = render("tool --flag {x} end", {"x": value}, quote=True)
    assert shlex.split(command) == ["tool", "--flag", value, "end"]


@pytest.mark.parametrize(("text", "expected"), [("512M", 512 * 2**20), ("4G", 4 * 2**30),
                                                 ("1.5 GiB", int(1.5 * 2**30)), (1024, 1024)])
def test_parse_bytes(text: str | int, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["lots", "-1", "4X", True])
def test_parse_bytes_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(bad)


def test_star_align_clears_what_a_killed_attempt_left() -> None:
    """STAR refuses to start when its --outTmpDir exists, and a killed attempt leaves it:
    a resume or a retry must start from a clean one (seen on a resumed campaign point)."""
    import re

    from genscale.workflow.loader import load_workflow

    workflow, _ = load_workflow("rnaseq")
    step = next(s for s in workflow.steps if s.name == "star_align")
    tmp = re.search(r"--outTmpDir (\S+)", step.command)
    assert tmp is not None
    assert step.command.startswith(f"rm -rf {tmp.group(1)} && ")
