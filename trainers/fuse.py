"""Late fusion of finished runs on the same folds: a weighted geometric mean of their
per-clip probabilities, the weights chosen per fold on that fold's validation actors.

    python -m trainers.fuse RUN_DIR RUN_DIR [...] --model_dir=runs/fusion

Reads each run's fold_K/predictions.npz (trainers.train and trainers.baseline write them).
Per fold, every weighting on a grid over the simplex (steps of --step) fuses the validation
actors' probabilities; the one with the highest accuracy (ties: the lower cross-entropy)
fuses the test actors'. Each run's validation probabilities come from its model that learnt
from the training actors only, so the choice never sees a clip it is scored on, and the
test actors are seen by nothing but the final scoring. Writes fold_K/predictions.npz and
metrics.json, and summary.json in trainers.train's format (trainers.compare tables it).
"""
from __future__ import annotations

import itertools
import os

from absl import app, flags

import numpy as np

from emorec import metrics, ravdess
from trainers import predictions

_MODEL_DIR = flags.DEFINE_string("model_dir", "runs/fusion", "Where the fused run goes.")
_STEP = flags.DEFINE_float("step", 0.05, "Grid step of the weights (they sum to 1).")


def weightings(runs: int, step: float) -> np.ndarray:
    """Every weighting of `runs` systems with weights in multiples of `step` summing to 1."""
    n = round(1 / step)
    return np.array([c for c in itertools.product(range(n + 1), repeat=runs) if sum(c) == n], float) / n


def fuse(probabilities: list[np.ndarray], weights) -> np.ndarray:
    """Normalised weighted geometric mean (a weighted sum of log-probabilities): a system
    sure that a class is wrong can veto it, which the arithmetic mean cannot."""
    logits = sum(w * np.log(np.clip(p, 1e-7, 1.0)) for w, p in zip(weights, probabilities))
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def choose_weights(probabilities: list[np.ndarray], labels: np.ndarray, step: float) -> np.ndarray:
    """The weighting with the best accuracy on these clips, ties to the lower cross-entropy."""
    candidates = weightings(len(probabilities), step)
    return candidates[max(range(len(candidates)),
                          key=lambda i: metrics.accuracy_and_likelihood(fuse(probabilities, candidates[i]), labels))]


def main(argv):
    run_dirs = [os.path.normpath(r) for r in argv[1:]]
    if len(run_dirs) < 2:
        raise app.UsageError("give two or more run folders to fuse")
    folds = predictions.common_folds(run_dirs)
    class_names = ravdess.class_names(predictions.summary(run_dirs[0])["classes"])
    names = [os.path.basename(r) for r in run_dirs]
    results = []
    for fold in folds:
        parts = predictions.aligned(run_dirs, fold)
        weights = choose_weights(*parts["validation"][:2], _STEP.value)
        fused = {part: (fuse(p, weights), labels, clip_names) for part, (p, labels, clip_names) in parts.items()}
        result = predictions.write_fold(os.path.join(_MODEL_DIR.value, f"fold_{fold}"), fused, class_names,
                                        {"fold": fold, "weights": dict(zip(names, weights.tolist()))})
        results.append(result)
        print(f"fold {fold}: weights {result['weights']}, validation {result['validation']['clip']['accuracy']:.3f}, "
              f"test {result['test']['clip']['accuracy']:.3f}")
    summary = predictions.write_summary(_MODEL_DIR.value, results, run_dirs, "+".join(names))
    test = summary["test_clip_accuracy"]
    print(f"fused {' + '.join(names)}: clip-level test accuracy {test['mean']:.3f} ± {test['std']:.3f} "
          f"(UAR {summary['test_clip_uar']['mean']:.3f}) over {len(results)} folds; {_MODEL_DIR.value}")


if __name__ == "__main__":
    app.run(main)
