"""Output folders checked before any work, so that a run cannot fail at its end for want of one."""
from __future__ import annotations

import os
import tempfile


def check_writable(folder: str) -> None:
    """Makes `folder` and writes a file in it; OSError (its strerror says why) if it cannot."""
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def check_writable_file(path: str) -> None:
    """Makes `path`'s folder and checks that `path` can be written there: OSError (its strerror
    says why) if not. A file that was not there is not left behind; one that was is not changed."""
    check_writable(os.path.dirname(path) or ".")
    existed = os.path.exists(path)
    with open(path, "ab"):
        pass
    if not existed:
        os.remove(path)
