"""What `tfds build` says of a corpus builder's errors. Installed by the builders' packages
(`datasets/<corpus>/__init__.py`), which `tfds build` imports before the builder and its
libraries (OpenCV, the media code: seconds), so that a Ctrl-C while they load is one line too;
and, for Ctrl-C alone, by the `emorec-tfds.pth` that setup.py installs beside the package, since
TFDS takes its first seconds (TensorFlow's import) before it imports any builder. Importing this
module loads nothing heavy."""

from __future__ import annotations

import os
import re
import sys

from emorec import configure_process, errors, interrupted, visible_stderr


def hook(previous):
    """`tfds build`'s exception hook: what a user can fix (a builder's refusals, a file or a
    Dask scheduler that cannot be had: `UserError`) and Ctrl-C in one line; anything else as
    before (a traceback: a fault to report)."""

    def said(kind, error, trace):
        with visible_stderr():
            if issubclass(kind, errors.UserError):
                print(errors.one_line("tfds build", error), file=sys.stderr)
            elif interrupted(error):
                print(
                    "tfds build: stopped (Ctrl-C); nothing was written: the same command builds it again",
                    file=sys.stderr,
                )
            elif config := unknown_config(error, trace):
                print(f"tfds build: {config}", file=sys.stderr)
            else:
                previous(kind, error, trace)

    said.emorec = True
    return said


def unknown_config(error: BaseException, trace) -> str | None:
    """What to say of TFDS's refusal of a --config its builder lacks (a ValueError that lists
    no configs), with the builder's configs, found in the traceback's frames; None for any
    other error."""
    found = re.match(r"BuilderConfig (.+) not found", str(error)) if isinstance(error, ValueError) else None
    if not found:
        return None
    configs = []
    while trace is not None and not configs:
        owner = trace.tb_frame.f_locals.get("self") or trace.tb_frame.f_locals.get("cls")
        configs = [config.name for config in getattr(owner, "BUILDER_CONFIGS", [])]
        trace = trace.tb_next
    return f"--config={found.group(1)} is none of this dataset's configs" + (
        f" ({', '.join(configs)})" if configs else ""
    )


def install() -> None:
    """In the `tfds build` command only (whose users these words are for): its errors in one
    line, and emorec's process settings; imported anywhere else, the builder changes nothing."""
    if os.path.basename(sys.argv[0]) == "tfds":
        configure_process()
        at_start()


def at_start() -> None:
    """`tfds build`'s exception hook from the interpreter's start (`emorec-tfds.pth`), once."""
    if not getattr(sys.excepthook, "emorec", False):
        sys.excepthook = hook(sys.excepthook)
