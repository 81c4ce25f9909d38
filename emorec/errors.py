"""What a user can fix, as one family of errors: the commands say these in one line and exit 2
(`emorec.commands.guarded`); any other error is a fault in emorec, shown with its traceback.

A `UserError` is one the person running the command can put right without changing emorec: a
file that is missing, unreadable, damaged or of the wrong kind (a clip, a checkpoint, a weights
file, a run), a flag or option with a value that cannot be, a folder that cannot be written, a
service that does not answer at the address given. Its message names the file, flag or address
and says what to do. A wrong argument from code that calls the library, a state the code
should never reach, or a library failing in a way nobody can act on does not belong here.
"""
from __future__ import annotations


class UserError(Exception):
    """A bad file, a wrong flag, a missing checkpoint: the message names it and the fix."""


def one_line(prog: str, error: BaseException) -> str:
    """`PROG: reason`, a message of several lines (absl's, a builder's) joined with "; "."""
    return f"{prog}: " + "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


class UserValueError(UserError, ValueError):
    """A UserError that was a ValueError before this family existed: callers that catch
    ValueError around option and file checks still catch it."""

