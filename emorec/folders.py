"""Output folders checked before any work, so that a run cannot fail at its end for want of one."""
from __future__ import annotations

import os
import tempfile


def check_writable(folder: str) -> None:
    """Makes `folder` and writes a file in it; OSError (its strerror says why) if it cannot."""
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass
