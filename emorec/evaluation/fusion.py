"""Late fusion of finished runs on the same folds: a weighted geometric mean of their
per-clip probabilities, the weights chosen per fold on that fold's validation actors.

Per fold, every weighting on a grid over the simplex fuses the validation actors'
probabilities; the one with the highest accuracy (ties: the lower cross-entropy) fuses the
test actors'. Each run's validation probabilities come from its model that learnt from the
training actors only, so the choice never sees a clip it is scored on, and the test actors
are seen by nothing but the final scoring.

The fused run's validation scores are of each validation actor fused with the weights chosen
on the fold's other validation actors. Scored on the clips that chose them, the weights look
better than they are (on real RAVDESS, 0.868 against 0.840 held out for whisper_base with
whisper_tiny_en and two SVMs, whose best member scores 0.849), and a fusion should be taken over its best member only
where the held-out score says so (the command prints which one validation prefers).
"""

from __future__ import annotations

import itertools
import os

import numpy as np
from scipy import special

from emorec import metrics, ravdess
from emorec.evaluation import predictions, runs


def weightings(members: int, step: float) -> np.ndarray:
    """Every weighting of `members` systems with weights in multiples of `step` summing to 1."""
    n = round(1 / step)
    return np.array([c for c in itertools.product(range(n + 1), repeat=members) if sum(c) == n], float) / n


def fuse(probabilities: list[np.ndarray], weights) -> np.ndarray:
    """Normalised weighted geometric mean (a weighted sum of log-probabilities): a system
    sure that a class is wrong can veto it, which the arithmetic mean cannot."""
    return special.softmax(sum(w * np.log(np.clip(p, 1e-7, 1.0)) for w, p in zip(weights, probabilities)), axis=1)


def choose_weights(probabilities: list[np.ndarray], labels: np.ndarray, step: float) -> np.ndarray:
    """The weighting with the best accuracy on these clips, ties to the lower cross-entropy."""
    candidates = weightings(len(probabilities), step)
    return candidates[
        max(
            range(len(candidates)),
            key=lambda i: metrics.accuracy_and_likelihood(fuse(probabilities, candidates[i]), labels),
        )
    ]


def fuse_runs(run_dirs: list[str], model_dir: str, step: float = 0.05) -> tuple[list[dict], dict]:
    """Fuses finished runs into `model_dir`, in their layout; returns the folds' results
    (each with its weights) and the summary."""
    folds = predictions.common_folds(run_dirs)
    members = [runs.read_summary(r, runs.MEMBER) for r in run_dirs]
    class_names = ravdess.class_names(members[0]["classes"])
    names = [os.path.basename(r) for r in run_dirs]
    results = []
    for fold, seconds in zip(folds, runs.member_seconds(members)):
        parts = predictions.aligned(run_dirs, fold)
        weights = choose_weights(*parts["validation"][:2], step)
        validation, labels, clip_names = parts["validation"]
        held_out = predictions.speaker_held_out(
            lambda rows: choose_weights([p[rows] for p in validation], labels[rows], step),
            lambda rows, chosen: fuse([p[rows] for p in validation], chosen),
            predictions.speakers(clip_names),
        )
        fused = {
            "validation": (held_out, labels, clip_names),
            "test": (fuse(parts["test"][0], weights), *parts["test"][1:]),
        }
        member_accuracy = [float(np.mean(p.argmax(1) == labels)) for p in validation]
        result = {
            "fold": fold,
            "weights": dict(zip(names, weights.tolist())),
            "member_validation_accuracy": dict(zip(names, member_accuracy)),
            "train_seconds": seconds,
            **runs.scores(fused, class_names),
        }
        results.append(runs.write_fold(os.path.join(model_dir, f"fold_{fold}"), result, fused))
    config = "+".join(sorted({m["config"] for m in members}))
    return results, runs.write_summary(model_dir, results, "+".join(names), config, members[0]["classes"], run_dirs)
