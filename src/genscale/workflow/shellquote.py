"""Quoting a value for the place it stands in a bash command template.

`shlex.quote` makes a value one literal word where a word may start. A template can put a
placeholder elsewhere: inside single quotes (`awk 'length($0) >= {params.min_len}'`),
inside double quotes, inside `$(...)`. There the quoted value must first close the quote
it stands in and open it again afterwards, or the value's own quotes end the string and
the rest runs as shell code. This module reads a template's literal text as bash reads it,
knows at each placeholder which quoting it stands in, and quotes for that place.

Places where no quoting makes a value literal are refused (`UnsafePlaceholder`): inside
backquotes (bash rescans their text, quotes included), inside a here-document (its body
expands `$(...)` whatever the quotes, and a value with a newline can end it), inside
`${...}`, right after `$` (the quote would become `$'...'`, which reads backslashes), and
right after a backslash (it would escape the opening quote).
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_FORMATTER = string.Formatter()
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")

# what a quoted value is wrapped in, by the quoting it stands in: (before, after)
_WRAP = {"word": ("", ""), "single": ("'", "'"), "ansi": ("'", "$'"), "double": ('"', '"')}


class UnsafePlaceholder(ValueError):
    """A placeholder stands where no quoting can make its value literal."""


@dataclass
class _Scanner:
    """bash's quoting state over a template's literal text, fed piece by piece."""

    stack: list[str] = field(default_factory=lambda: ["word"])
    escaped: bool = False  # the last character was an unquoted or double-quoted backslash
    dollar: bool = False  # the last character was an unquoted `$`
    heredocs: list[str] = field(default_factory=list)  # delimiters whose body is next
    in_heredoc: str | None = None  # the delimiter of the body being read
    line: str = ""  # the current line of a here-document body, so far
    comment: bool = False  # in a `# ...` comment, to the end of the line
    word_start: bool = True  # the next character would start a word

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            c = text[i]
            i += 1
            if self.in_heredoc is not None:
                if c == "\n":
                    if self.line.lstrip("\t") == self.in_heredoc:
                        self.in_heredoc = self.heredocs.pop(0) if self.heredocs else None
                    self.line = ""
                else:
                    self.line += c
                continue
            if self.comment:
                self.comment = c != "\n"
                if not self.comment and self.heredocs:
                    self.in_heredoc, self.line = self.heredocs.pop(0), ""
                continue
            top = self.stack[-1]
            was_dollar, self.dollar = self.dollar, False
            at_word_start, self.word_start = self.word_start, c in " \t\n;&|()"
            if self.escaped:
                self.escaped = False
                continue
            if top == "single":
                if c == "'":
                    self.stack.pop()
            elif top == "ansi":
                if c == "\\":
                    i += 1  # $'...' escapes the next character, a quote included
                elif c == "'":
                    self.stack.pop()
            elif top == "backquote":
                if c == "\\":
                    i += 1
                elif c == "`":
                    self.stack.pop()
            elif top in ("double", "brace"):
                if c == "\\":
                    self.escaped = True
                elif (c == '"' and top == "double") or (c == "}" and top == "brace"):
                    self.stack.pop()
                elif c == "`":
                    self.stack.append("backquote")
                elif c == "$":
                    self.dollar = True
                elif was_dollar and c == "(":
                    self.stack.append("word")
                elif was_dollar and c == "{":
                    self.stack.append("brace")
            else:  # "word": top level, or inside $( )
                if c == "\\":
                    self.escaped = True
                elif c == "#" and at_word_start:
                    self.comment = True
                elif c == "'":
                    self.stack.append("ansi" if was_dollar else "single")
                elif c == '"':
                    self.stack.append("double")
                elif c == "`":
                    self.stack.append("backquote")
                elif c == "$":
                    self.dollar = True
                elif was_dollar and c == "{":
                    self.stack.append("brace")
                elif c == "(" and len(self.stack) > 1:
                    self.stack.append("word")  # a ( inside $( ), matched by its )
                elif c == "(" and was_dollar:
                    self.stack.append("word")
                elif c == ")" and len(self.stack) > 1:
                    self.stack.pop()
                elif c == "<" and text.startswith("<<", i):
                    i += 2  # a here-string, <<< word: an ordinary word
                elif c == "<" and text.startswith("<", i):
                    match = _HEREDOC.match(text, i - 1)
                    if match:
                        self.heredocs.append(match.group(2))
                        i = match.end()
                elif c == "\n" and self.heredocs:
                    self.in_heredoc = self.heredocs.pop(0)
                    self.line = ""

    def context(self) -> str:
        """The quoting a value placed here stands in; UnsafePlaceholder where none works."""
        if self.in_heredoc is not None:
            raise UnsafePlaceholder("it stands in a here-document, whose body bash expands "
                                    "whatever the quoting; pass the value as a file or an "
                                    "argument instead")
        if self.comment:
            raise UnsafePlaceholder("it stands in a # comment, which a newline in it would "
                                    "end")
        if self.escaped:
            raise UnsafePlaceholder("it follows a backslash, which would escape its quoting")
        if self.dollar:
            raise UnsafePlaceholder("it follows '$', which would make its quoting $'...'")
        top = self.stack[-1]
        if top == "backquote":
            raise UnsafePlaceholder("it stands inside `...`, which bash rescans, quotes "
                                    "included; write $(...) instead")
        if top == "brace":
            raise UnsafePlaceholder("it stands inside ${...}; set a variable from it first")
        return top

    def after_value(self) -> None:
        """A quoted value was placed: it is the middle of a word."""
        self.word_start = False


def _pieces(template: str) -> Iterable[tuple[str, str | None]]:
    for literal, name, _, _ in _FORMATTER.parse(template):
        yield literal, name


def check_template(template: str) -> list[tuple[str, str]]:
    """(field, why) for every placeholder of `template` that no quoting makes safe."""
    scanner, unsafe = _Scanner(), []
    for literal, name in _pieces(template):
        scanner.feed(literal)
        if name is not None:
            try:
                scanner.context()
            except UnsafePlaceholder as exc:
                unsafe.append((name, str(exc)))
            scanner.after_value()
    return unsafe


def render_quoted(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `{name}` replaced by its value, quoted for where it stands, so
    that bash reads each value as literal text, whatever it holds. Raises UnsafePlaceholder
    where no quoting can (check templates with `check_template` first)."""
    scanner, out = _Scanner(), []
    for literal, name in _pieces(template):
        scanner.feed(literal)
        out.append(literal)
        if name is not None:
            before, after = _WRAP[scanner.context()]
            out.append(before + shlex.quote(values[name]) + after)
            scanner.after_value()
    return "".join(out)
