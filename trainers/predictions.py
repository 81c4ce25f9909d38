"""Per-clip class probabilities of a fold's validation and test actors, kept beside its
metrics so that runs can be fused (trainers.fuse), centred per speaker (trainers.centre) or
compared clip by clip (trainers.paired) afterwards without running them again; and the
writing of a run derived from others in trainers.train's layout.

    RUN_DIR/fold_K/predictions.npz: {part}_names, {part}_labels, {part}_probabilities
    for part in validation, test.
"""
from __future__ import annotations

import json
import os

import numpy as np

from emorec import metrics, ravdess

PARTS = ("validation", "test")
FILE = "predictions.npz"


def clip_name(name) -> str:
    """A clip's RAVDESS name without folder or extension, as every run keys its clips."""
    name = name.decode() if isinstance(name, bytes) else str(name)
    return os.path.basename(name).split(".")[0]


def speakers(names) -> np.ndarray:
    """The actor of each clip, from its RAVDESS name."""
    return np.array([ravdess.parse(clip_name(n)).actor for n in names])


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


def fold_numbers(run_dir: str) -> list[int]:
    return sorted(int(d.split("_")[1]) for d in os.listdir(run_dir)
                  if d.startswith("fold_") and os.path.exists(os.path.join(run_dir, d, FILE)))


def common_folds(run_dirs: list[str]) -> list[int]:
    """The folds every run has predictions for; refuses runs of other folds or unfinished ones."""
    folds = fold_numbers(run_dirs[0])
    for run_dir in run_dirs[1:]:
        if fold_numbers(run_dir) != folds:
            raise ValueError(f"{run_dir} has predictions for folds {fold_numbers(run_dir)}, {run_dirs[0]} for "
                             f"{folds}: use finished runs of the same folds")
    if not folds:
        raise FileNotFoundError(f"no fold_K/{FILE} in {run_dirs[0]}: is it a finished run?")
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
                raise ValueError(f"{run_dir}/fold_{fold} and {run_dirs[0]}/fold_{fold} hold different {part} clips "
                                 f"or labels (e.g. {differ or 'the same names, other labels'}): use runs made on "
                                 "the same folds of the same clips")
        out[part] = ([run[part][0] for run in loaded], labels, names)
    return out


def summary(run_dir: str) -> dict:
    """A finished run's summary.json."""
    path = os.path.join(run_dir, "summary.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {run_dir!r} a finished run of trainers.train, "
                                "trainers.baseline, trainers.fuse or trainers.centre?")
    with open(path) as f:
        return json.load(f)


def write_fold(fold_dir: str, parts: dict, class_names, result: dict) -> dict:
    """Saves a derived fold's predictions, and metrics.json: `result` (what was chosen)
    with each part's clip-level metrics added."""
    os.makedirs(fold_dir, exist_ok=True)
    for part, (probabilities, labels, _) in parts.items():
        scores = metrics.summarize(probabilities, labels, class_names)
        result[part] = {"window": scores, "clip": scores}
    save(fold_dir, parts)
    with open(os.path.join(fold_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def write_summary(model_dir: str, results: list[dict], run_dirs: list[str], model: str) -> dict:
    """summary.json of a run derived from `run_dirs`, in trainers.train's format (so that
    trainers.compare tables it); it costs what its members cost to train."""
    members = [summary(r) for r in run_dirs]
    out = {"model": model, "config": "+".join(sorted({m["config"] for m in members})),
           "classes": members[0]["classes"], "folds": len(results), "runs": run_dirs}
    for part in PARTS:
        out.update(metrics.over_folds([r[part]["clip"] for r in results], f"{part}_clip"))
    out["train_seconds"] = metrics.mean_and_spread(np.sum([m["train_seconds"]["values"] for m in members], axis=0))
    with open(os.path.join(model_dir, "summary.json"), "w") as f:
        json.dump({**out, "per_fold": results}, f, indent=1)
    return out
