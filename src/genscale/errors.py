"""Errors that are the user's to fix: the CLI prints them on one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem in what the user gave us (a file, a flag, a spec), stated so they can act:
    its message is one line naming the file, line or field. Internal errors are not
    UserErrors.

        try:
            genscale.run_workflow("dnaseq", "no/such/dataset")
        except genscale.UserError as error:
            print(error)
    """


class SpecError(UserError):
    """One or more problems in a workflow spec, each naming the file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
