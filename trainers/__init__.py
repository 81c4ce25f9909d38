"""The trainers: `python -m trainers.train`, `trainers.baseline`, `trainers.preset`."""

from __future__ import annotations

import dataclasses
import sys

import emorec

# The trainers whose TensorFlow runs forward passes only (frozen encoders; the head is fitted in
# NumPy): oneDNN's backward-pass fault (emorec.configure_process) cannot reach them, and its
# kernels read Whisper features 2.4 times faster here (3.6 clips a second against 1.5).
FORWARD_ONLY = ("trainers.preset",)


def running() -> str | None:
    """The module `python -m` runs. While its package loads, sys.argv[0] is still "-m":
    sys.orig_argv holds the command line as given."""
    argv = getattr(sys, "orig_argv", [])
    return argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None


# The trainers are commands: their process takes emorec's settings before TensorFlow loads.
emorec.configure_process(onednn=running() in FORWARD_ONLY)


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
    """A trainer's `main` as its command (`emorec.errors.absl_command`: refusals in one line)."""
    from emorec.errors import absl_command

    sys.exit(absl_command(main, prog))
