"""The installed commands, each run by `emorec.errors.guarded`: what a user can fix in one line
and exit status 2, Ctrl-C in one line (130), anything else as the fault it is: its traceback
and where to report it (1).

Each command imports its module only when it runs, so that Ctrl-C at any moment, TensorFlow's
start-up included, ends it in one line rather than a traceback."""

from __future__ import annotations

import importlib
import signal
import sys

from emorec import configure_process
from emorec.errors import guarded, stopped


def _run(prog: str, module: str, function: str = "main") -> int:
    configure_process()
    # While the module loads (TensorFlow: seconds) nothing is written, so Ctrl-C ends it in the
    # signal handler: as a KeyboardInterrupt it could land in one of importlib's weakref
    # callbacks, where Python prints "Exception ignored" and goes on (seen here).
    loading = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not where it is ignored
    if loading:
        signal.signal(signal.SIGINT, lambda *_: stopped(prog))

    def load_and_run():
        try:
            main = getattr(importlib.import_module(module), function)
        finally:
            if loading:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        return main()

    return guarded(prog, load_and_run)


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
    return _run("emorec-export", "emorec.export_command")


def evaluate() -> int:
    return _run("emorec-evaluate", "emorec.evaluation.__main__", "run")
