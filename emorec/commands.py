"""The installed commands. Each imports its module only when it runs, so that Ctrl-C at any
moment, TensorFlow's start-up included, ends it in one line (exit status 130, as a shell
gives a command stopped so) rather than a traceback."""
from __future__ import annotations

import importlib
import sys


def _interrupted(error: BaseException | None) -> bool:
    """Ctrl-C, also where Python wraps it in another error: a KeyboardInterrupt in a class's
    `__set_name__` (matplotlib's import runs some) comes out as a RuntimeError caused by it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _run(prog: str, module: str, function: str = "main") -> int:
    try:
        return getattr(importlib.import_module(module), function)()
    except BaseException as error:
        if not _interrupted(error):
            raise
        print(f"\n{prog}: stopped (Ctrl-C); what was written before stays", file=sys.stderr)
        return 130


def predict() -> int:
    return _run("emorec-predict", "emorec.inference.cli")


def export() -> int:
    return _run("emorec-export", "emorec.export")


def evaluate() -> int:
    return _run("emorec-evaluate", "emorec.evaluation.__main__", "run")
