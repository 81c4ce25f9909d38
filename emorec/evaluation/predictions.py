"""Per-clip class probabilities of a fold's validation and test actors: made from a model's
window outputs, kept beside the fold's metrics so that runs can be centred, fused or
compared clip by clip afterwards without running them again.

    RUN_DIR/fold_K/predictions.npz: {part}_names, {part}_labels, {part}_probabilities
    for part in validation, test.
"""

from __future__ import annotations

import collections
import os
import zipfile

import numpy as np

from emorec import corpora
from emorec.errors import UserError

PARTS = ("validation", "test")
FILE = "predictions.npz"


def predict_clips(model, windows) -> dict:
    """Runs `model` over `windows` (batches of (inputs, labels, clip names), as
    `emorec.data.windows.eval_dataset` makes them); returns window-level and clip-level results.

    Returns {'window': (probabilities [N, C], labels [N]), 'clip': (probabilities [M, C],
    labels [M], names [M])}: a clip's probabilities are the mean of its windows' (per-frame
    models: of all its frames'), its label the clip's.
    """
    probabilities, labels, names = [], [], []
    for inputs, label, name in windows:
        p = model.predict_on_batch(inputs)
        if p.ndim == 3:  # per-frame models: one row per frame
            p, label = p.reshape(-1, p.shape[-1]), np.asarray(label).reshape(-1)
            name = np.repeat(np.asarray(name), p.shape[0] // len(name))
        probabilities.append(np.asarray(p))
        labels.append(np.asarray(label))
        names.append(np.asarray(name))
    probabilities, labels, names = np.concatenate(probabilities), np.concatenate(labels), np.concatenate(names)
    by_clip = collections.defaultdict(list)
    for i, name in enumerate(names):
        by_clip[name].append(i)
    clip_names = sorted(by_clip)
    clip_probabilities = np.stack([probabilities[by_clip[n]].mean(0) for n in clip_names])
    clip_labels = np.array([labels[by_clip[n][0]] for n in clip_names])
    return {"window": (probabilities, labels), "clip": (clip_probabilities, clip_labels, np.array(clip_names))}


def clip_name(name) -> str:
    """A clip's file name without folder or extension, as every run keys its clips."""
    name = name.decode() if isinstance(name, bytes) else str(name)
    return os.path.basename(name).split(".")[0]


def speakers(names) -> np.ndarray:
    """The actor of each clip, from its RAVDESS or CREMA-D name."""
    return np.array([corpora.actor_of(clip_name(n)) for n in names])


def speaker_held_out(choose, apply, speakers: np.ndarray) -> np.ndarray:
    """Probabilities [N, C] for clips by `speakers` [N], each speaker's from a choice made on
    the other speakers' clips: `choose(rows)` chooses on the clips where the mask `rows` is
    true, `apply(rows, choice)` gives those clips' probabilities. A score of these is what the
    choice is worth on a speaker it has not seen, where scoring the clips it was chosen on
    would flatter it."""
    out = None
    for speaker in np.unique(speakers):
        mine = speakers == speaker
        probabilities = apply(mine, choose(~mine))
        if out is None:
            out = np.empty((len(speakers), probabilities.shape[1]), probabilities.dtype)
        out[mine] = probabilities
    return out


def save(fold_dir: str, parts: dict) -> str:
    """parts: {part: (probabilities [N, C], labels [N], names [N])}."""
    arrays = {}
    for part, (probabilities, labels, names) in parts.items():
        arrays[f"{part}_probabilities"] = np.asarray(probabilities, np.float32)
        arrays[f"{part}_labels"] = np.asarray(labels, np.int64)
        arrays[f"{part}_names"] = np.array([clip_name(n) for n in names])
    os.makedirs(fold_dir, exist_ok=True)
    path = os.path.join(fold_dir, FILE)
    np.savez(path, **arrays)
    return path


def load(fold_dir: str) -> dict:
    """{part: (probabilities, labels, names)}, clips sorted by name."""
    path = os.path.join(fold_dir, FILE)
    if not os.path.exists(path):
        raise UserError(
            f"{path} not found: runs write it from this version of trainers.train and "
            "trainers.baseline on; run the fold again"
        )
    try:
        with np.load(path) as f:
            out = {}
            for part in PARTS:
                order = np.argsort(f[f"{part}_names"])
                out[part] = tuple(f[f"{part}_{key}"][order] for key in ("probabilities", "labels", "names"))
            return out
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}): run the fold again") from None


def fold_numbers(run_dir: str) -> list[int]:
    if not os.path.isdir(run_dir):
        raise UserError(f"{run_dir}: no such run folder")
    return sorted(
        int(d.split("_")[1])
        for d in os.listdir(run_dir)
        if d.startswith("fold_") and os.path.exists(os.path.join(run_dir, d, FILE))
    )


def common_folds(run_dirs: list[str]) -> list[int]:
    """The folds every run has predictions for; refuses runs of other folds or unfinished ones."""
    folds = fold_numbers(run_dirs[0])
    for run_dir in run_dirs[1:]:
        if fold_numbers(run_dir) != folds:
            raise UserError(
                f"{run_dir} has predictions for folds {fold_numbers(run_dir)}, {run_dirs[0]} for "
                f"{folds}: use finished runs of the same folds"
            )
    if not folds:
        raise UserError(f"no fold_K/{FILE} in {run_dirs[0]}: is it a finished run?")
    return folds


def aligned(run_dirs: list[str], fold: int) -> dict:
    """{part: ([probabilities per run], labels, names)} for one fold, checked to hold the
    same clips with the same labels in every run."""
    loaded = [load(os.path.join(r, f"fold_{fold}")) for r in run_dirs]
    out = {}
    for part in PARTS:
        _, labels, names = loaded[0][part]
        for run_dir, run in zip(run_dirs[1:], loaded[1:]):
            if not np.array_equal(run[part][2], names) or not np.array_equal(run[part][1], labels):
                differ = sorted(set(run[part][2]) ^ set(names))[:5]
                raise UserError(
                    f"{run_dir}/fold_{fold} and {run_dirs[0]}/fold_{fold} hold different {part} clips "
                    f"or labels (e.g. {differ or 'the same names, other labels'}): use runs made on "
                    "the same folds of the same clips"
                )
        out[part] = ([run[part][0] for run in loaded], labels, names)
    return out
