"""The installed commands, and the one place every command of emorec runs its main (`guarded`):
what a user can fix (`emorec.errors.UserError`) in one line and exit status 2, Ctrl-C in one
line (130), anything else as the fault it is: its traceback and where to report it (1).

Each command imports its module only when it runs, so that Ctrl-C at any moment, TensorFlow's
start-up included, ends it in one line rather than a traceback."""
from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback

from emorec import configure_process, interrupted, visible_stderr
from emorec.errors import UserError, one_line

ISSUES = "https://github.com/emorec/emorec/issues"


def _stopped(prog: str):
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
            _stopped(prog)
        with visible_stderr():
            traceback.print_exc()
            print(f"{prog}: this is a bug in emorec; please report it with the lines above at {ISSUES}",
                  file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _stopped(prog)


def _run(prog: str, module: str, function: str = "main") -> int:
    configure_process()
    # While the module loads (TensorFlow: seconds) nothing is written, so Ctrl-C ends it in the
    # signal handler: as a KeyboardInterrupt it could land in one of importlib's weakref
    # callbacks, where Python prints "Exception ignored" and goes on (seen here).
    loading = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not where it is ignored
    if loading:
        signal.signal(signal.SIGINT, lambda *_: _stopped(prog))

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
    return _run("emorec-predict", "emorec.inference.cli")


def export() -> int:
    return _run("emorec-export", "emorec.export")


def evaluate() -> int:
    return _run("emorec-evaluate", "emorec.evaluation.__main__", "run")
