"""Per-clip class probabilities of a fold's validation and test actors, kept beside its
metrics so that runs can be fused afterwards (trainers.fuse) without running them again.

    RUN_DIR/fold_K/predictions.npz: {part}_names, {part}_labels, {part}_probabilities
    for part in validation, test.
"""
from __future__ import annotations

import os

import numpy as np

PARTS = ("validation", "test")
FILE = "predictions.npz"


def clip_name(name) -> str:
    """A clip's RAVDESS name without folder or extension, as every run keys its clips."""
    name = name.decode() if isinstance(name, bytes) else str(name)
    return os.path.basename(name).split(".")[0]


def save(fold_dir: str, parts: dict) -> str:
    """parts: {part: (probabilities [N, C], labels [N], names [N])}."""
    arrays = {}
    for part, (probabilities, labels, names) in parts.items():
        arrays[f"{part}_probabilities"] = np.asarray(probabilities, np.float32)
        arrays[f"{part}_labels"] = np.asarray(labels, np.int64)
        arrays[f"{part}_names"] = np.array([clip_name(n) for n in names])
    path = os.path.join(fold_dir, FILE)
    np.savez(path, **arrays)
    return path


def load(fold_dir: str) -> dict:
    """{part: (probabilities, labels, names)}, clips sorted by name."""
    path = os.path.join(fold_dir, FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: runs write it from this version of trainers.train and "
                                "trainers.baseline on; run the fold again")
    with np.load(path) as f:
        out = {}
        for part in PARTS:
            order = np.argsort(f[f"{part}_names"])
            out[part] = tuple(f[f"{part}_{key}"][order] for key in ("probabilities", "labels", "names"))
        return out
