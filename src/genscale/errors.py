"""Errors that are the user's to fix: the CLI prints them on one line, without a traceback."""

from __future__ import annotations


def _one_line(message: str) -> str:
    # a message may quote what the user gave (a header, a key); a line break in that is
    # shown, not obeyed, so the message stays the one line it promises
    return message.replace("\r", "\\r").replace("\n", "\\n")


class UserError(Exception):
    """A problem in what the user gave us (a file, a flag, a spec), stated so they can act:
    its message is one line naming the file, line or field. Internal errors are not
    UserErrors.

        try:
            genscale.run_workflow("dnaseq", "no/such/dataset")
        except genscale.UserError as error:
            print(error)
    """

    def __str__(self) -> str:
        return _one_line(super().__str__())


class SpecError(UserError):
    """One or more problems in a workflow spec, each naming the file, line and field: one
    line each (`problems`), joined by line breaks in its message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [_one_line(p) for p in problems]
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)
