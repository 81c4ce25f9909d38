"""FER2013 as laid out by ../shared/tools/make-fer2013-faces: FOLDER/{train,test}/EMOTION/*.jpg
(48 x 48 grey) and FOLDER/labels.csv (path, split, emotion, source), emotions in RAVDESS's names.

The challenge's three parts are the `source` column: Training (fit), PublicTest (choose) and
PrivateTest (report once). The file names carry the same prefix, but the column is what the
layout script wrote from the original CSV, so it is the one read here.
"""

from __future__ import annotations

import csv
import os
import pathlib

import cv2
import numpy as np

from emorec.corpora.base import CorpusError

SOURCES = ("Training", "PublicTest", "PrivateTest")
# FER2013's seven expressions in RAVDESS's names, in RAVDESS's order (it has no calm).
CLASSES = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
SIZE = 48


def labels_file(folder: str) -> pathlib.Path:
    """FOLDER/labels.csv; CorpusError, naming it and the layout, where there is none."""
    path = pathlib.Path(folder) / "labels.csv"
    if not path.is_file():
        raise CorpusError(
            f"{path} is not there: FER2013 is read as FOLDER/labels.csv (path, split, emotion, source) and the "
            "48 x 48 JPEGs it names (../shared/tools/make-fer2013-faces lays the Kaggle CSV out so)"
        )
    return path


def read_labels(folder: str) -> dict[str, list[tuple[str, int]]]:
    """{source: [(relative path, class index in CLASSES)]} from FOLDER/labels.csv."""
    parts = {source: [] for source in SOURCES}
    path = labels_file(folder)
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row.get("source") not in parts:
                raise CorpusError(f"{path}:{line}: source {row.get('source')!r} is none of {SOURCES}")
            if row.get("emotion") not in CLASSES:
                raise CorpusError(f"{path}:{line}: emotion {row.get('emotion')!r} is none of {CLASSES}")
            parts[row["source"]].append((row["path"], CLASSES.index(row["emotion"])))
    return parts


def decode(folder: str, paths: list[str]) -> np.ndarray:
    """uint8 [n, 48, 48] grey faces; a file that does not decode to 48 x 48 is named in the error."""
    images = np.empty((len(paths), SIZE, SIZE), np.uint8)
    for i, path in enumerate(paths):
        image = cv2.imread(os.path.join(folder, path), cv2.IMREAD_GRAYSCALE)
        if image is None or image.shape != (SIZE, SIZE):
            raise CorpusError(
                f"{os.path.join(folder, path)}: not a {SIZE} x {SIZE} image "
                f"({'unreadable' if image is None else image.shape}): lay FER2013 out again"
            )
        images[i] = image
    return images


def load(folder: str, cache: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{source: (faces uint8 [n, 48, 48], labels int32 [n])}. With `cache`, the decoded arrays
    are kept in CACHE/fer2013.npz and reread while labels.csv keeps the time and size it had
    (every process then starts in a second, not after 35,887 JPEG decodes)."""
    labels_csv = labels_file(folder)
    stamp = np.array([labels_csv.stat().st_mtime_ns, labels_csv.stat().st_size])
    cached = pathlib.Path(cache) / "fer2013.npz" if cache else None
    if cached and cached.exists():
        with np.load(cached) as arrays:
            if np.array_equal(arrays["labels_csv"], stamp):
                return {s: (arrays[f"{s}_faces"], arrays[f"{s}_labels"]) for s in SOURCES}
    parts = read_labels(folder)
    out = {
        s: (decode(folder, [p for p, _ in rows]), np.array([y for _, y in rows], np.int32)) for s, rows in parts.items()
    }
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial.npz")
        np.savez(
            partial,
            labels_csv=stamp,
            **{f"{s}_{k}": a for s, (f, y) in out.items() for k, a in (("faces", f), ("labels", y))},
        )
        os.replace(partial, cached)
    return out
