"""The trainers: `python -m trainers.train`, `trainers.baseline`, `trainers.preset`."""

from __future__ import annotations

import dataclasses
import sys

import emorec

# The trainers are commands: their process takes emorec's settings before TensorFlow loads.
emorec.configure_process()


class FlagSettings:
    """A trainer's flags as a dataclass's fields, read once (`from_flags`) and passed down, so
    that its steps run from a notebook too (`of`: the flags' defaults with some given)."""

    @classmethod
    def from_flags(cls):
        from absl import flags

        return cls(**{f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(cls)})

    @classmethod
    def of(cls, **given):
        """The flags' defaults, with `given` in their place (TypeError for a name that is no flag)."""
        from absl import flags

        return cls(**{**{f.name: flags.FLAGS[f.name].default for f in dataclasses.fields(cls)}, **given})

    def command_line(self, module: str) -> str:
        """The command that gives these settings: `python -m MODULE` and each flag whose value is
        not its default (what a card states as the command that made it)."""
        from absl import flags

        given = [
            f"--{f.name}={value}" if not isinstance(value, bool) else f"--{'' if value else 'no'}{f.name}"
            for f in dataclasses.fields(self)
            if (value := getattr(self, f.name)) != flags.FLAGS[f.name].default
        ]
        return " ".join([f"python -m {module}", *given])


def run(main, prog: str) -> None:
    """absl's `app.run(main)` through emorec's command runner (`emorec.errors.guarded`), with
    each usage refusal in one line, `PROG: reason`: a flag value that fails its validator (absl
    adds a second line, a pointer to --helpshort) and a UsageError that `main` raises (absl
    prints the module's doc and its flags, about 100 lines, first), exit status 2 as every
    refusal of what a user can fix (`emorec.errors`)."""
    from absl import app, flags

    from emorec.errors import guarded
    from emorec.errors import one_line

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            _refuse(one_line(prog, error), 2)

    def checked_main(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            _refuse(one_line(prog, error), 2)

    sys.exit(guarded(prog, app.run, checked_main, flags_parser=parse))


def _refuse(line: str, status: int):
    print(line, file=sys.stderr)
    sys.exit(status)
