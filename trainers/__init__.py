"""The trainers: `python -m trainers.train`, `trainers.baseline`, `trainers.preset`."""

from __future__ import annotations

import sys

import emorec

# The trainers are commands: their process takes emorec's settings before TensorFlow loads.
emorec.configure_process()


def run(main, prog: str) -> None:
    """absl's `app.run(main)` through emorec's command runner (`emorec.errors.guarded`), with
    each usage refusal in one line, `PROG: reason`: a flag value that fails its validator (absl
    adds a second line, a pointer to --helpshort) and a UsageError that `main` raises (absl
    prints the module's doc and its flags, about 100 lines, first)."""
    from absl import app, flags

    from emorec.errors import guarded
    from emorec.errors import one_line

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            _refuse(one_line(prog, error), 1)

    def checked_main(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            _refuse(one_line(prog, error), error.exitcode)

    sys.exit(guarded(prog, app.run, checked_main, flags_parser=parse))


def _refuse(line: str, status: int):
    print(line, file=sys.stderr)
    sys.exit(status)
