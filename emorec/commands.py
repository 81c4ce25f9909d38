"""The installed commands. Each imports its module only when it runs, so that Ctrl-C at any
moment, TensorFlow's start-up included, ends it in one line (exit status 130, as a shell
gives a command stopped so) rather than a traceback."""
from __future__ import annotations

import importlib
import os
import signal
import sys

from emorec import configure_process, interrupted, visible_stderr


def _stopped(prog: str):
    with visible_stderr():
        print(f"\n{prog}: stopped (Ctrl-C); what was written before stays", file=sys.stderr)
    sys.stdout.flush()
    # Not a return: a Ctrl-C that lands while TensorFlow starts leaves its threads half made,
    # and one of them calling into Python while the interpreter finalizes aborts it ("Fatal
    # Python error: PyThreadState_Get", seen in CI) with another exit status.
    os._exit(130)


def _run(prog: str, module: str, function: str = "main") -> int:
    configure_process()
    # While the module loads (TensorFlow: seconds) nothing is written, so Ctrl-C ends it in the
    # signal handler: as a KeyboardInterrupt it could land in one of importlib's weakref
    # callbacks, where Python prints "Exception ignored" and goes on (seen here).
    loading = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not where it is ignored
    if loading:
        signal.signal(signal.SIGINT, lambda *_: _stopped(prog))
    try:
        try:
            main = getattr(importlib.import_module(module), function)
        finally:
            if loading:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        return main()
    except BaseException as error:
        if not interrupted(error):
            raise
        _stopped(prog)


def predict() -> int:
    if sys.argv[1:] == ["--list-presets"]:  # the cards alone: no TensorFlow to start
        from emorec import presets

        print(presets.listing())
        return 0
    if {"-h", "--help"} & set(sys.argv[1:]):  # argparse's help, from the options alone: no media library loaded
        from emorec.inference import options

        options.parse(sys.argv[1:])  # exits, unless "-h" was an option's value
    return _run("emorec-predict", "emorec.inference.cli")


def export() -> int:
    return _run("emorec-export", "emorec.export")


def evaluate() -> int:
    return _run("emorec-evaluate", "emorec.evaluation.__main__", "run")
