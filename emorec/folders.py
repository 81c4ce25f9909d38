"""Output folders checked before any work, so that a run cannot fail at its end for want of one."""

from __future__ import annotations

import contextlib
import os
import tempfile

from emorec.errors import UserError


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


def refuse_unwritable(named: str, path: str, file: bool = False) -> None:
    """`check_writable(path)` (`check_writable_file` for a `file`), a UserError if it fails:
    `named` is the path as the user gave it (`--out X`, `--export_dir=X`), said with the reason."""
    if not path.strip():
        raise UserError(f"{named.strip()}: an empty path: give a folder{' and file name' if file else ''}")
    try:
        (check_writable_file if file else check_writable)(path)
    except OSError as e:
        raise UserError(f"{named} cannot be written to ({e.strerror or e}): give another path") from None


@contextlib.contextmanager
def writing(path: str):
    """A write to `path` that fails (its disk full, its folder gone) as a UserError naming it."""
    try:
        yield
    except OSError as e:
        raise UserError(
            f"{path} could not be written ({e.strerror or e}): free some space, or write elsewhere"
        ) from None


def write_whole(path: str, text: str) -> None:
    """`text` to `path`, there only once whole: a write that fails leaves no part of it."""
    partial = path + ".partial"
    try:
        with writing(path), open(partial, "w") as f:
            f.write(text)
        os.replace(partial, path)
    finally:
        if os.path.lexists(partial):
            os.remove(partial)
