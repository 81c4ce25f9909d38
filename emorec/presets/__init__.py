"""Trained models that ship with emorec, named and versioned in the style of keras-hub's presets.

Each folder here is one preset: its card, `preset.json` (what it predicts and from what, the
data it was trained on and the command that trained it, how well it does and under which
protocol, its licence), the model's config (`config.json`) and its small trained parts
(`trained.npz`), both named on the card with their sha256. What is too large to ship comes from
PyPI packages as for any model (the Whisper encoders, FER2013's network), checked by their own
sha256. `emorec.models.save_to_preset` writes a folder, `emorec.models.from_preset(name)` builds
one; `emorec-predict --list-presets` lists them. This module reads and writes the files; the
models are `emorec.models`' business.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from emorec.errors import UserError

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT = "ravdess_av_whisper_fer2013"  # what emorec-predict runs without --model
CARD = "preset.json"

RAVDESS_LICENCE = (
    "Trained on RAVDESS (Livingstone & Russo 2018, PLoS ONE 13(5): e0196391), licensed CC BY-NC-SA 4.0. "
    "emorec treats weights trained on it as an adaptation of it: use them non-commercially, credit RAVDESS, "
    "and share what you make from them under the same licence. Whether trained weights are an adaptation in "
    "law is not settled; if that matters to you, ask a lawyer, or train on data whose licence suits you "
    "(trainers/preset.py takes any RAVDESS-named folder)."
)


CREMAD_LICENCE = (
    "Trained on CREMA-D (Cao et al. 2014, IEEE Trans. Affective Computing 5(4)), made available under the Open "
    "Database License 1.0 with its contents under the Database Contents License 1.0: credit CREMA-D."
)


class PresetError(UserError):
    """A preset that is unknown, or whose files are missing or not the ones its card names."""


def names() -> list[str]:
    return sorted(d for d in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, d, CARD)))


def folder(name: str) -> str:
    """Where the preset's files are: a shipped preset's folder, or `name` itself where it is a
    folder holding a card (a preset a user trained, `trainers/preset.py`)."""
    if name in names():
        return os.path.join(ROOT, name)
    if os.path.isfile(os.path.join(name, CARD)):
        return name
    raise PresetError(
        f"unknown preset {name!r}; presets: {', '.join(names())} (emorec-predict --list-presets), "
        f"or the folder of one that trainers/preset.py wrote"
    )


# What every card holds and of which type (a preset of `members` holds them in place of `files`),
# and the card format this emorec reads: 2 since presets hold their model's config (`config.json`).
FORMAT = 2
SCHEMA = {
    "format": int,
    "name": str,
    "version": int,
    "title": str,
    "modalities": list,
    "classes": list,
    "inputs": dict,
    "face_pipeline": (dict, type(None)),
    "trained_on": dict,
    "accuracy": dict,
    "licence": str,
}


def card(name: str) -> dict:
    """The preset's card (preset.json), checked against `SCHEMA`: PresetError, in one line naming
    the file, for one that cannot be read, lacks a field or holds one of another type, or is of a
    format this emorec does not read."""
    path = os.path.join(folder(name), CARD)
    try:
        with open(path) as f:
            loaded = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise PresetError(
            f"preset {name}: {path} cannot be read ({e}): write it again with its card's command"
        ) from None
    schema = {**SCHEMA, **({"members": list} if "members" in loaded else {"files": dict})}
    missing = [k for k in schema if k not in loaded]
    missing += [f"accuracy.{k}" for k in ("headline", "protocol") if k not in loaded.get("accuracy", {})]
    if missing:
        raise PresetError(f"preset {name}: {path} lacks {', '.join(missing)}: write it again with its card's command")
    if loaded["format"] != FORMAT:
        raise PresetError(
            f"preset {name}: {path} is of card format {loaded['format']}, this emorec reads format "
            f"{FORMAT}: install the emorec that wrote it, or write it again with its card's command"
        )
    wrong = [f"{k} ({type(loaded[k]).__name__})" for k, kind in schema.items() if not isinstance(loaded[k], kind)]
    if wrong:
        raise PresetError(f"preset {name}: {path} holds {', '.join(wrong)} of another type than a card's")
    return loaded


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:  # in blocks: a preset's cached TFLite is a hundred MB (`emorec.preset_tflite`)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_file(name: str, file: str) -> str:
    """The path of one of the preset's files, its sha256 checked against the card's."""
    files = card(name).get("files", {})
    path = os.path.join(folder(name), file)
    if file not in files:
        raise PresetError(f"preset {name}: its card names no {file}: write it again with its card's command")
    if not os.path.isfile(path):
        raise PresetError(f"preset {name}: {path} is missing: reinstall emorec, or run the command on its card")
    if sha256(path) != files[file]:
        raise PresetError(
            f"preset {name}: {path} has sha256 {sha256(path)}, its card says {files[file]}: the file "
            "is damaged or was changed; reinstall emorec, or retrain it with the card's command"
        )
    return path


def arrays(name: str, file: str) -> dict[str, np.ndarray]:
    """The arrays of the preset's .npz `file`, its sha256 checked against the card."""
    import numpy as np  # here: `emorec-predict --list-presets` reads the cards alone, in a tenth of a second

    with np.load(checked_file(name, file)) as f:
        return {key: f[key] for key in f.files}


def _write(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return sha256(path)


def write_text(path: str, text: str) -> str:
    """Writes `text` (and a final newline); returns its sha256."""
    return _write(path, (text + "\n").encode())


def write_arrays(path: str, arrays: dict[str, np.ndarray]) -> str:
    """Writes `arrays` as an .npz that np.load reads, byte for byte the same for the same arrays
    (np.savez stamps each member with the time); returns its sha256."""
    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                member.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return _write(path, buffer.getvalue())


def write_card(path: str, card: dict) -> None:
    """Writes the card of the preset folder `path` (in this emorec's format), as version 1, or
    as the next version of the preset of that name the folder held; what benchmarks measured of
    an earlier version's exports stays on it."""
    card = {"format": FORMAT, "version": 1, **card}
    previous = os.path.join(path, CARD)
    if os.path.exists(previous):
        with open(previous) as f:
            before = json.load(f)
        card.update({k: v for k, v in before.items() if k == "tflite_int8"})
        if before.get("name") == card["name"] and isinstance(before.get("version"), int):
            card["version"] = before["version"] + 1
    write_text(previous, json.dumps(card, indent=1))


def headline(name: str) -> str:
    """One line: the preset, what it reads, and its measured accuracy with the data it was measured on."""
    c = card(name)
    return f"{name} v{c['version']} ({' + '.join(c['modalities'])}): {c['accuracy']['headline']}"


def listing() -> str:
    """`emorec-predict --list-presets`: each preset, what it reads, and where its accuracy holds
    (its headline: within the corpora it learnt from, and on those it never heard)."""
    lines = []
    for name in names():
        c = card(name)
        default = " (the default)" if name == DEFAULT else ""
        lines.append(
            f"{name}{default}: {c['title']}\n  reads {' + '.join(c['modalities'])}; {c['accuracy']['headline']}"
        )
    return "\n".join(lines)
