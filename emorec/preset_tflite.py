"""A preset as TFLite, made once and cached: what `emorec-predict` runs a preset with by default
where LiteRT is installed (`--runtime lite`), so that predicting starts no TensorFlow.

Making it needs TensorFlow once (the preset built from its weight files, then
`export.export_tflite`: about a minute for a Whisper preset); the file goes to the cache folder
(EMOREC_CACHE, else $XDG_CACHE_HOME/emorec or ~/.cache/emorec) with a record of what it was made
from: a sha256 over the preset's cards and trained files, the code that builds and exports its
graph and the Keras version (`made_from`). A record that names other files is stale and the file
is made again; a file that is not the one recorded (truncated, changed) or does not load is said
in one line and made again. A file whose size and modification time are the recorded ones is not
hashed again: hashing a Whisper preset's 115 MB took 0.2 s of every start.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys

from emorec import presets
from emorec.errors import UserError
from emorec.tflite import TFLiteModel

CACHE_ENV = "EMOREC_CACHE"
PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The code a preset's graph and metadata come from (the log-mel is in the graph: media/features.py):
# an edit to any of these makes the cached file stale. The client's (tflite.py) is not: a file it
# can no longer read is damaged, and made again.
GRAPH_CODE = ("models", "export.py", "signatures.py", os.path.join("media", "features.py"))


def folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get(CACHE_ENV) or os.path.join(base, "emorec")


def paths(name: str) -> tuple[str, str]:
    """(the preset's cached .tflite, its record) in `folder()`."""
    stem = os.path.join(folder(), presets.card(name)["name"])
    return stem + ".tflite", stem + ".json"


def _code_files() -> list[str]:
    found = []
    for part in GRAPH_CODE:
        path = os.path.join(PACKAGE, part)
        found += (
            [os.path.join(d, f) for d, _, files in os.walk(path) for f in files if f.endswith(".py")]
            if os.path.isdir(path)
            else [path]
        )
    return sorted(found)


def _preset_files(name: str) -> dict[str, str]:
    """{path: sha256} of the preset's card and trained files, and its members'. A trained file's is
    the one its card names, once `presets.checked_file` has found it so (PresetError, in one line,
    for one missing or changed): each file is hashed once."""
    card, where = presets.card(name), presets.folder(name)
    path = os.path.join(where, presets.CARD)
    files = {path: presets.sha256(path)}
    files.update({presets.checked_file(name, f): digest for f, digest in sorted(card.get("files", {}).items())})
    for member in card.get("members", []):
        files.update(_preset_files(member))
    return files


def made_from(name: str) -> str:
    """The sha256 of what the preset's TFLite is made from. The pretrained weights (Whisper's,
    FER2013's) count through the code: it names their sha256 and refuses any other."""
    digest = hashlib.sha256(f"keras {importlib.metadata.version('keras')}\n".encode())
    files = {**_preset_files(name), **{path: presets.sha256(path) for path in _code_files()}}
    for path, sha256 in files.items():
        digest.update(os.path.relpath(path, PACKAGE).encode() + b"\n" + sha256.encode() + b"\n")
    return digest.hexdigest()


def problem(name: str, key: str) -> str | None:
    """Why the cached file cannot be used as it is (None: it can): missing, stale or damaged."""
    path, record_path = paths(name)
    if not os.path.exists(path):
        return "missing"
    try:
        with open(record_path) as f:
            record = json.load(f)
    except (OSError, json.JSONDecodeError):
        return f"damaged: {record_path}, its record, cannot be read"
    if record.get("made_from") != key:
        return "stale: made from other files (another version of the preset, of emorec or of Keras)"
    stat = os.stat(path)
    if stat.st_size != record.get("bytes") or (
        stat.st_mtime_ns != record.get("mtime_ns") and presets.sha256(path) != record.get("sha256")
    ):
        return (
            f"damaged: {stat.st_size} bytes, not the {record.get('bytes')} bytes of sha256 "
            f"{str(record.get('sha256'))[:12]}... it was written as"
        )
    return None


def make(name: str, path: str) -> None:
    """Writes the preset's TFLite to `path` (TensorFlow: the one time it is needed)."""
    from emorec import export, models

    card = presets.card(name)
    export.export_tflite(models.from_preset(name), path, card["classes"], export.preset_metadata(card))


def model(name: str) -> TFLiteModel:
    """The preset's TFLite model, from the cache; made first where it is missing, stale or
    damaged (said in one line on stderr)."""
    path, record_path = paths(name)
    key = made_from(name)
    why = problem(name, key)
    if why is None:
        try:
            return TFLiteModel(path)
        except UserError:  # the client's refusal of a file it cannot run
            why = "damaged: it does not load as a TFLite model"
    what = "making it once" if why == "missing" else f"{why}: making it again"
    print(f"note: preset {name} as TFLite ({path}): {what} (TensorFlow, a minute or two)", file=sys.stderr)
    os.makedirs(folder(), exist_ok=True)
    make(name, path)
    stat = os.stat(path)
    record = {
        "preset": name,
        "made_from": key,
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": presets.sha256(path),
    }
    with open(record_path + ".tmp", "w") as f:
        json.dump(record, f, indent=1)
    os.replace(record_path + ".tmp", record_path)
    return TFLiteModel(path)
