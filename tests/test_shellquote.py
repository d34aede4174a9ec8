"""A value substituted into a command is literal text wherever its placeholder stands.

Each template puts a placeholder in one quoting context of bash; hypothesis draws hostile
values (quotes of both kinds, `$(...)`, backquotes, `;`, newlines, backslashes), and the
real bash must print the value back unchanged and run nothing else.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genscale.data.manifest import Dataset
from genscale.errors import SpecError
from genscale.workflow.shellquote import UnsafePlaceholder, check_template, render_quoted

from .conftest import GENSCALE, write

# (template, what bash prints for value V)
CONTEXTS = [
    ("printf %s {v}", "{v}"),
    ("printf %s '{v}'", "{v}"),
    ("printf %s 'a {v} b'", "a {v} b"),
    ('printf %s "{v}"', "{v}"),
    ('printf %s "a {v} b"', "a {v} b"),
    ("printf %s $'a\\t{v}'", "a\t{v}"),
    ("printf %s \"$(printf %s {v}; printf x)\"", "{v}x"),
    ("printf %s \"a$(printf %s \"<{v}>\"; printf x)\"", "a<{v}>x"),
    ("printf %s $(printf %s 'x'){v}", "x{v}"),
    ("printf %s {v}'q'\"{v}\"", "{v}q{v}"),
    ("printf %s \"it's\" '{v}' # it's a comment", "it's{v}"),
    ("true <<< 'x'; printf %s {v}", "{v}"),
    ("cat <<EOF\nline\nEOF\nprintf %s '{v}'", "line\n{v}"),
    ("x=\"$((1 + 2))\"; printf %s \"$x{v}\"", "3{v}"),
]

HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab ;|&$`'\"\\\n\t(){}<>#*?!~=x")) | st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30)


def bash(command: str, cwd: Path) -> str:
    proc = subprocess.run(["bash", "-o", "pipefail", "-e", "-c", command], cwd=cwd,
                          capture_output=True, timeout=10)
    assert proc.returncode == 0, (command, proc.stderr)
    return proc.stdout.decode()  # bytes, so that a \r in the value stays one


@pytest.mark.parametrize("template,expected", CONTEXTS)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_value_is_literal_in_every_context(template: str, expected: str, value: str,
                                           tmp_path: Path) -> None:
    assert check_template(template) == []
    value = value + "; touch INJECTED"
    out = bash(render_quoted(template, {"v": value}), tmp_path)
    assert out == expected.replace("{v}", value)
    assert not (tmp_path / "INJECTED").exists()


@pytest.mark.parametrize("template,why", [
    ("echo `echo {v}`", "`...`"),
    ("cat <<EOF\n{v}\nEOF", "here-document"),
    ("cat <<'EOF'\n{v}\nEOF", "here-document"),
    ("echo ${{HOME:-{v}}}", "${...}"),
    ("echo ${v}", "follows '$'"),
    ("echo \\{v}", "backslash"),
    ("echo hi # {v}", "comment"),
])
def test_places_no_quoting_can_save_are_refused(template: str, why: str) -> None:
    problems = check_template(template)
    assert len(problems) == 1 and why in problems[0][1]
    with pytest.raises(UnsafePlaceholder):
        render_quoted(template, {"v": "x"})


def test_readme_example_with_an_injected_param(tmp_path: Path) -> None:
    """0.10.0 ran `touch` from `--param 'min_len=1; touch /tmp/x;'` through the README's
    own spec, where the placeholder stands inside awk's single quotes."""
    spec = write(tmp_path / "tiny.yaml", """\
name: tiny
inputs: {reads: FASTQ}
params: {min_len: 36, label: "x"}
steps:
  - name: count
    app: awk
    tools: [awk]
    inputs: {reads: "{dataset.reads}"}
    outputs: {n: counts/n.txt}
    command: >-
      awk 'length($0) >= {params.min_len} {{ n++ }} END {{ print n, "{params.label}" }}'
      {inputs.reads} > {outputs.n}
""")
    reads = write(tmp_path / "data" / "reads.fq", "ACGT\nAC\n")
    Dataset.build(reads.parent, "dna", {"reads": "reads.fq"}, {}, {})
    marker = tmp_path / "INJECTED"
    proc = subprocess.run([GENSCALE, "run", str(spec), "--dataset", str(reads.parent),
                           "--runs-dir", str(tmp_path / "runs"), "--no-plots",
                           "--param", f"min_len=1; touch {marker};"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "expected an integer" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    # a text parameter inside a quoted awk string: bash passes it whole, runs nothing
    proc = subprocess.run([GENSCALE, "run", str(spec), "--dataset", str(reads.parent),
                           "--runs-dir", str(tmp_path / "runs"), "--no-plots",
                           "--param", f"label=' ; touch {marker}; echo '"],
                          capture_output=True, text=True)
    assert not marker.exists(), proc.stderr


def test_unsafe_placeholder_is_a_spec_error_naming_the_line(tmp_path: Path) -> None:
    from genscale.workflow.loader import load_workflow
    from genscale.workflow.plan import make_plan

    spec = write(tmp_path / "bad.yaml", """\
name: bad
params: {x: "1"}
steps:
  - name: a
    app: sh
    outputs: {o: o.txt}
    command: echo `echo {params.x}` > {outputs.o}
""")
    workflow, source = load_workflow(str(spec))
    with pytest.raises(SpecError) as info:
        make_plan(workflow, source, None, tmp_path / "w", shape_only=True)
    assert "bad.yaml:7" in str(info.value) and "{params.x} in command" in str(info.value)


# -- commands run without bash where bash would add nothing (issue 22) ---------------------

PLAIN = st.text(alphabet="abcXYZ019_./:,@%+=-", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(PLAIN, min_size=0, max_size=5))
def test_a_plain_command_gets_the_argv_bash_would_give(args: list[str]) -> None:
    from genscale.executors.base import bash_argv, direct_argv

    command = " ".join(["env", "printf", "%s:", *args])  # printf itself is bash's own
    argv = direct_argv(command)
    assert argv is not None and Path(argv[0]).name == "env"
    via_bash = subprocess.run(bash_argv(command), capture_output=True, check=True).stdout
    direct = subprocess.run(argv, capture_output=True, check=True).stdout
    assert direct == via_bash


@pytest.mark.parametrize("command", [
    "echo hi", "cd /tmp", "exit 3", "time ls", "A=1 ls", "ls *", "ls ~", "ls $HOME",
    "ls > x", "ls | wc", "ls; ls", "ls && ls", "ls 'a b'", 'ls "a"', "ls a\\ b", "ls {a,b}",
    "ls # note", "./script.sh", "printf %s x", "ls\tx", "no-such-program-anywhere x", "",
    "ls\nls", "! ls", "[[ -e x ]]",
])
def test_anything_bash_would_change_still_goes_through_bash(command: str) -> None:
    from genscale.executors.base import direct_argv

    assert direct_argv(command) is None
