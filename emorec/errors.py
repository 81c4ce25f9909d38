"""What a user can fix, as one family of errors, and how every command of emorec ends
(`guarded`, which runs its main): these in one line and exit status 2; Ctrl-C in one line
(130); any other error as the fault in emorec it is, with its traceback (1).

A `UserError` is one the person running the command can put right without changing emorec: a
file that is missing, unreadable, damaged or of the wrong kind (a clip, a checkpoint, a weights
file, a run), a flag or option with a value that cannot be, a folder that cannot be written, a
service that does not answer at the address given. Its message names the file, flag or address
and says what to do. A wrong argument from code that calls the library, a state the code
should never reach, or a library failing in a way nobody can act on does not belong here.
"""

from __future__ import annotations

import os
import sys
import traceback

from emorec import interrupted, visible_stderr


class UserError(Exception):
    """A bad file, a wrong flag, a missing checkpoint: the message names it and the fix."""


def one_line(prog: str, error: BaseException) -> str:
    """`PROG: reason`, a message of several lines (absl's, a builder's) joined with "; "."""
    return f"{prog}: " + "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


class UserValueError(UserError, ValueError):
    """A UserError that was a ValueError before this family existed: callers that catch
    ValueError around option and file checks still catch it."""


ISSUES = "https://github.com/emorec/emorec/issues"


def stopped(prog: str):
    """Ends the process as a shell ends a command stopped by Ctrl-C, in one line."""
    with visible_stderr():
        print(f"\n{prog}: stopped (Ctrl-C); what was written before stays", file=sys.stderr)
    sys.stdout.flush()
    # Not a return: a Ctrl-C that lands while TensorFlow starts leaves its threads half made,
    # and one of them calling into Python while the interpreter finalizes aborts it ("Fatal
    # Python error: PyThreadState_Get", seen in CI) with another exit status.
    os._exit(130)


def guarded(prog: str, main, *args, **kwargs) -> int:
    """`main(*args, **kwargs)`'s exit status, every way it can end said as `prog`'s. Usage
    errors (argparse's, absl's) end in SystemExit inside `main` and pass through as they were."""
    try:
        return main(*args, **kwargs) or 0
    except UserError as error:
        with visible_stderr():
            print(one_line(prog, error), file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001  the last resort: a fault, shown as one
        if interrupted(error):
            stopped(prog)
        with visible_stderr():
            traceback.print_exc()
            print(
                f"{prog}: this is a bug in emorec; please report it with the lines above at {ISSUES}", file=sys.stderr
            )
        return 1
    except KeyboardInterrupt:
        stopped(prog)


def absl_command(main, prog: str) -> int:
    """absl's `app.run(main)` through `guarded`, each usage refusal in one line, `PROG: reason`:
    a flag value that fails its validator (absl adds a second line, a pointer to --helpshort)
    and a UsageError that `main` raises (absl prints the module's doc and its flags, about 100
    lines, first), exit status 2 as every refusal of what a user can fix. The exit status."""
    from absl import app, flags

    def refuse(error):
        with visible_stderr():
            print(one_line(prog, error), file=sys.stderr)
        sys.exit(2)

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            refuse(error)

    def checked_main(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            refuse(error)

    return guarded(prog, app.run, checked_main, flags_parser=parse)
