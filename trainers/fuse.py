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
import json
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
    def score(weights):
        fused = fuse(probabilities, weights)
        likelihood = np.mean(np.log(fused[np.arange(len(labels)), labels] + 1e-12))
        return np.mean(fused.argmax(1) == labels), likelihood
    candidates = weightings(len(probabilities), step)
    return candidates[max(range(len(candidates)), key=lambda i: score(candidates[i]))]


def summaries(run_dirs: list[str]) -> list[dict]:
    out = []
    for run_dir in run_dirs:
        with open(os.path.join(run_dir, "summary.json")) as f:
            out.append(json.load(f))
    return out


def main(argv):
    run_dirs = [os.path.normpath(r) for r in argv[1:]]
    if len(run_dirs) < 2:
        raise app.UsageError("give two or more run folders to fuse")
    folds = predictions.common_folds(run_dirs)
    runs = summaries(run_dirs)
    classes = runs[0]["classes"]
    class_names = ravdess.class_names(classes)
    names = [os.path.basename(r) for r in run_dirs]
    results = []
    for fold in folds:
        parts = predictions.aligned(run_dirs, fold)
        weights = choose_weights(*parts["validation"][:2], _STEP.value)
        fold_dir = os.path.join(_MODEL_DIR.value, f"fold_{fold}")
        os.makedirs(fold_dir, exist_ok=True)
        fused = {part: (fuse(p, weights), labels, clip_names) for part, (p, labels, clip_names) in parts.items()}
        result = {"fold": fold, "weights": dict(zip(names, weights.tolist()))}
        for part, (probabilities, labels, _) in fused.items():
            summary = metrics.summarize(probabilities, labels, class_names)
            result[part] = {"window": summary, "clip": summary}
        predictions.save(fold_dir, fused)
        with open(os.path.join(fold_dir, "metrics.json"), "w") as f:
            json.dump(result, f, indent=1)
        results.append(result)
        print(f"fold {fold}: weights {result['weights']}, validation {result['validation']['clip']['accuracy']:.3f}, "
              f"test {result['test']['clip']['accuracy']:.3f}")
    summary = {"model": "+".join(names), "config": "+".join(sorted({r["config"] for r in runs})),
               "classes": classes, "folds": len(results), "runs": run_dirs}
    for part in predictions.PARTS:
        summary.update(metrics.over_folds([r[part]["clip"] for r in results], f"{part}_clip"))
    # The fused system costs what its members cost to train.
    summary["train_seconds"] = metrics.mean_and_spread(
        np.sum([r["train_seconds"]["values"] for r in runs], axis=0))
    with open(os.path.join(_MODEL_DIR.value, "summary.json"), "w") as f:
        json.dump({**summary, "per_fold": results}, f, indent=1)
    test = summary["test_clip_accuracy"]
    print(f"fused {' + '.join(names)}: clip-level test accuracy {test['mean']:.3f} ± {test['std']:.3f} "
          f"(UAR {summary['test_clip_uar']['mean']:.3f}) over {len(results)} folds; {_MODEL_DIR.value}")


if __name__ == "__main__":
    app.run(main)
