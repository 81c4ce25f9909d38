"""One run per run folder (--model_dir, --run_dir): two trainers writing one folder interleave their epochs and
overwrite each other's best weights, so the second is refused with the first one's process.

The lock is an advisory `flock` on RUN_DIR/.lock: the system releases it when its process
ends, however it ends, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os

from absl import app

_HELD: list = []  # open lock files, kept for the life of the process


def hold(run_dir: str, flag: str) -> None:
    """Takes run_dir's lock for this process, or raises UsageError naming its holder and the
    trainer's `flag` that gives another folder."""
    path = os.path.join(run_dir, ".lock")
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise app.UsageError(
            f"{run_dir} is in use by {holder}: wait for it to finish, stop it, or give another --{flag}"
        ) from None
    handle.truncate(0)
    handle.write(f"process {os.getpid()} on {os.uname().nodename}\n")
    handle.flush()
    _HELD.append(handle)
